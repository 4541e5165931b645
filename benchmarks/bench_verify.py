"""pv verify: what an incremental run costs next to a full one, what xdist buys, what input recording costs.

All runs happen in a throwaway copy of this repository (its tracked and untracked, non-ignored files,
committed into a fresh git repo), so the worktree and its ledger are never touched. Reported as
ratios of runs made here, one after the other, on the same machine and load:

1. full ``pv verify`` on the shipped contracts (the reference);
2. for each ``--edit FILE`` in turn, a one-line edit to that one subject file, then ``pv verify
   --changed``: incremental cost / full cost (target <= 10%), and which falsifiers re-ran
   (default: ``tokenizer/shards.py``, a typical subject module; ``trainer/preflight.py``, which every
   trainer test loads, including the two slowest; ``pv/gates/summary.py``);
3. a README-only edit, then ``pv verify --changed`` (should re-run nothing);
4. with ``--workers N``: full ``pv verify -n N`` against a fresh ledger, speed-up over (1);
5. with ``--overhead``: the bound tests under plain pytest vs pytest recording inputs (the
   ``--pv-results`` path ``pv verify`` uses), i.e. the cost of per-test input recording.

    python benchmarks/bench_verify.py                       # 1-3
    python benchmarks/bench_verify.py --workers 2 --repeat 2 --overhead

The machine's load (``os.getloadavg``) is printed with every timing: on a shared machine, repeat.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def copy_repo(dest: Path) -> None:
    files = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           capture_output=True, text=True, check=True).stdout.split("\0")
    for rel in filter(None, files):
        src = ROOT / rel
        if src.is_file() and not rel.startswith(".pv/"):
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    git = ["git", "-C", str(dest), "-c", "user.email=bench@example.invalid", "-c", "user.name=bench"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "bench"], check=True)


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.1f} {five:.1f} {fifteen:.1f}"


def verify(root: Path, *args: str, ledger: Path | None = None) -> tuple[float, dict]:
    cmd = [sys.executable, "-m", "pv.cli", "verify", "--root", str(root), "--no-progress", "--format", "json", *args]
    if ledger is not None:
        cmd += ["--ledger", str(ledger)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"pv verify {' '.join(args)} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return wall, json.loads(proc.stdout)


def ran(report: dict) -> list[str]:
    return sorted(f["falsifier_id"] for c in report["contracts"] for f in c["falsifiers"]
                  if not f["kept"] and f["outcome"] not in ("not-bound", "live-not-run"))


def overhead(root: Path, report: dict) -> tuple[float, float]:
    nodes = sorted({f["node_id"] for c in report["contracts"] for f in c["falsifiers"] if f["node_id"]})
    base = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *nodes]
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for extra in ([], ["--pv-results", str(Path(tmp) / "r.json")]):
            start = time.perf_counter()
            subprocess.run(base + extra, cwd=root, capture_output=True, check=False)
            times.append(time.perf_counter() - start)
    return times[0], times[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--edit", action="append", default=None, metavar="FILE",
                        help="subject file given a one-line edit (repeatable; default: three, see above)")
    parser.add_argument("--workers", type=int, default=0, help="also time a full run with -n N (pytest-xdist)")
    parser.add_argument("--repeat", type=int, default=1, help="repeat the -n comparison this many times")
    parser.add_argument("--overhead", action="store_true", help="also time plain pytest vs input recording")
    parser.add_argument("--skip-edits", action="store_true", help="only the full run (and -n / --overhead)")
    args = parser.parse_args()
    if "APR_QWEN_TIKTOKEN" not in os.environ:  # the copy has no ../shared beside it
        sys.path.insert(0, str(ROOT))
        from tokenizer.resources import find_qwen_tiktoken

        os.environ["APR_QWEN_TIKTOKEN"] = str(find_qwen_tiktoken())
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="pv-bench-") as tmp:
        root = Path(tmp) / "repo"
        copy_repo(root)
        print(f"copy of {ROOT} in {root}", flush=True)

        full, report = verify(root)
        print(f"full pv verify: {full:.1f}s, {len(ran(report))} falsifiers run ({load()})", flush=True)
        results["full_s"] = round(full, 2)
        results["edits"] = []
        edits = [] if args.skip_edits else args.edit or ["tokenizer/shards.py", "trainer/preflight.py",
                                                         "pv/gates/summary.py"]
        for edit in edits:
            target = root / edit
            target.write_text(target.read_text() + "# a one-line edit\n")
            inc, report = verify(root, "--changed")
            rerun = ran(report)
            print(f"after a one-line edit to {edit}: pv verify --changed {inc:.1f}s, re-ran {len(rerun)} "
                  f"({', '.join(rerun)}); {report['kept']} kept; ratio {inc / full:.3f} (target <= 0.10) "
                  f"({load()})", flush=True)
            results["edits"].append({"file": edit, "incremental_s": round(inc, 2), "ratio": round(inc / full, 4),
                                     "rerun": rerun})
        if not args.skip_edits:
            readme = root / "README.md"
            readme.write_text(readme.read_text() + "\nA README-only edit.\n")
            docs, report = verify(root, "--changed")
            print(f"after a README-only edit: pv verify --changed {docs:.1f}s, re-ran {len(ran(report))} "
                  f"({load()})", flush=True)
            results.update(readme_only_s=round(docs, 2), readme_only_rerun=ran(report))

        if args.workers:
            pairs = []
            for i in range(args.repeat):
                serial = full if i == 0 else verify(root, ledger=Path(tmp) / f"serial-{i}.json")[0]
                parallel = verify(root, "-n", str(args.workers), ledger=Path(tmp) / f"xdist-{i}.json")[0]
                pairs.append((round(serial, 2), round(parallel, 2)))
                print(f"full pv verify: 1 process {serial:.1f}s, -n {args.workers} {parallel:.1f}s, speed-up "
                      f"{serial / parallel:.2f}x ({load()})", flush=True)
            results["xdist"] = {"workers": args.workers, "runs_s": pairs,
                                "speedups": [round(a / b, 3) for a, b in pairs]}
        if args.overhead:
            plain, recording = overhead(root, report)
            print(f"bound tests under plain pytest {plain:.1f}s, recording inputs {recording:.1f}s: overhead "
                  f"{recording / plain - 1:+.1%} ({load()})", flush=True)
            results["recording_overhead"] = {"plain_s": round(plain, 2), "recording_s": round(recording, 2),
                                             "ratio": round(recording / plain, 4)}
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
