"""encode-corpus through the library API: bad input, output-directory rules, resume refusals, engines."""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path

import pytest

from tokenizer.encode import EncodeOptions, encode_corpus
from tokenizer.errors import CorpusLineError, TokenizeError
from tokenizer.manifest import Manifest, deterministic_view, read_manifest
from tokenizer.outdir import LOCK_FILE, writer_lock
from tokenizer.progress import PlainReporter
from tokenizer.shards import read_tokens, repair_manifest, verify_output
from tokenizer.testing import cached_small, stdlib_documents, write_jsonl

DOCS = [t[i : i + 1200] for _, t in stdlib_documents(60_000, start=20) for i in range(0, len(t), 1200)]


def _opts(corpus: Path, out: Path, **kw: object) -> EncodeOptions:
    base: dict[str, object] = {"shard_tokens": 1_500, "progress": "none", "durable": False}
    base.update(kw)
    return EncodeOptions(corpus=corpus, tokenizer=cached_small().directory, output=out, **base)  # type: ignore[arg-type]


def _run(corpus: Path, out: Path, **kw: object) -> Manifest:
    return encode_corpus(_opts(corpus, out, **kw), tokenizer=cached_small())


def _corpus_with_bad_line(tmp: Path, bad_at: int) -> Path:
    path = write_jsonl(tmp / "c.jsonl", DOCS)
    lines = path.read_text().splitlines(keepends=True)
    lines.insert(bad_at, '{"text": "unterminated\n')
    lines.insert(bad_at + 1, "\n")
    path.write_text("".join(lines))
    return path


def test_on_error_fail_names_file_and_line_and_keeps_complete_shards(tmp_path: Path) -> None:
    corpus = _corpus_with_bad_line(tmp_path, 30)
    with pytest.raises(CorpusLineError) as err:
        _run(corpus, tmp_path / "out", chunk_bytes=4096)
    assert err.value.where == "c.jsonl:31" and "not valid JSON" in err.value.what
    assert "--on-error skip" in str(err.value)
    m = read_manifest(tmp_path / "out")
    assert not m.complete and len(m.shards) >= 2 and verify_output(tmp_path / "out").ok
    assert m.position.line < 31 and not list((tmp_path / "out").glob("*.tmp"))


def test_a_failed_run_resumes_with_skip_to_the_same_output(tmp_path: Path) -> None:
    corpus = _corpus_with_bad_line(tmp_path, 30)
    with pytest.raises(CorpusLineError):
        _run(corpus, tmp_path / "out", chunk_bytes=4096)
    resumed = _run(corpus, tmp_path / "out", chunk_bytes=4096, resume=True, on_error="skip")
    fresh = _run(corpus, tmp_path / "fresh", on_error="skip")
    assert deterministic_view(resumed) == deterministic_view(fresh)
    assert (read_tokens(tmp_path / "out") == read_tokens(tmp_path / "fresh")).all()
    with pytest.raises(TokenizeError, match="on_error"):  # the reverse could change the output
        _run(corpus, tmp_path / "fresh", resume=True, on_error="fail")


def test_on_error_skip_counts_and_records_lines(tmp_path: Path) -> None:
    corpus = _corpus_with_bad_line(tmp_path, 30)
    m = _run(corpus, tmp_path / "out", on_error="skip", chunk_bytes=4096)
    assert m.complete and m.totals.skipped_lines == 1 and m.totals.blank_lines == 1
    assert m.totals.documents == len(DOCS)
    assert [(s.file, s.line) for s in m.skipped] == [("c.jsonl", 31)]
    f = m.corpus.files[0]  # type: ignore[union-attr]
    assert f.consumed == (0, f.size) and f.sha256 == hashlib.sha256(corpus.read_bytes()).hexdigest()


def test_hostile_json_line_fails_with_file_and_line(tmp_path: Path) -> None:
    corpus = write_jsonl(tmp_path / "c.jsonl", DOCS[:20])
    lines = corpus.read_bytes().splitlines(keepends=True)
    lines.insert(5, b"[" * 100_000 + b"\n")
    corpus.write_bytes(b"".join(lines))
    with pytest.raises(CorpusLineError) as err:
        _run(corpus, tmp_path / "out")
    assert err.value.where == "c.jsonl:6" and "nest too deeply" in err.value.what
    m = _run(corpus, tmp_path / "skip", on_error="skip")
    assert m.complete and m.totals.skipped_lines == 1 and m.totals.documents == 20


