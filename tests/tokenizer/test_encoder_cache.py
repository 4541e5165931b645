"""The verified-encoder cache: written by the import, equal to a full load, HF never loaded on the cached path,
an unwritable directory and concurrent writers. (Tampering: falsifiers/test_tokenize_encoder_cache.py.)"""

from __future__ import annotations

import hashlib
import multiprocessing
import subprocess
import sys
from pathlib import Path

import pytest

from tokenizer.encode import encode_corpus
from tokenizer.encoder_cache import CACHE_DIR, entry_path, load_entry, store_entry
from tokenizer.loader import load_tokenizer
from tokenizer.manifest import deterministic_view, read_manifest
from tokenizer.options import EncodeOptions
from tokenizer.testing import cache_entry_file, make_small_tokenizer, stdlib_documents, write_jsonl


@pytest.fixture
def tok_dir(tmp_path: Path) -> Path:
    make_small_tokenizer(tmp_path / "base", 2048)
    return tmp_path / "base" / "tok"


def test_the_import_writes_an_entry_equal_to_a_full_load(tok_dir: Path) -> None:
    sha = hashlib.sha256((tok_dir / "tokenizer.json").read_bytes()).hexdigest()
    assert cache_entry_file(tok_dir) == entry_path(tok_dir, sha)
    cached, full = load_tokenizer(tok_dir), load_tokenizer(tok_dir, use_cache=False)
    assert cached.cache_verified and not full.cache_verified
    assert "definition" not in cached.__dict__  # tokenizer.json was not parsed
    assert cached.fast == full.fast and cached.summary == full.summary and cached.warnings == full.warnings
    for name in ("<|endoftext|>", "Ġthe", "the", "nope"):
        assert cached.token_id(name) == full.token_id(name), name


def _encode(tok_dir: Path, corpus: Path, out: Path, **kw: object) -> str:
    opts = EncodeOptions(corpus=corpus, tokenizer=tok_dir, output=out, progress="none", durable=False, **kw)  # type: ignore[arg-type]
    return encode_corpus(opts).run.engine_check


def test_a_cached_run_equals_a_verified_run_and_says_so(tok_dir: Path, tmp_path: Path) -> None:
    corpus = write_jsonl(tmp_path / "c.jsonl", [t for _, t in stdlib_documents(40_000, start=7)])
    why = _encode(tok_dir, corpus, tmp_path / "cached")
    assert why.startswith("tiktoken: equivalence to HF tokenizers cached")
    full = _encode(tok_dir, corpus, tmp_path / "full", verify_engine=True)
    assert full.startswith("tiktoken: merges equal the rank order") and "corpus documents" in full
    views = [deterministic_view(read_manifest(tmp_path / d)) for d in ("cached", "full")]
    assert views[0] == views[1]


def test_the_cached_path_never_loads_hf_tokenizers(tok_dir: Path, tmp_path: Path) -> None:
    corpus = write_jsonl(tmp_path / "c.jsonl", ["hello world"] * 3)
    code = (
        "import sys\n"
        "from tokenizer.encode import encode_corpus\nfrom tokenizer.options import EncodeOptions\n"
        f"encode_corpus(EncodeOptions(corpus={str(corpus)!r}, tokenizer={str(tok_dir)!r}, "
        f"output={str(tmp_path / 'o')!r}, progress='none'))\n"
        "print('tokenizers' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_an_unwritable_tokenizer_directory_still_works(tok_dir: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    from tokenizer import encoder_cache

    def read_only(*_args: object, **_kw: object) -> None:  # what a read-only mount does (tests run as root)
        raise PermissionError(errno.EROFS, "Read-only file system")

    cache_entry_file(tok_dir).unlink()
    monkeypatch.setattr(encoder_cache, "atomic_write_bytes", read_only)
    corpus = write_jsonl(tmp_path / "c.jsonl", ["x"])
    opts = EncodeOptions(corpus=corpus, tokenizer=tok_dir, output=tmp_path / "o", progress="none", durable=False)
    manifest = encode_corpus(opts)
    assert manifest.complete and manifest.run.engine_check.startswith("tiktoken: merges equal the rank order")
    assert any("could not write the encoder cache" in n and "Read-only file system" in n for n in manifest.run.notes)


def _store_many(tok_dir: str, sha: str, times: int) -> None:
    entry = load_entry(Path(tok_dir), sha)[0]
    assert entry is not None
    for _ in range(times):
        assert store_entry(Path(tok_dir), sha, entry) is None


def test_concurrent_writers_and_readers_see_only_whole_entries(tok_dir: Path) -> None:
    sha = cache_entry_file(tok_dir).stem
    ctx = multiprocessing.get_context("fork")
    writers = [ctx.Process(target=_store_many, args=(str(tok_dir), sha, 20)) for _ in range(4)]
    for w in writers:
        w.start()
    reads = 0
    while any(w.is_alive() for w in writers):
        entry, why = load_entry(tok_dir, sha)
        assert entry is not None, why
        reads += 1
    assert all(w.join() or w.exitcode == 0 for w in writers) and reads > 0
    assert sorted(p.name for p in (tok_dir / CACHE_DIR).iterdir()) == [f"{sha}.bin"]  # no temp files left
