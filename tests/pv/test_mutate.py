"""``pv mutate`` on a fixture repository: a strong test is STRONG, a test that asserts nothing is INERT.

The fixture is a tiny subject module, one contract and three bound tests: one asserts what the
subject computes, one calls the subject and asserts nothing a mutant can break, one runs no
project code at all. The INERT one must fail ``pv lint`` (gate ``inert``) and make ``pv promote
--to FUNCTIONAL`` refuse; ``--changed`` must re-run only what a change made stale; and killing
``pv mutate`` with SIGKILL mid-run must leave the repository exactly as it was.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pv.cli import main
from tests.pv.conftest import Repo, falsifier, valid_contract

SUBJECT = '''\
def add_tax(price: float, rate: float = 0.2) -> float:
    """The price with tax added."""
    return price + price * rate


def clamp(x: int, lo: int, hi: int) -> int:
    if x < lo:  # pragma: no mutate (x <= lo: at x == lo it returns lo, which is x: an equivalent mutant)
        return lo
    if x > hi:
        return hi
    return x
'''
STRONG = '''\
import pytest

from calc import add_tax, clamp


@pytest.mark.falsifies("FALSIFY-CALC-001")
def test_tax_and_clamp_are_computed():
    assert add_tax(100.0) == pytest.approx(120.0)
    assert add_tax(50.0, rate=0.1) == pytest.approx(55.0)
    assert clamp(-4, 0, 3) == 0 and clamp(9, 0, 3) == 3 and clamp(2, 0, 3) == 2
'''
INERT = '''\
import pytest

from calc import add_tax, clamp


@pytest.mark.falsifies("FALSIFY-CALC-002")
def test_tax_and_clamp_run():
    assert add_tax(100.0) is not None  # true of every mutant: this test cannot fail
    clamp(9, 0, 3)
'''
NOTHING = '''\
import pytest


@pytest.mark.falsifies("FALSIFY-CALC-003")
def test_arithmetic():
    assert 1 + 1 == 2
'''


def _calc_repo(repo: Repo) -> Path:
    repo.write("calc.py", SUBJECT)
    repo.write("falsifiers/test_strong.py", STRONG)
    repo.write("falsifiers/test_inert.py", INERT)
    repo.write("falsifiers/test_nothing.py", NOTHING)
    contract = repo.contract(valid_contract("calc-v1", falsifiers=[
        falsifier("FALSIFY-CALC-001", "falsifiers/test_strong.py::test_tax_and_clamp_are_computed"),
        falsifier("FALSIFY-CALC-002", "falsifiers/test_inert.py::test_tax_and_clamp_run"),
        falsifier("FALSIFY-CALC-003", "falsifiers/test_nothing.py::test_arithmetic", ship_blocking=False),
    ]))
    repo.commit_all()
    return contract


def _mutate_json(root: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict]:
    code = main(["mutate", "--root", str(root), "--format", "json", "--no-progress", *extra])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.slow
def test_strong_inert_and_no_subject_verdicts_gate_lint_and_promotion(repo: Repo,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    contract = _calc_repo(repo)
    root = ["--root", str(repo.root)]
    assert main(["verify", *root, "--format", "json"]) == 0
    capsys.readouterr()
    code, out = _mutate_json(repo.root, capsys)
    by_id = {f["falsifier_id"]: f for f in out["falsifiers"]}
    strong, inert, nothing = by_id["FALSIFY-CALC-001"], by_id["FALSIFY-CALC-002"], by_id["FALSIFY-CALC-003"]
    assert code == 1 and not out["ok"]  # a ship-blocking falsifier is INERT
    # add_tax's `+` and `*` flips are killed; `x > hi` -> `x >= hi` is an equivalent mutant and survives (the
    # one of `x < lo` is marked `# pragma: no mutate`); the default `rate = 0.2` runs at import: not the test's
    assert (strong["verdict"], strong["killed"], strong["survived"], strong["score"]) == ("STRONG", 2, 1, 66.67)
    assert strong["subject"] == ["calc.py (6 lines)"]
    assert [s["diff"] for s in strong["survivors"]] == ["if x > hi: -> if x >= hi:"]
    assert inert["verdict"] == "INERT" and inert["killed"] == 0 and inert["survived"] == 3
    diffs = {s["diff"] for s in inert["survivors"] if s["file"] == "calc.py" and s["line"] == 3}
    assert "return price + price * rate -> return price - price * rate" in diffs
    assert nothing["verdict"] == "NO-SUBJECT" and nothing["generated"] == 0

    assert main(["lint", *root, "--format", "json"]) == 1
    lint = json.loads(capsys.readouterr().out)
    assert [g["name"] for g in lint["gates"] if not g["passed"]] == ["inert"]
    errors = [d for d in lint["diagnostics"] if d["code"] == "inert" and d["severity"] == "error"]
    assert len(errors) == 1 and "FALSIFY-CALC-002 is INERT" in errors[0]["message"]

    assert main(["promote", str(contract), "--to", "FUNCTIONAL", *root]) == 1
    refusal = capsys.readouterr().out
    assert "FALSIFY-CALC-002: mutation verdict INERT" in refusal and "FALSIFY-CALC-001" not in refusal

    # --changed: nothing changed, nothing re-runs; strengthening the inert test re-runs it alone
    code, again = _mutate_json(repo.root, capsys, "--changed")
    assert [f["kept"] for f in again["falsifiers"]] == [True, True, True] and again["mutants_run"] == 0
    repo.write("falsifiers/test_inert.py", INERT.replace("is not None", "== pytest.approx(120.0)"))
    code, fixed = _mutate_json(repo.root, capsys, "--changed")
    kept = {f["falsifier_id"]: f["kept"] for f in fixed["falsifiers"]}
    assert kept == {"FALSIFY-CALC-001": True, "FALSIFY-CALC-002": False, "FALSIFY-CALC-003": True}
    assert code == 0 and fixed["falsifiers"][1]["verdict"] == "STRONG"
    assert main(["verify", *root, "--changed", "--format", "json"]) == 0
    capsys.readouterr()
    assert main(["promote", str(contract), "--to", "FUNCTIONAL", *root]) == 0


@pytest.mark.slow
def test_sigkill_mid_run_leaves_the_repository_clean(repo: Repo) -> None:
    """Mutants are imported through an overlay, never written: a SIGKILL at any moment changes nothing."""
    repo.write("falsifiers/test_strong.py", STRONG.replace(
        "def test_tax_and_clamp_are_computed():", "def test_tax_and_clamp_are_computed():\n    import time\n"
        "    time.sleep(0.4)"))
    _calc_repo(repo)
    assert repo.git("status", "--porcelain", "--ignored") == ""
    proc = subprocess.Popen([sys.executable, "-m", "pv.cli", "mutate", "--root", str(repo.root), "--no-ledger"],
                            cwd=repo.root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    assert proc.stderr is not None
    seen = []
    while not any("FALSIFY-CALC-001: " in line and "to run" in line for line in seen):
        line = proc.stderr.readline()
        assert line, f"pv mutate ended before its mutants ran: {seen}"
        seen.append(line)
    time.sleep(0.3)  # the clean runs are done and the first mutants (each a 0.4 s test) are in flight
    assert proc.poll() is None, "pv mutate finished before it could be killed; make the fixture slower"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(1.0)  # let orphaned workers notice and stop
    assert repo.git("status", "--porcelain", "--ignored") == ""
    assert (repo.root / "calc.py").read_text() == SUBJECT


@pytest.mark.slow
def test_the_arch_009_test_kills_the_relaxed_bound_turned_strict() -> None:
    """FALSIFY-ARCH-009's test must kill the mutant that turns the relaxed `<=` of the vocab gate into `<`."""
    from pv.mutate.mutants import mutants_of
    from pv.mutate.runner import WorkerPool
    from pv.mutate.verdict import Status, classify

    root = Path(__file__).resolve().parents[2]
    rel = "trainer/preflight.py"
    mutants = [m for m in mutants_of(rel, (root / rel).read_text(encoding="utf-8"))
               if m.diff == "within_bound = space <= model_vocab -> within_bound = space < model_vocab"]
    assert len(mutants) == 1, "the <= -> < mutant of the relaxed vocab gate is no longer made"
    node = "falsifiers/test_arch_polymorphic.py::test_relaxed_bound_accepts_reserved_slots"
    with WorkerPool(root, 1) as pool:
        assert classify(pool, root, node, mutants[0], timeout_s=120) is Status.KILLED
        # and the same run against an unrelated mutant that cannot matter to the bound survives
        unrelated = next(m for m in mutants_of(rel, (root / rel).read_text(encoding="utf-8"))
                         if m.diff.startswith("INITFT_CONTRACT = "))
        assert classify(pool, root, node, unrelated, timeout_s=120) is Status.SURVIVED


def test_mutants_are_mutmuts_one_per_site_and_the_sample_is_even_and_stable() -> None:
    from pv.mutate.mutants import mutants_of
    from pv.mutate.session import sample

    made = mutants_of("calc.py", SUBJECT)
    # the pragma'd `x < lo` makes none; no string-literal rewrites (the docstring is left alone)
    assert [m.diff for m in made] == [
        "def add_tax(price: float, rate: float = 0.2) -> float: -> "
        "def add_tax(price: float, rate: float = 1.2) -> float:",
        "return price + price * rate -> return price + price / rate",
        "return price + price * rate -> return price - price * rate",
        "if x > hi: -> if x >= hi:",
    ]
    assert all(compile(m.source, "calc.py", "exec") for m in made)
    assert mutants_of("calc.py", SUBJECT, lines={3}) == made[1:3]  # only the lines asked for
    chosen, left_out = sample(made, 2)
    assert left_out == 2 and len(chosen) == 2 and sample(list(reversed(made)), 2) == (chosen, 2)
    assert sample(made, 0) == (made, 0) and sample(made, 9) == (made, 0)