def test_a_corpus_without_documents_is_an_error(tmp_path: Path) -> None:
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('\n{"other": 1}\n\n')
    with pytest.raises(TokenizeError, match="contains no documents"):
        _run(corpus, tmp_path / "out", on_error="skip")


def test_output_directory_rules(tmp_path: Path) -> None:
    corpus = write_jsonl(tmp_path / "c.jsonl", DOCS)
    out = tmp_path / "out"
    first = _run(corpus, out)
    with pytest.raises(TokenizeError, match="already holds an encoded corpus"):
        _run(corpus, out)
    again = _run(corpus, out, resume=True)  # complete: nothing to do
    assert deterministic_view(again) == deterministic_view(first)
    leftovers = tmp_path / "killed-early"  # a run killed while writing its first manifest and shard
    leftovers.mkdir()
    (leftovers / ".manifest.json.tmp-1234").write_text("{")
    (leftovers / "shard-00000.bin.tmp").write_bytes(b"\x00")
    assert deterministic_view(_run(corpus, leftovers)) == deterministic_view(first)
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "notes.txt").write_text("x")
    with pytest.raises(TokenizeError, match="not empty and has no manifest"):
        _run(corpus, tmp_path / "junk")


def _interrupted(tmp: Path) -> tuple[Path, Path]:
    corpus = write_jsonl(tmp / "c.jsonl", DOCS)
    out = tmp / "out"
    _run(corpus, out)
    m = read_manifest(out)
    m.complete = False
    (out / "manifest.json").write_text(m.model_dump_json())
    return corpus, out


def test_resume_refuses_changed_options_corpus_and_shards(tmp_path: Path) -> None:
    corpus, out = _interrupted(tmp_path)
    with pytest.raises(TokenizeError, match="options differ from the interrupted run: shard_tokens"):
        _run(corpus, out, resume=True, shard_tokens=999)
    with pytest.raises(TokenizeError, match="eos_policy"):
        _run(corpus, out, resume=True, eos_policy="none")
    original = corpus.read_bytes()
    corpus.write_bytes(original.replace(b"def ", b"def  ", 1))
    with pytest.raises(TokenizeError, match="the corpus changed"):
        _run(corpus, out, resume=True)
    corpus.write_bytes(original)
    shard = out / "shard-00000.bin"
    shard.write_bytes(shard.read_bytes()[::-1])
    with pytest.raises(TokenizeError, match=r"shard-00000\.bin does not match the manifest"):
        _run(corpus, out, resume=True)
    repair_manifest(out)
    with pytest.raises(TokenizeError, match="rebuilt from shards"):
        _run(corpus, out, resume=True)


def test_hf_engine_gives_the_same_bytes_as_the_fast_engine(tmp_path: Path) -> None:
    corpus = write_jsonl(tmp_path / "c.jsonl", [*DOCS, "unicode 中文 e\u0301 <|endoftext|>"])
    fast = _run(corpus, tmp_path / "fast", workers=2)
    slow = _run(corpus, tmp_path / "slow", engine="hf")
    assert fast.run.engine == "tiktoken" and slow.run.engine == "hf-tokenizers"
    assert deterministic_view(fast) == deterministic_view(slow)
    assert (read_tokens(tmp_path / "fast") == read_tokens(tmp_path / "slow")).all()


def test_missing_eos_token_is_an_error_unless_policy_none(tmp_path: Path) -> None:
    corpus = write_jsonl(tmp_path / "c.jsonl", DOCS[:3])
    with pytest.raises(TokenizeError, match="EOS token '<eos>' is not in the tokenizer"):
        _run(corpus, tmp_path / "a", eos_token="<eos>")
    assert _run(corpus, tmp_path / "b", eos_token="<eos>", eos_policy="none").totals.eos_tokens == 0


def test_special_text_recognize_turns_literal_tokens_into_ids(tmp_path: Path) -> None:
    corpus = write_jsonl(tmp_path / "c.jsonl", ["a <|im_start|> b"])
    eot = cached_small().token_id("<|im_start|>")
    _run(corpus, tmp_path / "o", eos_policy="none")
    _run(corpus, tmp_path / "r", eos_policy="none", special_text="recognize")
    assert eot not in read_tokens(tmp_path / "o").tolist()
    assert eot in read_tokens(tmp_path / "r").tolist()


