"""LIVE falsifier FALSIFY-TOK-LIVE-001: `apr tokenize` on a real corpus, checked id for id against the reference.

The corpus is the Python standard library source tree on this machine (every ``*.py`` under
``sysconfig.get_paths()["stdlib"]``, third-party ``site-packages`` excluded): about 1,800 files and
30 MB of real code, comments and docstrings in many scripts and encodings (a few files are not
UTF-8 and are read with replacement characters, as a crawler would). It is written as JSONL, one
document per source file, split over 8 files.

The run is the user's: ``apr tokenize import-tiktoken`` with the real Qwen2 ranks (found as the
tests find them: ``$APR_QWEN_TIKTOKEN``, ``../shared/data/qwen.tiktoken``, or the ``dashscope``
package), then ``apr tokenize encode-corpus --workers 2 --eos-policy after``. Its shards are then
compared, document by document, with the HF ``tokenizers`` reference encoding of the exported
``tokenizer.json`` (special-token text kept ordinary, as the encoder does).

Metrics written to ``<out>/metrics.json`` (the contract's ``check:`` reads them):
``documents``, ``docs_mismatched`` (documents whose ids differ from the reference), ``tokens``,
``unk_rate`` (from the manifest), ``max_id``/``vocab_size`` (the effective vocab), ``tokens_per_s`` (the encoder's own
throughput from its manifest), ``reference_tokens_per_s`` (the HF reference on the same texts,
2 threads, measured in the same run) and ``speed_vs_reference`` (their ratio, so machine load
affects both sides).

Re-run it (after any change to the tokenizer) with ``pv verify --live -k FALSIFY-TOK-LIVE-001``;
by hand: ``python -m falsifiers.live.encode_stdlib --out runs/live/encode-stdlib``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import numpy as np

CORPUS_FILES = 8
WORKERS = 2


def stdlib_documents() -> list[tuple[str, str]]:
    base = Path(sysconfig.get_paths()["stdlib"])
    docs = []
    for path in sorted(base.rglob("*.py")):
        if {"site-packages", "dist-packages"} & set(path.relative_to(base).parts):
            continue
        try:
            docs.append((path.relative_to(base).as_posix(), path.read_bytes().decode("utf-8", errors="replace")))
        except OSError:
            continue  # an unreadable file is not part of this corpus
    return docs


def write_corpus(docs: list[tuple[str, str]], folder: Path) -> list[str]:
    """JSONL in ``CORPUS_FILES`` files; returns the texts in the order encode-corpus reads them."""
    folder.mkdir(parents=True)
    per_file = -(-len(docs) // CORPUS_FILES)
    ordered = []
    for i in range(CORPUS_FILES):
        part = docs[i * per_file:(i + 1) * per_file]
        with (folder / f"stdlib-{i:02d}.jsonl").open("w", encoding="utf-8") as handle:
            for name, text in part:
                handle.write(json.dumps({"text": text, "path": name}) + "\n")
        ordered += [text for _, text in part]
    return ordered


def apr() -> list[str]:
    """The ``apr`` console script of this interpreter's environment (what a user runs)."""
    script = Path(sys.executable).parent / "apr"
    found = str(script) if script.is_file() else shutil.which("apr")
    if found is None:
        raise SystemExit("encode_stdlib: the `apr` command is not installed (pip install -e .)")
    return [found]


def run(cmd: list[str]) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    sys.stderr.write(proc.stderr[-4000:])
    if proc.returncode != 0:
        raise SystemExit(f"encode_stdlib: {' '.join(cmd[:3])} ... exited {proc.returncode}")
    return proc.stdout


def read_shards(folder: Path) -> np.ndarray:
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    parts = [np.fromfile(folder / s["name"], dtype="<u4") for s in manifest["shards"]]
    return np.concatenate(parts) if parts else np.zeros(0, dtype="<u4")


def compare(stream: np.ndarray, reference: list[list[int]], eos_id: int) -> tuple[int, str | None]:
    """Documents whose ids in the shard stream differ from the reference (each followed by EOS)."""
    mismatched, first, pos = 0, None, 0
    for i, ids in enumerate(reference):
        want = np.asarray([*ids, eos_id], dtype=np.uint32)
        got = stream[pos:pos + len(want)]
        if len(got) != len(want) or not np.array_equal(got, want):
            mismatched += 1
            first = first or f"document {i}: first difference at token {int(np.argmax(got != want[:len(got)]))}"
        pos += len(want)
    if pos != len(stream):
        mismatched += 1
        first = first or f"the shards hold {len(stream)} ids, the reference {pos}"
    return mismatched, first


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="work folder (replaced); metrics.json goes here")
    args = parser.parse_args(argv)
    out: Path = args.out
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)

    docs = stdlib_documents()
    texts = write_corpus(docs, out / "corpus")
    run([*apr(), "tokenize", "import-tiktoken", "--pattern", "qwen2", "--special-tokens", "qwen2",
         "--output", str(out / "tok")])
    started = time.perf_counter()
    summary = json.loads(run([*apr(), "tokenize", "encode-corpus", "--corpus", str(out / "corpus"), "--tokenizer",
                              str(out / "tok"), "--output", str(out / "shards"), "--workers", str(WORKERS),
                              "--eos-policy", "after", "--progress", "none", "--json"]))
    encode_wall = time.perf_counter() - started

    os.environ["RAYON_NUM_THREADS"] = str(WORKERS)  # the reference gets as many threads as the encoder workers
    from tokenizers import Tokenizer

    reference = Tokenizer.from_file(str(out / "tok" / "tokenizer.json"))
    reference.encode_special_tokens = True  # literal "<|endoftext|>" in a document is ordinary text
    eos_id = reference.token_to_id("<|endoftext|>")
    started = time.perf_counter()
    expected = [e.ids for e in reference.encode_batch(texts, add_special_tokens=False)]
    reference_s = time.perf_counter() - started
    stream = read_shards(out / "shards")
    mismatched, first = compare(stream, expected, eos_id)

    verification, run_info, totals = summary["verification"], summary["run"], summary["totals"]
    reference_tokens = sum(len(e) for e in expected)
    metrics = {
        "documents": totals["documents"], "corpus_documents": len(texts),
        "corpus_bytes": sum(len(t.encode("utf-8")) for t in texts),
        "docs_mismatched": mismatched, "first_mismatch": first,
        "tokens": totals["tokens"], "unk_tokens": totals["unk_tokens"], "unk_rate": verification["unk_rate"],
        "max_id": int(stream.max()) if len(stream) else -1,
        "vocab_size": summary["tokenizer"]["effective_vocab_count"],
        "engine": run_info["engine"], "workers": run_info["workers"],
        "tokens_per_s": round(run_info["tokens_per_s"], 1), "encode_wall_s": round(encode_wall, 3),
        "reference_tokens_per_s": round(reference_tokens / reference_s, 1), "reference_wall_s": round(reference_s, 3),
    }
    metrics["speed_vs_reference"] = round(metrics["tokens_per_s"] / metrics["reference_tokens_per_s"], 3)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(metrics, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
