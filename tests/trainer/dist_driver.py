"""Test-only shim: run ``apr pretrain`` (the real CLI) in one rank, observed, with optional fault injection.

Launched once per rank, by torchrun or by the tests as plain processes with the torchrun env::

    python -m tests.trainer.dist_driver --report DIR --watch ROOT [--fault exit|hang|kill --fault-rank R|all
        --fault-step K] -- pretrain --mode from-scratch ...

It writes ``DIR/rank<R>.json`` when the CLI returns: the exit code, the loop's history, the training
window ids this rank drew, how many times a process group was initialised before the CLI returned
or failed, and every file-system write this rank made under ROOT (a ``sys.addaudithook`` on
``open``/``os.open`` for writing, renames, mkdir, removals). The shim only observes: the code under
test is ``apr.cli.main`` unchanged (faults are injected through ``run_pretrain``'s
``on_step`` callback, after the step and any resume save completed).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_PATH_EVENTS = {"os.rename": 2, "os.mkdir": 1, "os.remove": 1, "os.rmdir": 1, "shutil.rmtree": 1, "os.truncate": 1}


class Observer:
    def __init__(self, watch: Path) -> None:
        self.watch = str(watch.resolve())
        self.writes: list[str] = []
        self.active = True
        self.init_calls = 0
        self.train_ids: list[list[int]] = []

    def _under(self, path: Any) -> bool:
        try:
            return os.path.abspath(os.fsdecode(path)).startswith(self.watch)
        except TypeError:
            return False

    def audit(self, event: str, args: tuple[Any, ...]) -> None:
        if not self.active:
            return
        if event == "open" and len(args) >= 3:
            path, mode, flags = args[0], args[1], args[2]
            writing = any(c in mode for c in "wax+") if isinstance(mode, str) else bool((flags or 0) & _WRITE_FLAGS)
            if writing and isinstance(path, str | bytes | os.PathLike) and self._under(path):
                self.writes.append(f"open:{os.fsdecode(path)}")
        elif event in _PATH_EVENTS:
            for p in args[: _PATH_EVENTS[event]]:
                if isinstance(p, str | bytes | os.PathLike) and self._under(p):
                    self.writes.append(f"{event}:{os.fsdecode(p)}")


def _fault(kind: str | None, fault_rank: str, fault_step: int, rank: int):
    def on_step(run: Any) -> None:
        if kind is None or run.step != fault_step or fault_rank not in ("all", str(rank)):
            return
        sys.stderr.write(f"dist_driver: injecting fault {kind!r} on rank {rank} after step {run.step}\n")
        sys.stderr.flush()
        if kind == "exit":
            os._exit(17)  # a crash: no cleanup, no collective goodbye
        if kind == "kill":
            os._exit(137)  # a preemption: every rank stops at the same step boundary
        if kind == "hang":
            time.sleep(3600)  # a stall: the peers must time out
    return on_step


def main(argv: list[str]) -> int:
    if "--" not in argv:
        raise SystemExit("usage: dist_driver --report DIR --watch ROOT [fault options] -- <apr args>")
    cut = argv.index("--")
    ap = argparse.ArgumentParser()
    ap.add_argument("--report", type=Path, required=True)
    ap.add_argument("--watch", type=Path, required=True)
    ap.add_argument("--fault", choices=["exit", "hang", "kill"])
    ap.add_argument("--fault-rank", default="1")
    ap.add_argument("--fault-step", type=int, default=2)
    opts = ap.parse_args(argv[:cut])
    apr_args = argv[cut + 1 :]
    rank = int(os.environ.get("RANK", "0"))

    obs = Observer(opts.watch)
    sys.addaudithook(obs.audit)

    import torch.distributed as tdist

    import trainer.data
    import trainer.loop
    from apr.cli import main as apr_main

    real_init = tdist.init_process_group

    def counting_init(*a: Any, **kw: Any) -> Any:
        obs.init_calls += 1
        return real_init(*a, **kw)

    tdist.init_process_group = counting_init  # type: ignore[assignment]
    real_next = trainer.data.TrainSampler.next_batch

    def recording_next(self: Any) -> Any:
        ids = real_next(self)
        obs.train_ids.append([int(i) for i in ids])
        return ids

    trainer.data.TrainSampler.next_batch = recording_next  # type: ignore[method-assign]
    real_run = trainer.loop.run_pretrain
    results: list[Any] = []

    def observed_run(cfg: Any, **kw: Any) -> Any:
        kw["on_step"] = _fault(opts.fault, opts.fault_rank, opts.fault_step, rank)
        res = real_run(cfg, **kw)
        results.append(res)
        return res

    trainer.loop.run_pretrain = observed_run  # type: ignore[assignment]
    code = apr_main(apr_args)
    obs.active = False
    res = results[0] if results else None
    opts.report.mkdir(parents=True, exist_ok=True)
    report = {
        "rank": rank,
        "exit_code": code,
        "status": res.status if res else None,
        "history": res.history if res else None,
        "summary_final_val_loss": res.summary.get("final_val_loss") if res else None,
        "init_calls": obs.init_calls,
        "writes": obs.writes,
        "train_ids": obs.train_ids,
    }
    (opts.report / f"rank{rank}.json").write_text(json.dumps(report), encoding="utf-8")
    return code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