def test_plain_progress_prints_lines_with_rate_and_eta() -> None:
    stream = io.StringIO()
    rep = PlainReporter(stream, every_s=0.0)
    rep.start(1000, 0)
    rep.update(500, 10, 12_345)
    rep.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and "50.0%" in lines[0] and "10 docs" in lines[0] and "tok/s" in lines[0]
    assert "ETA" in lines[0]


def test_manifest_is_valid_json_with_schema_name(tmp_path: Path) -> None:
    corpus = write_jsonl(tmp_path / "c.jsonl", DOCS[:5])
    _run(corpus, tmp_path / "o")
    raw = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert raw["format"] == "apr-token-shards" and raw["format_version"] == 2
    assert raw["tokenizer"]["effective_vocab_count"] == 4099 and raw["producer"].startswith("provable-train")
    assert raw["verification"]["roundtrip_ok"] and "tiktoken" in raw["run"]["engine_check"]


def test_a_huge_first_document_is_sampled_within_the_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 16 item 6: the HF reference encoded a 45 MB first document whole during the preflight sample
    (76 s, 5.8 GB). Every text it sees now is at most SAMPLE_CHARS_PER_DOCUMENT characters."""
    from tokenizer import preflight
    from tokenizer.encoders import HFEncoder

    seen: list[int] = []
    real_encode = HFEncoder.encode

    def spy(self: HFEncoder, text: str) -> object:
        seen.append(len(text))
        return real_encode(self, text)

    monkeypatch.setattr(HFEncoder, "encode", spy)
    huge = "\n".join(DOCS) * 40  # ~2.4 MB, many lines, as a code file
    corpus = write_jsonl(tmp_path / "c.jsonl", [huge, *DOCS[:5]])
    m = _run(corpus, tmp_path / "o", verify_engine=True)  # force the HF comparison of the sample
    assert m.complete and seen and max(seen) <= preflight.SAMPLE_CHARS_PER_DOCUMENT
    assert m.verification is not None and m.verification.sample_documents == 6


def test_main_process_work_is_linear_in_the_number_of_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 16 item 5: progress re-summed every file size per chunk (100k tiny files: 345 s, 80% there).
    Every access the main process makes to the corpus file list is counted; it must grow linearly."""
    from tokenizer import encode as encode_mod
    from tokenizer.corpus import Corpus

    class CountingList(list):  # type: ignore[type-arg]
        touched = 0

        def __getitem__(self, key: object) -> object:
            got = super().__getitem__(key)  # type: ignore[index]
            CountingList.touched += len(got) if isinstance(key, slice) else 1
            return got

        def __iter__(self):  # type: ignore[no-untyped-def]
            for item in super().__iter__():
                CountingList.touched += 1
                yield item

    real = encode_mod.discover_corpus

    def counting(*args: object, **kw: object) -> Corpus:
        c = real(*args, **kw)  # type: ignore[arg-type]
        return Corpus(root=c.root, files=CountingList(c.files), notes=c.notes)

    monkeypatch.setattr(encode_mod, "discover_corpus", counting)
    touched = {}
    for n in (300, 1200):
        corpus = tmp_path / f"c{n}"
        for i in range(n):
            write_jsonl(corpus / f"{i:05d}.jsonl", [f"document {i}"])
        CountingList.touched = 0
        m = _run(corpus, tmp_path / f"o{n}", shard_tokens=200)
        assert m.totals.documents == n and len(m.shards) >= 5
        touched[n] = CountingList.touched
    assert touched[1200] < 4.5 * touched[300], touched  # 4x the files: about 4x the work, not 16x

    # the quadratic formula the fix replaced is caught by the same count
    def resum(self: object, r: object) -> int:
        return sum(f.size for f in self.files[: r.file_index]) + r.progress  # type: ignore[attr-defined]

    monkeypatch.setattr(encode_mod._Progress, "done", resum)
    for n in (300, 1200):
        CountingList.touched = 0
        _run(tmp_path / f"c{n}", tmp_path / f"q{n}", shard_tokens=200)
        touched[n] = CountingList.touched
    assert touched[1200] > 10 * touched[300], touched


