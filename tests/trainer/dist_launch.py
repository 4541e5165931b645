"""Launch helpers for the multi-process CPU tests: free ports, torchrun, plain env-launched ranks.

Every launch runs ``tests.trainer.dist_driver`` (the real ``apr pretrain`` CLI, observed) with a
subprocess timeout as a backstop, so a regression that hangs fails the test instead of CI.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
TINY = dict(steps=6, batch_size=4, seq_len=16, lr=3e-3, warmup=2, eval_every=3, eval_batches=2)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pretrain_args(shards: Path, tok: Path, out: Path, **over: Any) -> list[str]:
    """``apr pretrain`` arguments for the test-tiny model; ``over`` replaces TINY entries (flag=True adds --flag)."""
    opts = {**TINY, **over}
    args = ["pretrain", "--mode", "from-scratch", "--model-config", "test-tiny", "--tokenizer", str(tok),
            "--shards-dir", str(shards), "--out", str(out), "--device", "cpu", "--progress", "off"]
    for k, v in opts.items():
        flag = "--" + k.replace("_", "-")
        if v is True:
            args.append(flag)
        elif v is not None and v is not False:
            args += [flag, str(v)]
    return args


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_PORT")}
    env.update(PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", MASTER_ADDR="127.0.0.1", PYTHONUNBUFFERED="1")
    env.update(extra or {})
    return env


@dataclass
class Launch:
    returncodes: list[int]
    output: str
    reports: dict[int, dict[str, Any]]


def _reports(report: Path) -> dict[int, dict[str, Any]]:
    out = {}
    for p in sorted(report.glob("rank*.json")):
        r = json.loads(p.read_text(encoding="utf-8"))
        out[int(r["rank"])] = r
    return out


def driver_cmd(report: Path, watch: Path, apr_args: list[str], fault: list[str] | None = None) -> list[str]:
    return ["-m", "tests.trainer.dist_driver", "--report", str(report), "--watch", str(watch),
            *(fault or []), "--", *apr_args]


def run_single(report: Path, watch: Path, apr_args: list[str], *, timeout: float = 90) -> Launch:
    """One process, no torchrun env: the single-process reference, through the same CLI."""
    p = subprocess.run([sys.executable, *driver_cmd(report, watch, apr_args)], cwd=REPO, env=_env(),
                       capture_output=True, text=True, timeout=timeout)
    return Launch([p.returncode], p.stdout + p.stderr, _reports(report))


def run_torchrun(nproc: int, report: Path, watch: Path, apr_args: list[str], *, fault: list[str] | None = None,
                 timeout: float = 120) -> Launch:
    """``torchrun --nproc-per-node nproc`` (as ``python -m torch.distributed.run``) on 127.0.0.1."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(nproc), "--nnodes", "1",
           "--master-addr", "127.0.0.1", "--master-port", str(free_port()), "--monitor-interval", "0.5",
           *driver_cmd(report, watch, apr_args, fault)]
    p = subprocess.run(cmd, cwd=REPO, env=_env(), capture_output=True, text=True, timeout=timeout)
    return Launch([p.returncode], p.stdout + p.stderr, _reports(report))


def run_plain_ranks(world: int, report: Path, watch: Path, apr_args: list[str], *, fault: list[str] | None = None,
                    wait_rank: int = 0, timeout: float = 90) -> Launch:
    """``world`` plain processes with the env torchrun would set, *without* torchrun's supervision.

    Used for failure tests: no launcher kills the survivors, so only the trainer's own collective
    timeout can end rank ``wait_rank``. Other ranks still alive when it returns are killed here.
    """
    port = str(free_port())
    procs = []
    for r in range(world):
        env = _env({"RANK": str(r), "WORLD_SIZE": str(world), "LOCAL_RANK": str(r), "LOCAL_WORLD_SIZE": str(world),
                    "MASTER_PORT": port})
        procs.append(subprocess.Popen([sys.executable, *driver_cmd(report, watch, apr_args, fault)], cwd=REPO,
                                      env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = [""] * world
    codes = [-999] * world
    try:
        outputs[wait_rank], _ = procs[wait_rank].communicate(timeout=timeout)
        codes[wait_rank] = procs[wait_rank].returncode
    finally:
        for r, p in enumerate(procs):
            if r == wait_rank:
                if p.poll() is None:
                    p.kill()
                    p.wait()
                continue
            try:  # a peer that is still alive once rank `wait_rank` is done is the stalled one: no long grace
                out, _ = p.communicate(timeout=2)
            except subprocess.TimeoutExpired:
                p.kill()
                out, _ = p.communicate()
            outputs[r], codes[r] = out, p.returncode
    text = "".join(f"----- rank {r} (exit {c})\n{o}" for r, (c, o) in enumerate(zip(codes, outputs, strict=True)))
    return Launch(codes, text, _reports(report))
