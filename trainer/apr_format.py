"""The ``.apr`` v2.0 checkpoint format: pickle-free, memory-mappable, CRC-checked.

Layout (all integers little-endian)::

    offset 0   header, 64 bytes
                 0  magic        4s   b"APR\\0"
                 4  major        u16  2
                 6  minor        u16  0
                 8  flags        u32  bit 0: lm_head tied to embed_tokens (not stored)
                12  n_tensors    u32
                16  meta_off     u64  JSON metadata (UTF-8)
                24  meta_size    u64
                32  index_off    u64  JSON tensor index (UTF-8)
                40  index_size   u64
                48  data_off     u64  first tensor byte; 64-byte aligned
                56  reserved     u32  0
                60  header_crc   u32  CRC32 of bytes 0..59
    meta_off    metadata JSON   {architecture, vocab_size, ..., param_count, provenance}
    index_off   index JSON      [{name, dtype, shape, offset, size, crc32}], offset relative to data_off
    data_off    tensor bytes, each tensor starting on a 64-byte boundary, zero padding between
    EOF-8       footer, 8 bytes: b"APRE" + u32 CRC32 of every byte before the footer

Why these choices: a checkpoint is untrusted input, so it is parsed, never unpickled; both CRCs
plus per-tensor CRCs let a truncated or bit-flipped file fail with the location of the damage;
64-byte alignment lets tensors be viewed straight out of an mmap. Writes go to a temp file that is
fsynced and renamed, so a crash never leaves a half-written file under the final name.
"""

from __future__ import annotations

import contextlib
import json
import math
import mmap
import os
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from safeio import AtomicFile, JSONInputError, JSONLimits, NotRegularFileError, loads_json, open_regular
from trainer.errors import TrainerInputError

if TYPE_CHECKING:
    import torch

MAGIC = b"APR\x00"
MAGIC_V1 = b"APRN"
FOOTER_MAGIC = b"APRE"
VERSION = (2, 0)
HEADER_SIZE = 64
FOOTER_SIZE = 8
ALIGN = 64
FLAG_TIED_EMBEDDINGS = 1
_HEADER = struct.Struct("<4sHHIIQQQQQI")  # 60 bytes, then the u32 CRC
_FOOTER = struct.Struct("<4sI")

#: Metadata keys every checkpoint must carry (the contract's list).
REQUIRED_METADATA = (
    "architecture",
    "vocab_size",
    "hidden_size",
    "num_layers",
    "num_heads",
    "num_kv_heads",
    "intermediate_size",
    "max_position_embeddings",
    "rope_theta",
    "rms_norm_eps",
    "tie_word_embeddings",
    "param_count",
    "provenance",
)

_DTYPE_SIZES = {"F32": 4, "F16": 2, "BF16": 2, "F64": 8, "I64": 8, "I32": 4, "U8": 1}

#: Bounds a reader applies before trusting the header or the index (a checkpoint is untrusted input).
#: Real metadata is about a kilobyte and an index about 150 bytes per tensor.
MAX_METADATA_BYTES = 16 << 20
MAX_INDEX_BYTES = 256 << 20
MAX_NDIM = 8
#: Product of a shape's extents with zeros counted as 1: a zero-extent tensor still gets strides,
#: so ``[0, 2**62, 2**62]`` must be refused even though it holds no bytes.
MAX_EXTENT_PRODUCT = 1 << 48
_JSON_LIMITS = JSONLimits(max_bytes=MAX_INDEX_BYTES)


class AprFormatError(TrainerInputError):
    """The file is not a valid .apr checkpoint; the message says where it broke."""


@dataclass(frozen=True)
class TensorEntry:
    name: str
    dtype: str
    shape: tuple[int, ...]
    offset: int
    size: int
    crc32: int


@dataclass(frozen=True)
class AprHeader:
    version: tuple[int, int]
    flags: int
    n_tensors: int
    meta_off: int
    meta_size: int
    index_off: int
    index_size: int
    data_off: int


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def _torch_dtype_name(t: torch.Tensor) -> str:
    import torch

    names = {
        torch.float32: "F32",
        torch.float16: "F16",
        torch.bfloat16: "BF16",
        torch.float64: "F64",
        torch.int64: "I64",
        torch.int32: "I32",
        torch.uint8: "U8",
    }
    if t.dtype not in names:
        raise AprFormatError(f"dtype {t.dtype} cannot be stored in .apr")
    return names[t.dtype]


