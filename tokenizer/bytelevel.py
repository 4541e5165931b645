"""GPT-2 byte-level alphabet: how 256 raw bytes are spelled as printable characters in vocab.json.

HF byte-level BPE vocabularies store ``b" the"`` as ``"Ġthe"``; tiktoken rank files store raw bytes.
Converting between the two is the only place the formats can silently disagree, so it lives here alone.
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def byte_encoder() -> dict[int, str]:
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    mapping = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in mapping:
            mapping[b] = chr(256 + extra)
            extra += 1
    return mapping


@lru_cache(maxsize=1)
def byte_decoder() -> dict[str, int]:
    return {ch: b for b, ch in byte_encoder().items()}


def bytes_to_token(data: bytes) -> str:
    # latin-1 maps each byte to the code point of the same value; translate spells it in the alphabet
    return data.decode("latin-1").translate(byte_encoder())


@lru_cache(maxsize=1)
def _decode_table() -> dict[int, int]:
    # Alphabet characters map to the code point equal to their byte; other characters below U+0200
    # (e.g. a raw space, which the alphabet spells 'Ġ') map to a sentinel that latin-1 cannot encode.
    table = {cp: 0xFFFF for cp in range(0x200)}
    table.update({ord(ch): b for ch, b in byte_decoder().items()})
    return table


def token_to_bytes(token: str) -> bytes | None:
    """Raw bytes of a byte-level token, or None when it uses characters outside the alphabet."""
    try:
        return token.translate(_decode_table()).encode("latin-1")
    except UnicodeEncodeError:
        return None

