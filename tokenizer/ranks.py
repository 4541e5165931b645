"""tiktoken rank files: parsing (untrusted input) and deriving the BPE merge list from ranks.

A rank file lists ``base64(token_bytes) rank`` per line; it has no merges. HF's BPE needs merges,
so each multi-byte token's merge is recovered by running byte-pair encoding on its own bytes with
only lower-ranked tokens allowed: a genuine BPE vocabulary ends in exactly two parts, and those two
parts are the merge. Anything else means the file is not a BPE rank table and is rejected.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from pathlib import Path

from safeio import NotRegularFileError, read_regular_bytes
from tokenizer.errors import TokenizeError


def parse_tiktoken_ranks(data: bytes, source: str) -> dict[bytes, int]:
    ranks: dict[bytes, int] = {}
    seen_ranks: dict[int, int] = {}
    for lineno, raw in enumerate(data.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        fields = line.split()
        where = f"{source}:{lineno}"
        if len(fields) != 2:
            raise TokenizeError(
                f"expected `<base64 token> <rank>`, found {len(fields)} field(s)",
                where=where,
                fix="a tiktoken rank file has exactly two space-separated fields per line",
            )
        try:
            token = base64.b64decode(fields[0], validate=True)
        except (binascii.Error, ValueError):
            raise TokenizeError(
                f"token field {fields[0][:40].decode('utf-8', 'replace')!r} is not valid base64", where=where,
                fix="this does not look like a tiktoken rank file (vocab.json/merges.txt need import-hf)",
            ) from None
        try:
            rank = int(fields[1])
        except ValueError:
            shown = fields[1][:40].decode("utf-8", "replace")
            raise TokenizeError(f"rank {shown!r} is not an integer", where=where) from None
        if not token:
            raise TokenizeError("empty token", where=where)
        if rank < 0:
            raise TokenizeError(f"negative rank {rank}", where=where)
        if token in ranks:
            raise TokenizeError(f"token {token!r} repeated (first at rank {ranks[token]})", where=where)
        if rank in seen_ranks:
            raise TokenizeError(f"rank {rank} repeated (first on line {seen_ranks[rank]})", where=where)
        ranks[token] = rank
        seen_ranks[rank] = lineno
    if not ranks:
        raise TokenizeError("rank file is empty", where=source)
    return ranks


def read_ranks_file(path: Path) -> bytes:
    """The rank file's bytes; a FIFO or device is refused by name (safeio), never read."""
    try:
        return read_regular_bytes(path)
    except NotRegularFileError:
        raise
    except OSError as exc:
        raise TokenizeError(f"cannot read rank file: {exc.strerror}", where=str(path)) from None



def check_byte_level(ranks: dict[bytes, int], source: str) -> None:
    """Byte-level BPE must be able to spell every byte; otherwise some text has no encoding at all."""
    missing = [b for b in range(256) if bytes([b]) not in ranks]
    if missing:
        shown = ", ".join(f"0x{b:02x}" for b in missing[:8])
        raise TokenizeError(
            f"{len(missing)} of the 256 single-byte tokens are missing ({shown}…)",
            where=source,
            fix="only byte-level BPE vocabularies are supported; check the file is the full rank table",
        )
    ids = sorted(ranks.values())
    if ids[-1] != len(ids) - 1:
        raise TokenizeError(
            f"ranks are not contiguous: {len(ids)} tokens but the largest rank is {ids[-1]}",
            where=source,
            fix="token ids must be 0..N-1 so the vocabulary size bounds every id",
        )


def bpe_split(token: bytes, rank: int, ranks: dict[bytes, int]) -> list[bytes]:
    """Byte-pair encode ``token`` using only tokens ranked below ``rank`` (tiktoken's merge rule)."""
    if len(token) == 2:
        return [token[:1], token[1:]]
    parts = [token[i : i + 1] for i in range(len(token))]
    get = ranks.get
    while len(parts) > 1:
        best = rank
        best_i = -1
        for i in range(len(parts) - 1):
            r = get(parts[i] + parts[i + 1])
            if r is not None and r < best:
                best = r
                best_i = i
        if best_i < 0:
            break
        parts[best_i : best_i + 2] = [parts[best_i] + parts[best_i + 1]]
    return parts


def iter_merges(ranks: dict[bytes, int], source: str = "ranks") -> Iterator[tuple[bytes, bytes]]:
    """One merge per multi-byte token, in rank order (= merge priority); lazily, so a comparison
    against another merge list can stop at the first difference."""
    for token, rank in sorted(ranks.items(), key=lambda kv: kv[1]):
        if len(token) == 1:
            continue
        parts = bpe_split(token, rank, ranks)
        if len(parts) != 2:
            raise TokenizeError(
                f"token of rank {rank} ({token!r}) cannot be built by merging two lower-ranked tokens "
                f"(byte-pair encoding stops at {len(parts)} parts)",
                where=source,
                fix="this is not a BPE rank table (or its ranks were reordered); re-export it from the tokenizer",
            )
        yield parts[0], parts[1]


def derive_merges(ranks: dict[bytes, int], source: str = "ranks") -> list[tuple[bytes, bytes]]:
    return list(iter_merges(ranks, source))
