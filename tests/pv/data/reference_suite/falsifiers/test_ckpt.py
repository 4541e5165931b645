"""Checkpoint header tests of the example suite (the pytest side of its bindings)."""


def test_header_roundtrip():
    assert int.from_bytes((7).to_bytes(4, "little"), "little") == 7


def test_count_matches():
    assert len([b"a", b"b", b"c"]) == 3
