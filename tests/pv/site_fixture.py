"""A small project whose report has every kind of falsifier: passing, failing, stale, LIVE not run, unbound.

Verdicts come from a real ``pv verify`` run (one short pytest subprocess); the stale one is made
stale the honest way, by editing its test after the run. The repository is not a git checkout,
so freshness is judged per test file and only the edited falsifier goes stale. An evidence
folder with a ``metrics.jsonl`` gives the report something to plot, and the description carries
markup that must come out as text.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

from pv.verify import verify
from pv.workspace import Workspace
from tests.pv.conftest import Repo, falsifier, valid_contract

HOSTILE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'

FIXTURE_IDS = {
    "FALSIFY-SITE-001": "pass",
    "FALSIFY-SITE-002": "fail",
    "FALSIFY-SITE-003": "stale",
    "FALSIFY-SITE-004": "LIVE not run",
    "FALSIFY-SITE-005": "not bound",
    "FALSIFY-SITE-006": "pass",
    "FALSIFY-BASE-001": "pass",
}

LIVE_COMMAND = f"LIVE: {shlex.quote(sys.executable)} scripts/train_stub.py"
TRAIN_STUB = """\
import json, os, pathlib
rows = [{"kind": "train", "step": s, "loss": 6.0 - 0.1 * s, "tokens_per_s": 500.0} for s in range(20)]
rows += [{"kind": "eval", "step": 19, "val_loss": 4.2}]
series = pathlib.Path(os.environ["PV_EVIDENCE_DIR"], "run.metrics.jsonl")
series.write_text("".join(json.dumps(r) + "\\n" for r in rows))
pathlib.Path("out").mkdir(exist_ok=True)
pathlib.Path("out/summary.json").write_text(json.dumps({"final_val_loss": 4.2, "steps_completed": 20}))
"""


def build_fixture(repo: Repo) -> Path:
    repo.write("falsifiers/test_ok.py", _test("FALSIFY-SITE-001", "test_ok", "assert 1 + 1 == 2"))
    repo.write("falsifiers/test_bad.py", _test("FALSIFY-SITE-002", "test_bad", "assert 1 + 1 == 3, 'arithmetic broke'"))
    repo.write("falsifiers/test_drift.py", _test("FALSIFY-SITE-003", "test_drift", "assert True"))
    repo.write("falsifiers/test_base.py", _test("FALSIFY-BASE-001", "test_base", "assert 2 > 1"))
    repo.write("scripts/train_stub.py", TRAIN_STUB)
    equations = {"sum": {"formula": "1 + 1 == 2"}, "drift": {"formula": "code == tested code"}}
    base = valid_contract("site-base-v1", falsifiers=[
        falsifier("FALSIFY-BASE-001", "falsifiers/test_base.py::test_base", applies_to=["bound"])])
    site = valid_contract("site-demo-v1", description=f"A demo contract. {HOSTILE}", depends_on=["site-base-v1"],
                          falsifiers=[
                              falsifier("FALSIFY-SITE-001", "falsifiers/test_ok.py::test_ok", applies_to=["sum"]),
                              falsifier("FALSIFY-SITE-002", "falsifiers/test_bad.py::test_bad", applies_to=["sum"]),
                              falsifier("FALSIFY-SITE-003", "falsifiers/test_drift.py::test_drift",
                                        applies_to=["drift"]),
                              falsifier("FALSIFY-SITE-004", "LIVE: python -c 'print(1)'", ship_blocking=False),
                              falsifier("FALSIFY-SITE-005", ship_blocking=False),
                              falsifier("FALSIFY-SITE-006", LIVE_COMMAND, ship_blocking=False,
                                        check="steps_completed == 20 and final_val_loss < 5",
                                        metrics_file="out/summary.json", applies_to=["sum"]),
                          ])
    site["equations"] = equations
    site["proof_obligations"] = [
        {"type": "equivalence", "property": "Addition works.", "applies_to": ["sum"]},
        {"type": "invariant", "property": "Verdicts describe the code.", "applies_to": ["drift"]},
        {"type": "safety", "property": "Nothing tests this yet.", "applies_to": []},
    ]
    repo.contract(base)
    repo.contract(site)
    demo = repo.root / "contracts" / "site-demo-v1.yaml"
    report = verify(Workspace(repo.root), [repo.root / "contracts" / "site-base-v1.yaml", demo])
    outcomes = {v.entry.falsifier_id: v.entry.outcome.value for v in report.verdicts}
    assert outcomes["FALSIFY-SITE-002"] == "fail" and outcomes["FALSIFY-SITE-003"] == "pass", outcomes
    live = verify(Workspace(repo.root), [demo], patterns=["FALSIFY-SITE-006"], live=True)
    assert [v.entry.outcome.value for v in live.verdicts] == ["pass"], live.verdicts[0].entry.reason
    repo.write("falsifiers/test_drift.py", _test("FALSIFY-SITE-003", "test_drift", "assert True  # edited since"))

    run = repo.root / "evidence" / "site-demo-v1" / "20260101T000000Z"
    run.mkdir(parents=True)
    rows = [{"kind": "eval", "step": 0, "val_loss": 9.0}]
    for step in range(30):
        rows.append({"kind": "train", "step": step, "loss": 9.0 - 0.2 * step, "tokens_per_s": 1000.0 + step})
        if step % 10 == 9:
            rows.append({"kind": "eval", "step": step, "val_loss": 9.2 - 0.2 * step})
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows) + "{not json\n")
    (run / "README.md").write_text(f"# A hand-recorded run\n\nLoss fell from 9.0 to 3.2. {HOSTILE}\n")
    return repo.root


def _test(fid: str, name: str, body: str) -> str:
    return f"import pytest\n\n\n@pytest.mark.falsifies({fid!r})\ndef {name}():\n    {body}\n"
