package vocab

// Lookup maps tokens to ids; unknown tokens map to UnkID.
type Lookup struct {
	ids   map[string]int
	UnkID int
}

func (l *Lookup) ID(token string) int {
	if id, ok := l.ids[token]; ok {
		return id
	}
	return l.UnkID
}