def _tensor_bytes(t: torch.Tensor) -> bytes:
    import torch

    t = t.detach().to("cpu").contiguous()
    return t.view(torch.uint8).numpy().tobytes() if t.numel() else b""


def write_apr(
    path: str | Path,
    tensors: Mapping[str, torch.Tensor],
    metadata: Mapping[str, Any],
    *,
    flags: int = 0,
) -> Path:
    """Write tensors + metadata atomically (temp file in the same directory, fsync, rename)."""
    missing = [k for k in REQUIRED_METADATA if k not in metadata]
    if missing:
        raise AprFormatError(f"metadata is missing required keys: {', '.join(missing)}")
    if metadata.get("tie_word_embeddings"):
        flags |= FLAG_TIED_EMBEDDINGS
    path = Path(path)
    blobs: list[bytes] = []
    index: list[dict[str, Any]] = []
    rel = 0
    for name, t in tensors.items():
        blob = _tensor_bytes(t)
        rel = _align(rel)
        index.append(
            {
                "name": name,
                "dtype": _torch_dtype_name(t),
                "shape": list(t.shape),
                "offset": rel,
                "size": len(blob),
                "crc32": zlib.crc32(blob),
            }
        )
        blobs.append(blob)
        rel += len(blob)
    try:  # what the reader would refuse is never written: no NaN/Infinity in metadata
        meta_bytes = json.dumps(dict(metadata), sort_keys=True, separators=(",", ":"), allow_nan=False).encode()
    except ValueError as exc:
        raise AprFormatError(f"metadata cannot be written: {exc}") from None
    index_bytes = json.dumps(index, separators=(",", ":")).encode()
    meta_off = HEADER_SIZE
    index_off = meta_off + len(meta_bytes)
    data_off = _align(index_off + len(index_bytes))
    head = _HEADER.pack(
        MAGIC, *VERSION, flags, len(index), meta_off, len(meta_bytes), index_off, len(index_bytes), data_off, 0
    )
    head += struct.pack("<I", zlib.crc32(head))
    path.parent.mkdir(parents=True, exist_ok=True)
    # safeio.AtomicFile: temp file beside the target with the permissions open() gives under the umask
    # (mkstemp's 0600 locked collaborators on a shared filesystem out of every checkpoint), fsync, rename.
    with AtomicFile(path) as fh:
        crc = 0

        def emit(b: bytes) -> None:
            nonlocal crc
            fh.write(b)
            crc = zlib.crc32(b, crc)

        emit(head)
        emit(meta_bytes)
        emit(index_bytes)
        emit(b"\0" * (data_off - index_off - len(index_bytes)))
        pos = 0
        for entry, blob in zip(index, blobs, strict=True):
            emit(b"\0" * (entry["offset"] - pos))
            emit(blob)
            pos = entry["offset"] + len(blob)
        fh.write(_FOOTER.pack(FOOTER_MAGIC, crc))
    return path


def _parse_header(buf: bytes | mmap.mmap, path: Path, file_size: int) -> AprHeader:
    if file_size < HEADER_SIZE + FOOTER_SIZE:
        raise AprFormatError(f"{path}: {file_size} bytes is too short for an .apr file (truncated?)")
    magic = bytes(buf[:4])
    if magic == MAGIC_V1:
        raise AprFormatError(f"{path}: APR v1 (APRN) files are not readable by this version; re-export as v2")
    if magic != MAGIC:
        raise AprFormatError(f"{path}: bad magic {magic!r}, expected {MAGIC!r} (not an .apr file)")
    raw = bytes(buf[:HEADER_SIZE])
    (stored_crc,) = struct.unpack("<I", raw[60:64])
    if zlib.crc32(raw[:60]) != stored_crc:
        raise AprFormatError(f"{path}: header CRC mismatch (header bytes 0..59 are corrupted)")
    _, major, minor, flags, n, meta_off, meta_size, index_off, index_size, data_off, _ = _HEADER.unpack(raw[:60])
    if (major, minor) != VERSION:
        raise AprFormatError(f"{path}: unsupported .apr version {major}.{minor}, expected 2.0")
    end = file_size - FOOTER_SIZE
    if not (meta_off + meta_size <= end and index_off + index_size <= end and data_off <= end):
        raise AprFormatError(f"{path}: header offsets point past the end of the file (truncated?)")
    if meta_size > MAX_METADATA_BYTES or index_size > MAX_INDEX_BYTES:
        raise AprFormatError(
            f"{path}: header declares {meta_size:,} bytes of metadata and {index_size:,} bytes of tensor index; "
            f"the limits are {MAX_METADATA_BYTES:,} and {MAX_INDEX_BYTES:,} (a corrupt or crafted header)"
        )
    return AprHeader((major, minor), flags, n, meta_off, meta_size, index_off, index_size, data_off)


