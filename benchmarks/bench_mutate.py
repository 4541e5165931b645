"""pv mutate: mutants per second, what the warm forking workers buy, and a full contract's run time.

Measured here, one after the other, on the same machine and load (``os.getloadavg`` is printed):

1. the same sample of mutants (FALSIFY-ARCH-009's, in ``trainer/preflight.py``) run the cold way,
   one fresh ``python -m pytest`` per mutant (the overlay reaches it through ``PYTHONPATH``, as it
   reaches a test's own child processes), and the warm way, one forked child of a worker that
   imported torch and pytest once: mutants/s each, and the ratio (the reference is the cold way);
2. ``pv mutate`` of every falsifier of ``apr-pretrain-arch-polymorphic-v1`` with ``--workers 2``
   (``--contract`` to pick another): wall time, mutants run, mutants/s, verdicts. The issue's target
   is under 3 minutes here. ``--no-ledger``: the worktree's ledger is left alone.

    python benchmarks/bench_mutate.py [--sample 8] [--contract contracts/X.yaml] [--skip-full]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pv.mutate.mutants import mutants_of  # noqa: E402
from pv.mutate.overlay import ENV  # noqa: E402
from pv.mutate.runner import WorkerPool  # noqa: E402
from pv.mutate.verdict import classify  # noqa: E402

NODE = "falsifiers/test_arch_polymorphic.py::test_relaxed_bound_accepts_reserved_slots"
SUBJECT = "trainer/preflight.py"
SITE_HOOKS = ROOT / "pv" / "site_hooks"  # its sitecustomize runs the overlay named in PV_SITE_HOOKS
OVERLAY = ROOT / "pv" / "mutate" / "overlay.py"


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.1f} {five:.1f} {fifteen:.1f}"


def cold(sample: list, timeout_s: float) -> float:
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for i, mutant in enumerate(sample):
            overlay = Path(tmp) / f"overlay-{i}.json"
            overlay.write_text(json.dumps({str(ROOT / SUBJECT): mutant.source}), encoding="utf-8")
            env = {**os.environ, ENV: str(overlay), "PYTHONDONTWRITEBYTECODE": "1",
                   "PYTHONPATH": os.pathsep.join([str(SITE_HOOKS), str(ROOT)]), "PV_SITE_HOOKS": str(OVERLAY)}
            subprocess.run([sys.executable, "-m", "pytest", NODE, "-q", "-x", "-p", "no:cacheprovider",
                            "--assert=plain"], cwd=ROOT, env=env, capture_output=True, timeout=timeout_s, check=False)
    return time.perf_counter() - start


def warm(sample: list, timeout_s: float) -> float:
    with WorkerPool(ROOT, 1) as pool:
        pool.preload(["torch", "pytest", "hypothesis", "numpy"])
        start = time.perf_counter()
        for mutant in sample:
            classify(pool, ROOT, NODE, mutant, timeout_s)
        return time.perf_counter() - start


def full(contract: str, workers: int) -> None:
    cmd = [sys.executable, "-m", "pv.cli", "mutate", contract, "--workers", str(workers), "--no-ledger",
           "--no-progress", "--format", "json"]
    print(f"full run: {' '.join(cmd[2:])}  ({load()})", flush=True)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"pv mutate exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    report = json.loads(proc.stdout)
    print(f"  {wall:.1f}s wall, {report['mutants_run']} mutants, {report['mutants_run'] / wall:.2f} mutants/s "
          f"({load()})")
    for f in report["falsifiers"]:
        score = "-" if f["score"] is None else f"{f['score']:.1f}%"
        competent = f["killed"] + f["survived"] + f["timed_out"]
        print(f"  {f['falsifier_id']:<18} {f['verdict']:<10} killed {f['killed']:>3}/{competent:<3} score {score}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sample", type=int, default=8, help="mutants in the cold/warm comparison")
    parser.add_argument("--contract", default="contracts/apr-pretrain-arch-polymorphic-v1.yaml")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip-full", action="store_true", help="only the cold/warm comparison")
    args = parser.parse_args()
    sample = mutants_of(SUBJECT, (ROOT / SUBJECT).read_text(encoding="utf-8"))[: args.sample]
    print(f"{len(sample)} mutants of {SUBJECT} against {NODE}  ({load()})", flush=True)
    cold_s = cold(sample, timeout_s=300)
    print(f"  cold (fresh interpreter each): {cold_s:.1f}s, {len(sample) / cold_s:.2f} mutants/s  ({load()})",
          flush=True)
    warm_s = warm(sample, timeout_s=300)
    print(f"  warm (forked worker child):    {warm_s:.1f}s, {len(sample) / warm_s:.2f} mutants/s  ({load()})")
    print(f"  warm / cold speed-up: {cold_s / warm_s:.1f}x", flush=True)
    if not args.skip_full:
        full(args.contract, args.workers)


if __name__ == "__main__":
    main()
