package vocab

import "testing"

func TestLookupRoundTrip(t *testing.T) {
	l := &Lookup{ids: map[string]int{"a": 0}}
	if l.ID("a") != 0 {
		t.Fatal("round trip")
	}
}

func TestUnknownTokenMapsToUnk(t *testing.T) {
	l := &Lookup{ids: map[string]int{}, UnkID: 7}
	if l.ID("zzz") != 7 {
		t.Fatal("unk")
	}
}