def _index_int(value: Any) -> int:
    """An index integer exactly as JSON states it: no floats (2.5, Infinity), strings or booleans."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer, got {value!r}")
    return value


class AprFile:
    """A memory-mapped .apr checkpoint. Use as a context manager; tensors are copied out on request."""

    def __init__(self, path: str | Path, *, verify: bool = True) -> None:
        self.path = Path(path)
        try:
            self._fh = open_regular(self.path)  # a FIFO or /dev/zero is refused by name, never read
        except NotRegularFileError as exc:
            raise AprFormatError(str(exc)) from None
        except OSError as exc:
            raise AprFormatError(f"{self.path}: cannot open: {exc.strerror or exc}") from None
        try:
            size = os.fstat(self._fh.fileno()).st_size
            if size == 0:
                raise AprFormatError(f"{self.path}: empty file")
            self._mm = mmap.mmap(self._fh.fileno(), 0, access=mmap.ACCESS_COPY)
            self.header = _parse_header(self._mm, self.path, size)
            self._size = size
            if verify:
                self.verify_file_crc()
            self.metadata = self._json(self.header.meta_off, self.header.meta_size, "metadata")
            if not isinstance(self.metadata, dict):
                raise AprFormatError(f"{self.path}: metadata is not a JSON object")
            raw_index = self._json(self.header.index_off, self.header.index_size, "tensor index")
            self.index = self._parse_index(raw_index)
        except BaseException:
            self.close()
            raise

    def _json(self, off: int, size: int, what: str) -> Any:
        try:
            return loads_json(bytes(self._mm[off : off + size]), f"{self.path} ({what})", _JSON_LIMITS)
        except JSONInputError as exc:
            raise AprFormatError(str(exc).split("\n")[0] + " (the checkpoint is corrupt or was not written by apr)") \
                from None

    def _parse_index(self, raw: Any) -> dict[str, TensorEntry]:
        if not isinstance(raw, list) or len(raw) != self.header.n_tensors:
            raise AprFormatError(f"{self.path}: tensor index does not list {self.header.n_tensors} tensors")
        out: dict[str, TensorEntry] = {}
        data_end = self._size - FOOTER_SIZE
        for i, item in enumerate(raw):
            try:
                if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"] \
                        or not isinstance(item.get("dtype"), str) or not isinstance(item.get("shape"), list):
                    raise ValueError("needs a non-empty string name, a string dtype and a list shape")
                e = TensorEntry(
                    item["name"],
                    item["dtype"],
                    tuple(_index_int(d) for d in item["shape"]),
                    _index_int(item["offset"]),
                    _index_int(item["size"]),
                    _index_int(item["crc32"]),
                )
                if e.offset < 0 or e.size < 0 or any(d < 0 for d in e.shape):
                    raise ValueError("offset, size and every extent must be >= 0")
            except (KeyError, TypeError, ValueError) as exc:
                raise AprFormatError(f"{self.path}: malformed tensor index entry #{i} {str(item)[:200]!r}: {exc}") \
                    from None
            if e.name in out:
                raise AprFormatError(f"{self.path}: tensor {e.name} is listed twice in the index")
            if e.dtype not in _DTYPE_SIZES:
                raise AprFormatError(f"{self.path}: tensor {e.name}: unknown dtype {e.dtype}")
            if len(e.shape) > MAX_NDIM or math.prod(max(d, 1) for d in e.shape) > MAX_EXTENT_PRODUCT:
                raise AprFormatError(
                    f"{self.path}: tensor {e.name}: shape {list(e.shape)} is beyond any model tensor (at most "
                    f"{MAX_NDIM} dimensions whose nonzero extents multiply to at most 2**48)"
                )
            if math.prod(e.shape) * _DTYPE_SIZES[e.dtype] != e.size:
                raise AprFormatError(f"{self.path}: tensor {e.name}: size {e.size} does not match shape {e.shape}")
            if self.header.data_off + e.offset + e.size > data_end:
                raise AprFormatError(f"{self.path}: tensor {e.name} extends past the data section (truncated?)")
            out[e.name] = e
        return out

    def verify_file_crc(self) -> None:
        end = self._size - FOOTER_SIZE
        magic, stored = _FOOTER.unpack(bytes(self._mm[end:]))
        if magic != FOOTER_MAGIC:
            raise AprFormatError(f"{self.path}: footer magic missing (file truncated or appended to)")
        crc, step = 0, 64 * 1024 * 1024
        for start in range(0, end, step):
            crc = zlib.crc32(self._mm[start : min(end, start + step)], crc)
        if crc != stored:
            raise AprFormatError(f"{self.path}: file CRC mismatch (corrupted content)")

    def tensor(self, name: str, *, verify: bool = True) -> torch.Tensor:
        import torch

        if name not in self.index:
            raise KeyError(f"{self.path}: no tensor named {name!r}")
        e = self.index[name]
        start = self.header.data_off + e.offset
        view = memoryview(self._mm)[start : start + e.size]
        if verify and zlib.crc32(view) != e.crc32:
            raise AprFormatError(f"{self.path}: tensor {name} CRC mismatch (corrupted data)")
        dtype = {
            "F32": torch.float32,
            "F16": torch.float16,
            "BF16": torch.bfloat16,
            "F64": torch.float64,
            "I64": torch.int64,
            "I32": torch.int32,
            "U8": torch.uint8,
        }[e.dtype]
        if e.size == 0:
            return torch.empty(e.shape, dtype=dtype)
        return torch.frombuffer(view, dtype=dtype).reshape(e.shape).clone()

    def tensors(self) -> dict[str, torch.Tensor]:
        return {name: self.tensor(name) for name in self.index}

    def close(self) -> None:
        mm = getattr(self, "_mm", None)
        if mm is not None:
            with contextlib.suppress(BufferError):  # a live memoryview; the OS reclaims it with the process
                mm.close()
        self._fh.close()

    def __enter__(self) -> AprFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_apr(path: str | Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Read metadata and all tensors, verifying every CRC."""
    with AprFile(path) as f:
        return f.metadata, f.tensors()


