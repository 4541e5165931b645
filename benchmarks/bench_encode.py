"""Benchmark: ``apr tokenize encode-corpus`` end to end against raw tiktoken, measured in the same run.

The corpus is JSONL built from the Python stdlib sources (``sysconfig.get_paths()["stdlib"]``); the
tokenizer is Qwen2 (151,643 BPE ranks). Two ratios are reported against the faster of raw
``tiktoken.Encoding.encode_ordinary_batch`` with ``--workers`` threads and with tiktoken's default 8:

- pipeline: the encode-corpus loop as its manifest times it (read, parse JSON, encode, check ids,
  write + fsync shards and manifests) - the throughput that matters for a large corpus;
- command: wall time of the whole ``apr`` process, including interpreter start, tokenizer load and
  the preflight checks (about a second of fixed cost, which dominates on a small corpus).

The raw baseline gets the documents already parsed and NFC-normalized in memory, so it does strictly
less work. The shard contents are checked to equal the baseline ids, so both sides encode the same
thing. Nothing here asserts a speed: the numbers are printed (and written with --json).

    python benchmarks/bench_encode.py              # >= 20M characters, 2 workers, best of 3
    python benchmarks/bench_encode.py --small      # ~2M characters, 1 repeat: a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tokenizer.encoders import TiktokenSpec  # noqa: E402
from tokenizer.loader import load_tokenizer  # noqa: E402
from tokenizer.manifest import read_manifest  # noqa: E402
from tokenizer.shards import read_tokens  # noqa: E402
from tokenizer.testing import make_qwen2_tokenizer, stdlib_documents, write_jsonl  # noqa: E402


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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chars", type=int, default=24_000_000, help="corpus size in characters (default 24M)")
    ap.add_argument("--small", action="store_true", help="2M characters and one repeat: a quick smoke run")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3, help="best of N for every timing")
    ap.add_argument("--tokenizer", type=Path, default=None, help="extracted tokenizer dir (default: import Qwen2)")
    ap.add_argument("--workdir", type=Path, default=REPO / ".bench" / "encode")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    args = ap.parse_args(argv)
    chars, repeats = (2_000_000, 1) if args.small else (args.chars, args.repeats)
    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)

    tok_dir = args.tokenizer or work / "qwen2"
    if args.tokenizer is None and not (tok_dir / "tokenizer_meta.json").exists():
        make_qwen2_tokenizer(tok_dir)
    corpus = _corpus(work, chars)
    tok = load_tokenizer(tok_dir)
    if not isinstance(tok.fast, TiktokenSpec):
        raise SystemExit(f"the tokenizer has no tiktoken equivalent ({tok.fast}); nothing to compare against")
    with open(corpus, encoding="utf-8") as fh:
        docs = [json.loads(line)["text"] for line in fh]
    if tok.fast.nfc:
        docs = [unicodedata.normalize("NFC", d) for d in docs]

    import tiktoken

    enc = tiktoken.Encoding("bench", pat_str=tok.fast.pattern, mergeable_ranks=tok.fast.ranks,
                            special_tokens=tok.fast.special_tokens)
    baseline_ids = enc.encode_ordinary_batch(docs, num_threads=args.workers)
    n_tokens = sum(len(x) for x in baseline_ids)
    raw_w = _best(lambda: enc.encode_ordinary_batch(docs, num_threads=args.workers), repeats)
    raw_8 = _best(lambda: enc.encode_ordinary_batch(docs), repeats)
    raw_best = min(raw_w, raw_8)

    out = work / "out"
    cmd = [sys.executable, "-m", "apr", "tokenize", "encode-corpus", "--corpus", str(corpus),
           "--tokenizer", str(tok_dir), "--output", str(out), "--workers", str(args.workers), "--eos-policy",
           "none", "--quiet"]
    walls, pipelines = [], []
    for _ in range(repeats):
        shutil.rmtree(out, ignore_errors=True)
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, cwd=REPO)
        walls.append(time.perf_counter() - t0)
        pipelines.append(read_manifest(out).run.elapsed_s)
    manifest = read_manifest(out)
    ids = read_tokens(out, manifest)
    same = ids.size == n_tokens and np.array_equal(ids, np.fromiter((i for x in baseline_ids for i in x),
                                                                    dtype=np.uint32, count=n_tokens))
    wall, pipe = min(walls), min(pipelines)
    res = {
        "documents": len(docs),
        "characters": sum(len(d) for d in docs),
        "tokens": n_tokens,
        "workers": args.workers,
        "cpu_count": os.cpu_count(),
        "engine": manifest.run.engine,
        "raw_tiktoken_batch_workers_threads_s": round(raw_w, 4),
        "raw_tiktoken_batch_8_threads_s": round(raw_8, 4),
        "raw_tiktoken_tokens_per_s": round(n_tokens / raw_best),
        "pipeline_s": pipe,
        "pipeline_tokens_per_s": round(n_tokens / pipe),
        "pipeline_ratio_vs_raw": round(raw_best / pipe, 3),
        "command_wall_s": round(wall, 4),
        "command_tokens_per_s": round(n_tokens / wall),
        "command_ratio_vs_raw": round(raw_best / wall, 3),
        "pipeline_s_per_million_tokens": round(pipe / n_tokens * 1e6, 4),
        "command_s_per_million_tokens": round(wall / n_tokens * 1e6, 4),
        "setup_s": manifest.run.setup_s,
        "ids_identical_to_raw": bool(same),
        "repeats": repeats,
    }
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        print(f"corpus: {res['documents']:,} stdlib documents, {res['characters']:,} characters, "
              f"{n_tokens:,} Qwen2 tokens; {args.workers} workers on {os.cpu_count()} CPUs; best of {repeats}")
        print(f"  raw tiktoken encode_ordinary_batch, {args.workers} threads : {raw_w:7.3f} s  "
              f"{n_tokens / raw_w / 1e6:6.2f} M tok/s")
        print(f"  raw tiktoken encode_ordinary_batch, 8 threads : {raw_8:7.3f} s  "
              f"{n_tokens / raw_8 / 1e6:6.2f} M tok/s")
        print(f"  encode-corpus pipeline ({res['engine']})      : {pipe:7.3f} s  "
              f"{n_tokens / pipe / 1e6:6.2f} M tok/s  ratio {res['pipeline_ratio_vs_raw']:.2f}x  "
              f"({res['pipeline_s_per_million_tokens']:.3f} s per M tokens)")
        print(f"  encode-corpus whole command       : {wall:7.3f} s  {n_tokens / wall / 1e6:6.2f} M tok/s  "
              f"ratio {res['command_ratio_vs_raw']:.2f}x  ({res['command_s_per_million_tokens']:.3f} s per M tokens; "
              f"setup {res['setup_s']:.2f} s)")
        print(f"  shard ids identical to raw tiktoken: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