def test_a_version_1_manifest_is_read_as_version_2(tmp_path: Path) -> None:
    corpus = write_jsonl(tmp_path / "c.jsonl", DOCS[:3])
    _run(corpus, tmp_path / "o")
    raw = json.loads((tmp_path / "o" / "manifest.json").read_text())
    raw["format_version"] = 1
    for f in raw["corpus"]["files"]:
        del f["format"], f["rows"]
        f["gzip"] = False
    for key in ("first_file", "total_files", "fingerprint"):
        del raw["corpus"][key]
    for key in ("task", "merged"):
        del raw[key]
    del raw["config"]["max_piece_chars"]
    (tmp_path / "o" / "manifest.json").write_text(json.dumps(raw))
    m = read_manifest(tmp_path / "o")
    assert m.format_version == 2 and m.corpus is not None and m.corpus.files[0].format == "jsonl"
    assert verify_output(tmp_path / "o", check_sha=True).ok


def test_a_bad_parquet_row_is_located_by_row_number(tmp_path: Path) -> None:
    from tokenizer.testing import write_parquet

    corpus = write_parquet(tmp_path / "p.parquet", [*DOCS[:6], None, *DOCS[6:9]], row_group_size=4)
    with pytest.raises(CorpusLineError) as err:
        _run(corpus, tmp_path / "fail")
    assert err.value.where == "p.parquet:7" and "field 'text' is null" in err.value.what
    m = _run(corpus, tmp_path / "skip", on_error="skip")
    assert [(s.file, s.line) for s in m.skipped] == [("p.parquet", 7)] and m.totals.documents == 9
    assert m.corpus is not None and m.corpus.files[0].consumed == (0, 10) and m.corpus.files[0].rows == 10