def read_apr_metadata(path: str | Path) -> dict[str, Any]:
    """Metadata only; checks the header CRC but skips the full-file CRC (cheap, for config building)."""
    with AprFile(path, verify=False) as f:
        return dict(f.metadata)


def describe(path: str | Path) -> dict[str, Any]:
    """Header, metadata and tensor table as plain JSON-able data (for ``apr inspect``)."""
    with AprFile(path) as f:
        h = f.header
        return {
            "path": str(f.path),
            "file_size": f._size,
            "header": {
                "magic": MAGIC.decode("latin-1").replace("\x00", "\\0"),
                "version": f"{h.version[0]}.{h.version[1]}",
                "flags": h.flags,
                "tied_embeddings": bool(h.flags & FLAG_TIED_EMBEDDINGS),
                "n_tensors": h.n_tensors,
                "metadata_offset": h.meta_off,
                "metadata_size": h.meta_size,
                "tensor_index_offset": h.index_off,
                "tensor_index_size": h.index_size,
                "data_offset": h.data_off,
            },
            "crc": "verified",
            "metadata": f.metadata,
            "tensors": [
                {"name": e.name, "dtype": e.dtype, "shape": list(e.shape), "offset": e.offset, "size": e.size}
                for e in f.index.values()
            ],
        }
