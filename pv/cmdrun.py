"""Run a ``CMD:`` falsifier: the command's exit status is its verdict.

``pv verify`` runs these by default (they are meant to be CI-cheap: ``cargo test …``,
``go test …``), never ``validate`` or ``lint``; ``--no-cmd`` skips them. Each runs from the repo
root in its own process group (``pv.procrun``), with ``PV_FALSIFIER_ID`` and ``PV_CONTRACT_ID`` in
its environment and stdin closed, under a timeout after which the whole group is killed.

Verdict: exit 0 passes; any other exit, a death by signal or a timeout fails; a command that
cannot start (the shell's 126/127: not executable / not found) is an error, because nothing was
falsified: the toolchain is missing on this machine.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pv import procrun
from pv.ledger import Outcome

DEFAULT_TIMEOUT_S = 600.0
LEDGER_TAIL = 2000


@dataclass(frozen=True)
class CmdVerdict:
    outcome: Outcome
    reason: str
    result: procrun.ProcResult
    timeout_s: float

    @property
    def output_tail(self) -> str:
        return self.result.output_tail[-LEDGER_TAIL:]


def effective_timeout(own: float | None, cli: float | None) -> float:
    """The falsifier's ``timeout_s`` (default 600 s), lowered by ``pv verify --timeout`` when given."""
    limits = [t for t in (own, cli) if t is not None]
    return min(limits) if limits else DEFAULT_TIMEOUT_S


def run_cmd(command: str, root: Path, *, falsifier_id: str, contract_id: str, timeout_s: float) -> CmdVerdict:
    env = {**os.environ, "PV_FALSIFIER_ID": falsifier_id, "PV_CONTRACT_ID": contract_id}
    result = procrun.run(command, cwd=root, env=env, timeout_s=timeout_s)
    outcome, reason = judge(result, timeout_s)
    return CmdVerdict(outcome, reason, result, timeout_s)


def judge(result: procrun.ProcResult, timeout_s: float) -> tuple[Outcome, str]:
    if result.start_error:
        return Outcome.ERROR, f"the command could not start: {result.start_error}"
    if result.timed_out:
        return Outcome.FAIL, f"timed out after {timeout_s:g} s; its whole process group was killed"
    code = result.exit_code
    assert code is not None
    last = _last_line(result.output_tail)
    said = f": {last}" if last else ""
    if code == 0:
        return Outcome.PASS, "command exited 0"
    if code in (126, 127):
        what = "not found" if code == 127 else "not executable"
        return Outcome.ERROR, f"exit {code}: a program in the command was {what} on this machine{said}"
    if code < 0:
        return Outcome.FAIL, f"killed by signal {-code}{said}"
    return Outcome.FAIL, f"command exited with code {code}{said}"


def _last_line(text: str, limit: int = 300) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    return lines[-1] if len(lines[-1]) <= limit else lines[-1][: limit - 1] + "…"
