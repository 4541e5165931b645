"""Benchmark: ``apr tokenize encode-corpus`` against raw tiktoken, measured in the same run.

The corpus is JSONL built from the Python stdlib sources (``sysconfig.get_paths()["stdlib"]``, repeated
when more characters are asked for); the tokenizer is Qwen2 (151,643 BPE ranks). Nothing here asserts a
speed: every number is printed (and written with --json) as a ratio against a reference timed in the
same run, so machine load affects both sides. Parts (``--part``, default all):

- ``e2e``: the whole ``apr`` command (interpreter start, tokenizer load, preflight, encode, write and
  fsync shards and manifests) against raw ``tiktoken.Encoding.encode_ordinary_batch`` given the
  documents already parsed and NFC-normalized in memory (strictly less work), with ``--workers``
  threads and with tiktoken's default 8, the faster counting; shard ids are checked equal to the raw
  ids. Target: command >= 0.9x raw at 40M characters, 2 workers.
- ``startup``: the command on a one-line corpus against a bare script that loads the same ranks with
  tiktoken, builds the ``Encoding`` and encodes the line (medians of interleaved runs). Target: +<= 0.3 s.
- ``ceiling``: the main process's work per token (planning chunks, unpickling results as they arrive
  over the pool's pipe, assembling, id checks, EOS/unk bookkeeping, hashing, writing and fsyncing
  shards and manifests) against one worker's work per token (read, parse, encode, frame, pickle);
  their ratio is how many workers the main process can feed (wall time: its shard-writer thread runs
  beside the main thread; CPU time: everything on one core). Target: >= 32.
- ``files``: ``--files N`` one-line files (100k: the hostile-input report's case) through the command.
- ``pathological``: a 10 MB line of one letter among normal documents: how long encode-corpus takes to
  refuse it (--on-error skip) against the same corpus without it, and what raw tiktoken would spend
  encoding that line against 10 MB of normal text.

    python benchmarks/bench_encode.py                      # all parts, 40M characters, 2 workers, best of 3
    python benchmarks/bench_encode.py --small              # ~2M characters, 1 repeat: a smoke run
    python benchmarks/bench_encode.py --part ceiling --json
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tokenizer.encoders import TiktokenSpec  # noqa: E402
from tokenizer.loader import load_tokenizer  # noqa: E402
from tokenizer.manifest import read_manifest  # noqa: E402
from tokenizer.resources import find_qwen_tiktoken  # noqa: E402
from tokenizer.shards import read_tokens  # noqa: E402
from tokenizer.testing import make_qwen2_tokenizer, stdlib_documents, write_jsonl  # noqa: E402

APR = [sys.executable, "-m", "apr", "tokenize", "encode-corpus"]
#: Child processes keep their bytecode caches, as an installed tool does (some shells export this).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _corpus(workdir: Path, chars: int) -> Path:
    path = workdir / f"stdlib-{chars}.jsonl"
    if not path.exists():
        docs = list(stdlib_documents(chars))
        got = sum(len(t) for _, t in docs)
        rounds = 1
        while got < chars:  # the stdlib has ~31M characters; repeat it (marked) for larger corpora
            more = [(f"{p}#{rounds}", t) for p, t in stdlib_documents(chars - got)]
            docs += more
            got += sum(len(t) for _, t in more)
            rounds += 1
        write_jsonl(path.with_suffix(".tmp"), ({"text": t, "path": p} for p, t in docs))
        os.replace(path.with_suffix(".tmp"), path)
    return path


def _best(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def _run(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=REPO, env=ENV)
    return time.perf_counter() - t0


def _load_docs(corpus: Path, nfc: bool) -> list[str]:
    with open(corpus, encoding="utf-8") as fh:
        docs = [json.loads(line)["text"] for line in fh]
    return [unicodedata.normalize("NFC", d) for d in docs] if nfc else docs


def _encoding(spec: TiktokenSpec) -> Any:
    import tiktoken

    return tiktoken.Encoding("bench", pat_str=spec.pattern, mergeable_ranks=spec.ranks,
                             special_tokens=spec.special_tokens)


def part_e2e(tok_dir: Path, corpus: Path, workers: int, repeats: int, work: Path) -> dict[str, Any]:
    tok = load_tokenizer(tok_dir)
    assert isinstance(tok.fast, TiktokenSpec)
    docs = _load_docs(corpus, tok.fast.nfc)
    enc = _encoding(tok.fast)
    baseline_ids = enc.encode_ordinary_batch(docs, num_threads=workers)
    n_tokens = sum(len(x) for x in baseline_ids)
    out = work / "out"
    cmd = [*APR, "--corpus", str(corpus), "--tokenizer", str(tok_dir), "--output", str(out), "--workers",
           str(workers), "--eos-policy", "none", "--quiet"]
    raws_w, raws_8, walls, pipelines = [], [], [], []
    for _ in range(repeats):  # interleaved, so a change in machine load hits both sides alike
        raws_w.append(_best(lambda: enc.encode_ordinary_batch(docs, num_threads=workers), 1))
        raws_8.append(_best(lambda: enc.encode_ordinary_batch(docs), 1))
        shutil.rmtree(out, ignore_errors=True)
        walls.append(_run(cmd))
        pipelines.append(read_manifest(out).run.elapsed_s)
    raw_w, raw_8 = min(raws_w), min(raws_8)
    raw_best = min(raw_w, raw_8)
    manifest = read_manifest(out)
    ids = read_tokens(out, manifest)
    same = ids.size == n_tokens and np.array_equal(ids, np.fromiter((i for x in baseline_ids for i in x),
                                                                    dtype=np.uint32, count=n_tokens))
    wall, pipe = min(walls), min(pipelines)
    return {
        "documents": len(docs), "characters": sum(len(d) for d in docs), "tokens": n_tokens, "workers": workers,
        "engine": manifest.run.engine, "raw_batch_workers_threads_s": round(raw_w, 4),
        "raw_batch_8_threads_s": round(raw_8, 4), "raw_tokens_per_s": round(n_tokens / raw_best),
        "command_walls_s": [round(w, 3) for w in walls], "command_wall_s": round(wall, 4),
        "command_ratio_vs_raw": round(raw_best / wall, 3),
        "command_ratio_per_round": [round(min(a, b) / w, 3) for a, b, w in zip(raws_w, raws_8, walls, strict=True)],
        "pipeline_s": pipe,
        "pipeline_ratio_vs_raw": round(raw_best / pipe, 3), "setup_s": manifest.run.setup_s,
        "ids_identical_to_raw": bool(same),
    }


BARE = """\
import sys, tiktoken
from tiktoken.load import load_tiktoken_bpe
ranks = load_tiktoken_bpe(sys.argv[1])
enc = tiktoken.Encoding("q", pat_str=sys.argv[2], mergeable_ranks=ranks, special_tokens=json.loads(sys.argv[3]))
enc.encode_ordinary(sys.argv[4])
"""


def part_startup(tok_dir: Path, repeats: int, work: Path) -> dict[str, Any]:
    tok = load_tokenizer(tok_dir)
    assert isinstance(tok.fast, TiktokenSpec)
    line = "def hello(): return 42"
    one = write_jsonl(work / "one.jsonl", [line])
    bare = [sys.executable, "-c", "import json\n" + BARE, str(find_qwen_tiktoken()), tok.fast.pattern,
            json.dumps(tok.fast.special_tokens), line]
    out = work / "one-out"
    cmd = [*APR, "--corpus", str(one), "--tokenizer", str(tok_dir), "--output", str(out), "--workers", "2",
           "--quiet"]
    _run(bare), _run(cmd)  # warm the page cache and the bytecode caches
    bares, cmds = [], []
    for _ in range(max(5, 2 * repeats + 1)):
        bares.append(_run(bare))
        shutil.rmtree(out, ignore_errors=True)
        cmds.append(_run(cmd))
    check = read_manifest(out).run.engine_check
    return {
        "bare_tiktoken_s": [round(x, 3) for x in bares], "command_s": [round(x, 3) for x in cmds],
        "bare_median_s": round(statistics.median(bares), 3), "command_median_s": round(statistics.median(cmds), 3),
        "startup_above_bare_s": round(statistics.median(cmds) - statistics.median(bares), 3),
        "encoder_check": check.split(" (")[0],
    }


def part_ceiling(tok_dir: Path, corpus: Path, repeats: int, work: Path) -> dict[str, Any]:
    """Worker side and main side of the same chunks, each timed alone in this process."""
    from tokenizer.assembler import ShardAssembler
    from tokenizer.chunks import iter_chunks
    from tokenizer.corpus import discover_corpus
    from tokenizer.encode import _encode_config, _start_manifest
    from tokenizer.manifest import Cut, Position, Verification
    from tokenizer.options import EncodeOptions
    from tokenizer.outdir import corpus_info, tokenizer_info
    from tokenizer.worker import JobSpec, process_chunk, use_encoder

    tok = load_tokenizer(tok_dir)
    discovered = discover_corpus(corpus)
    files = discovered.files
    opts = EncodeOptions(corpus=corpus, tokenizer=tok_dir, output=work / "ceiling", eos_policy="after")
    config = _encode_config(opts, tok)
    job = JobSpec(text_field="text", pattern=tok.pattern, max_piece_chars=opts.max_piece_chars,
                  eos_id=config.eos_id, eos_policy=config.eos_policy, unk_id=tok.unk_id)
    use_encoder("bench", tok.tiktoken_encoder("ordinary"), job)
    chunks = list(iter_chunks(files, 0, 0, opts.chunk_bytes))
    t0 = time.perf_counter()
    results = [process_chunk(c) for c in chunks]
    blobs = [pickle.dumps(r, protocol=pickle.HIGHEST_PROTOCOL) for r in results]  # what a worker sends back
    worker_s = time.perf_counter() - t0
    n_tokens = int(sum(r.tokens.size for r in results))
    main_times, main_cpu = [], []
    for _ in range(repeats):
        shutil.rmtree(opts.output, ignore_errors=True)
        opts.output.mkdir(parents=True)
        cinfo = corpus_info(discovered, Cut(file_index=0, offset=0), Cut(file_index=len(files), offset=0))
        m = _start_manifest(None, opts, config, tokenizer_info(tok), cinfo, Verification(), None,
                            Position(file_index=0, offset=0, line=0))
        t0, c0 = time.perf_counter(), time.process_time()
        chunk_list = list(iter_chunks(files, 0, 0, opts.chunk_bytes))  # the main process plans the chunks
        pickle.dumps(chunk_list)  # and sends them
        asm = ShardAssembler(opts.output, m, files, tok, opts, config.eos_id, time.monotonic(), 0.0,
                             Position(file_index=len(files), offset=0, line=0))
        for blob in blobs:
            asm.consume(pickle.loads(blob))
        asm.finish()
        main_times.append(time.perf_counter() - t0)
        main_cpu.append(time.process_time() - c0)
    main_s, cpu_s = min(main_times), min(main_cpu)
    # compressed JSONL cannot be read from the middle: the main process decompresses it (on a reader thread)
    from tokenizer.testing import compress_file

    decompress: dict[str, float] = {}
    for suffix in ("gz", "zst"):
        packed = compress_file(corpus, work / f"{corpus.stem}.jsonl.{suffix}", frame_bytes=1 << 22)
        packed_files = discover_corpus(packed).files
        decompress[suffix] = _best(lambda f=packed_files: [c.data for c in iter_chunks(f, 0, 0, 1 << 20)], repeats)
        packed.unlink()
    return {
        "tokens": n_tokens, "chunks": len(chunks), "shards": len(read_manifest(opts.output).shards),
        "worker_s": round(worker_s, 3), "worker_ns_per_token": round(worker_s / n_tokens * 1e9, 1),
        "main_s": round(main_s, 3), "main_ns_per_token": round(main_s / n_tokens * 1e9, 2),
        "main_tokens_per_s": round(n_tokens / main_s),
        "workers_the_main_process_can_feed": round(worker_s / main_s, 1),
        # all of the main process's CPU (its shard-writer thread included), as if it had a single core
        "main_cpu_ns_per_token": round(cpu_s / n_tokens * 1e9, 2),
        "workers_fed_on_one_core": round(worker_s / cpu_s, 1),
        **{f"main_{k}_decompress_ns_per_token": round(v / n_tokens * 1e9, 2) for k, v in decompress.items()},
        # decompression runs on the main process's chunk-reader thread, beside the main thread
        **{f"workers_fed_jsonl_{k}": round(worker_s / max(main_s, v), 1) for k, v in decompress.items()},
    }


def part_files(tok_dir: Path, n_files: int, work: Path) -> dict[str, Any]:
    root = work / f"files-{n_files}"
    if not (root / "done").exists():
        shutil.rmtree(root, ignore_errors=True)
        for i in range(n_files):
            d = root / f"{i // 1000:04d}"
            if i % 1000 == 0:
                d.mkdir(parents=True)
            (d / f"{i:07d}.jsonl").write_text(json.dumps({"text": f"document number {i} says hello"}) + "\n")
        (root / "done").mkdir()  # an empty directory: marks the set complete, holds no file
    out = work / "files-out"
    shutil.rmtree(out, ignore_errors=True)
    wall = _run([*APR, "--corpus", str(root), "--tokenizer", str(tok_dir), "--output", str(out), "--workers", "2",
                 "--quiet"])
    m = read_manifest(out)
    return {"files": n_files, "documents": m.totals.documents, "command_wall_s": round(wall, 2),
            "files_per_s": round(n_files / wall)}


def part_pathological(tok_dir: Path, repeats: int, work: Path) -> dict[str, Any]:
    tok = load_tokenizer(tok_dir)
    assert isinstance(tok.fast, TiktokenSpec)
    normal = [t for _, t in stdlib_documents(10_000_000)]
    ten_mb_normal = "".join(normal)[:10_000_000]
    letters = "a" * 10_000_000
    with_line = write_jsonl(work / "patho.jsonl", [*normal[:100], letters, *normal[100:200]])
    without = write_jsonl(work / "normal.jsonl", [*normal[:100], *normal[100:200]])
    out = work / "patho-out"

    def command(corpus: Path) -> float:
        shutil.rmtree(out, ignore_errors=True)
        return _run([*APR, "--corpus", str(corpus), "--tokenizer", str(tok_dir), "--output", str(out),
                     "--workers", "2", "--on-error", "skip", "--quiet"])

    with_s = min(command(with_line) for _ in range(repeats))
    skipped = read_manifest(out).totals.skipped_lines
    without_s = min(command(without) for _ in range(repeats))
    enc = _encoding(tok.fast)
    raw_normal = _best(lambda: enc.encode_ordinary(ten_mb_normal), 1)
    raw_letters = _best(lambda: enc.encode_ordinary(letters), 1)
    return {
        "command_with_10mb_line_s": round(with_s, 3), "command_without_s": round(without_s, 3),
        "refusal_cost_s": round(with_s - without_s, 3), "documents_refused": skipped,
        "raw_tiktoken_10mb_letters_s": round(raw_letters, 2), "raw_tiktoken_10mb_normal_s": round(raw_normal, 2),
        "letters_vs_normal_per_char": round(raw_letters / raw_normal, 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=["all", "e2e", "startup", "ceiling", "files", "pathological"], default="all")
    ap.add_argument("--chars", type=int, default=40_000_000, help="corpus size in characters (default 40M)")
    ap.add_argument("--small", action="store_true", help="2M characters, 1 repeat, 2000 files: a quick smoke run")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3, help="best of N for every timing")
    ap.add_argument("--files", type=int, default=100_000, help="file count for --part files")
    ap.add_argument("--tokenizer", type=Path, default=None, help="extracted tokenizer dir (default: import Qwen2)")
    ap.add_argument("--workdir", type=Path, default=REPO / ".bench" / "encode")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    args = ap.parse_args(argv)
    chars, repeats, n_files = (2_000_000, 1, 2_000) if args.small else (args.chars, args.repeats, args.files)
    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    tok_dir = args.tokenizer or work / "qwen2"
    if args.tokenizer is None and not (tok_dir / "tokenizer_meta.json").exists():
        make_qwen2_tokenizer(tok_dir)
    parts = ["startup", "e2e", "ceiling", "files", "pathological"] if args.part == "all" else [args.part]
    res: dict[str, Any] = {"cpu_count": os.cpu_count(), "load_average": os.getloadavg()}
    with tempfile.TemporaryDirectory(dir=work) as scratch:
        for part in parts:
            if part == "e2e":
                res[part] = part_e2e(tok_dir, _corpus(work, chars), args.workers, repeats, Path(scratch))
            elif part == "startup":
                res[part] = part_startup(tok_dir, repeats, Path(scratch))
            elif part == "ceiling":
                res[part] = part_ceiling(tok_dir, _corpus(work, chars), repeats, Path(scratch))
            elif part == "files":
                res[part] = part_files(tok_dir, n_files, work)
            else:
                res[part] = part_pathological(tok_dir, repeats, Path(scratch))
            if not args.json:
                print(f"{part}: " + json.dumps(res[part]), flush=True)
    res["load_average_after"] = os.getloadavg()
    if args.json:
        print(json.dumps(res, indent=2))
    return 0 if res.get("e2e", {}).get("ids_identical_to_raw", True) else 1


if __name__ == "__main__":
    raise SystemExit(main())