@pytest.mark.parametrize("fmt", ["parquet", "jsonl.zst"])
def test_a_run_cut_short_mid_file_resumes_byte_identical(tmp_path: Path, fmt: str) -> None:
    """Resume positions are rows for Parquet and offsets of the decompressed stream for zstd."""
    from tokenizer.testing import compress_file, write_parquet

    if fmt == "parquet":
        corpus = write_parquet(tmp_path / "c.parquet", DOCS * 3, row_group_size=7)
    else:
        corpus = compress_file(write_jsonl(tmp_path / "plain.jsonl", DOCS * 3), tmp_path / "c.jsonl.zst",
                               frame_bytes=5_000)
    fresh = _run(corpus, tmp_path / "fresh", chunk_bytes=3_000)
    assert len(fresh.shards) >= 8
    out = tmp_path / "cut"
    _run(corpus, out, chunk_bytes=3_000)
    m = _cut(out, len(read_manifest(out).shards) // 2)  # as if killed right after that shard was listed
    m.totals.eos_tokens = m.totals.documents
    m.totals.text_chars = sum(len(d) for d in (DOCS * 3)[: m.totals.documents])
    assert m.position.offset > 0  # mid-file
    (out / "manifest.json").write_text(m.model_dump_json())
    resumed = _run(corpus, out, chunk_bytes=3_000, resume=True)
    assert deterministic_view(resumed) == deterministic_view(fresh)
    assert (read_tokens(out) == read_tokens(tmp_path / "fresh")).all()


def test_a_refused_run_leaves_nothing_and_a_finished_one_leaves_no_lock(tmp_path: Path) -> None:
    corpus = write_jsonl(tmp_path / "c.jsonl", DOCS[:5])
    with pytest.raises(TokenizeError, match="EOS token"):
        _run(corpus, tmp_path / "refused" / "deep" / "out", eos_token="<eos>")
    assert not (tmp_path / "refused").exists()  # the lock's directories are removed again
    _run(corpus, tmp_path / "ok")
    assert not (tmp_path / "ok" / LOCK_FILE).exists()
    stale = tmp_path / "stale"  # a run SIGKILLed before its first manifest leaves only its lock file
    stale.mkdir()
    (stale / LOCK_FILE).write_text("pid 999999 on elsewhere\n")
    assert _run(corpus, stale).complete
    with pytest.raises(TokenizeError, match="output exists and is not a directory"):
        _run(corpus, corpus)


def test_an_in_process_second_writer_is_refused(tmp_path: Path) -> None:
    corpus = write_jsonl(tmp_path / "c.jsonl", DOCS[:5])
    out = tmp_path / "out"
    with writer_lock(out), pytest.raises(TokenizeError, match=f"another encode-corpus .*pid {os.getpid()} ") as err:
        _run(corpus, out)
    assert err.value.exit_code == 2 and "--resume` works right after a crash" in str(err.value)


def _cut(out: Path, keep: int) -> Manifest:
    """Turn a finished run into one interrupted after ``keep`` shards (a state --resume must accept)."""
    m = read_manifest(out)
    for s in m.shards[keep:]:
        (out / s.name).unlink()
    m.shards, m.complete = m.shards[:keep], False
    m.position = m.shards[-1].end  # type: ignore[assignment]
    m.totals.tokens = sum(s.tokens for s in m.shards)
    m.totals.documents = sum(s.documents or 0 for s in m.shards)
    return m


def _shift_last_end(m: Manifest, **kw: int) -> None:
    m.shards[-1].end = m.position = m.position.model_copy(update=kw)


TAMPERED_POSITIONS = {
    "position ahead of the last shard": (lambda m: setattr(m, "position", m.shards[-2].end), "is not where the last"),
    "file index past the corpus": (lambda m: _shift_last_end(m, file_index=99), "names corpus file #99"),
    "past the end of the corpus": (lambda m: _shift_last_end(m, file_index=1, offset=5), "past the end of the corpus"),
    "offset mid-line": (lambda m: _shift_last_end(m, offset=m.position.offset + 3), "not at the start of a line"),
    "offset past the file": (lambda m: _shift_last_end(m, offset=10**9), "past the end of c.jsonl"),
    "line count wrong": (lambda m: _shift_last_end(m, line=m.position.line + 2), "lines of c.jsonl were consumed"),
    "a shard without its end": (lambda m: setattr(m.shards[0], "end", None), "does not record where it ends"),
    "ends going backwards": (lambda m: setattr(m.shards[0], "end", m.shards[-1].end.model_copy(  # type: ignore[union-attr]
        update={"offset": m.shards[-1].end.offset + 1})), "go backwards"),  # type: ignore[union-attr]
    "totals not the sum": (lambda m: setattr(m.totals, "tokens", m.totals.tokens + 1), "totals are not the sums"),
    "documents not the sum": (lambda m: setattr(m.totals, "documents", 1), "totals are not the sums"),
}


@pytest.mark.parametrize("case", sorted(TAMPERED_POSITIONS))
def test_resume_cross_checks_the_position_against_the_last_shard(tmp_path: Path, case: str) -> None:
    """Issue 15: a position moved forward (or to file_index 99) made --resume drop documents silently."""
    corpus = write_jsonl(tmp_path / "c.jsonl", DOCS)
    out = tmp_path / "out"
    _run(corpus, out)
    m = _cut(out, 4)
    tamper, message = TAMPERED_POSITIONS[case]
    tamper(m)
    (out / "manifest.json").write_text(m.model_dump_json())
    with pytest.raises(TokenizeError, match=message) as err:
        _run(corpus, out, resume=True)
    assert err.value.exit_code == 2 and err.value.where == str(out / "manifest.json")
    assert read_manifest(out).model_dump() == m.model_dump()  # refused before anything was touched


def test_resume_from_an_untampered_cut_is_accepted(tmp_path: Path) -> None:
    corpus = write_jsonl(tmp_path / "c.jsonl", DOCS)
    _run(corpus, tmp_path / "full")
    out = tmp_path / "out"
    _run(corpus, out)
    (out / "manifest.json").write_text(_cut(out, 4).model_dump_json())
    assert _run(corpus, out, resume=True).complete
    assert (read_tokens(out) == read_tokens(tmp_path / "full")).all()


@pytest.mark.parametrize("policy", ["after", "between", "none"])
def test_the_recorded_max_id_is_the_largest_id_in_the_shards(tmp_path: Path, policy: str) -> None:
    """The trainer trusts verification.max_token_id_seen to refuse ids outside its table before step 1;
    it left out the EOS id (4096 here, above every text token), so it under-stated the shards' maximum."""
    corpus = write_jsonl(tmp_path / "c.jsonl", DOCS)
    m = _run(corpus, tmp_path / "o", eos_policy=policy)
    assert m.verification is not None
    assert m.verification.max_token_id_seen == int(read_tokens(tmp_path / "o").max())
