"""benchmarks/gpu_check.py: says "no CUDA" and exits 0 here, plans well-formed commands, judges honestly.

The GPU run itself cannot happen on a CPU machine; what can be shown here is that the plan's
every command parses with the real CLIs, that a stage that overruns is killed with its children,
that all-skipped CUDA tests are judged "not run", that a failed contract check fails the stage,
and (``--simulate-cpu``) that the whole pipeline runs and writes at most 8 evidence files.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "gpu_check.py"
NAME_OK = re.compile(r"^[A-Za-z0-9._-]+$")  # what a device machine hands back


def _load(name: str):
    """A benchmarks/ script as a module (benchmarks/ is not a package)."""
    key = f"benchmarks_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, ROOT / "benchmarks" / f"{name}.py")
        assert spec is not None and spec.loader is not None
        sys.modules[key] = importlib.util.module_from_spec(spec)  # dataclasses look their module up
        spec.loader.exec_module(sys.modules[key])
    return sys.modules[key]


gc = _load("gpu_check")


def _run(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, check=False)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is present: gpu_check would really run")
def test_without_cuda_it_says_so_exits_zero_and_writes_nothing(tmp_path: Path) -> None:
    proc = _run("--out", str(tmp_path / "ev"))
    assert proc.returncode == 0, proc.stderr
    assert "no CUDA device" in proc.stdout and "skipped" in proc.stdout
    assert not (tmp_path / "ev").exists()


def test_dry_run_plan_is_well_formed(tmp_path: Path) -> None:
    proc = _run("--dry-run", "--json", "--out", str(tmp_path / "ev"), "--work", str(tmp_path / "w"))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert [s["name"] for s in doc["stages"]] == ["cuda-tests", "initft-data", "initft-init", "initft-live", "bench"]
    assert doc["budget_s"] < 8 * 60
    assert all(0 < s["budget_s"] <= doc["budget_s"] for s in doc["stages"])
    from apr.cli import build_parser

    bench_parser = _load("bench_train").build_parser()
    for stage in doc["stages"]:
        for cmd in stage["commands"]:
            assert cmd[0] == sys.executable and all(isinstance(c, str) for c in cmd)
            if cmd[1:3] == ["-m", "apr"]:
                build_parser().parse_args(cmd[3:])  # SystemExit on any flag the CLI does not take
            elif cmd[1].endswith("bench_train.py"):
                bench_parser.parse_args(cmd[2:])
            elif cmd[1:3] == ["-m", "pytest"]:
                assert "tests/trainer/test_cuda.py" in cmd and (ROOT / "tests/trainer/test_cuda.py").is_file()
    by_name = {s["name"]: s for s in doc["stages"]}
    bench = by_name["bench"]["commands"][0]
    for flag in ("--shape qwen2-0.5b", "--device cuda", "--dtype bf16", "--isolate none"):
        assert flag in shlex.join(bench), flag
    assert {"hf", "apr", "apr-compile"} <= set(bench[bench.index("--variants") + 1].split(","))
    # The LIVE command is the contract's, flag for flag, with paths and the schedule substituted.
    contract = shlex.split(doc["live_command_contract"])
    live = by_name["initft-live"]["commands"][0][3:]
    assert [t for t in live if t.startswith("--")][: len([t for t in contract if t.startswith("--")])] == [
        t for t in contract[1:] if t.startswith("--")]
    assert live[live.index("--init") + 1] == str(tmp_path / "w" / "hf_init")
    assert live[live.index("--mode") + 1] == "from-init" and live[live.index("--device") + 1] == "cuda"
    assert {f["id"] for f in doc["live_falsifiers"]} == {"FALSIFY-INITFT-002", "FALSIFY-INITFT-006"}


def test_text_dry_run_lists_every_command() -> None:
    proc = _run("--dry-run")
    assert proc.returncode == 0
    assert proc.stdout.count("  $ ") >= 5 and "[bench]" in proc.stdout and "bench_train.py" in proc.stdout


def test_substitute_refuses_a_missing_flag() -> None:
    assert gc.substitute(["apr", "--steps", "500"], {"--steps": "6"}) == ["apr", "--steps", "6"]
    with pytest.raises(SystemExit, match="--out"):
        gc.substitute(["apr", "--steps", "500"], {"--out": "x"})


def test_a_stage_over_its_budget_is_killed_with_its_children(tmp_path: Path) -> None:
    log = gc.Log(tmp_path / "log")
    child = tmp_path / "child.pid"
    cmd = [sys.executable, "-c", f"import subprocess,sys,time; p=subprocess.Popen([sys.executable,'-c',"
           f"'import time; time.sleep(60)']); open({str(child)!r},'w').write(str(p.pid)); print('up', flush=True); "
           f"time.sleep(60)"]
    t0 = time.monotonic()
    code, out = gc.run_command(cmd, 3.0, log, "t", env=dict(__import__("os").environ))
    log.close()
    assert code is None and "up" in out
    assert time.monotonic() - t0 < 30
    pid = int(child.read_text())
    time.sleep(0.5)
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
    assert "TIMEOUT" in (tmp_path / "log").read_text()


def _junit(path: Path, cases: list[str]) -> None:
    body = "".join(f'<testcase name="t{i}" time="0.1">{c}</testcase>' for i, c in enumerate(cases))
    path.write_text(f'<?xml version="1.0"?><testsuites><testsuite>{body}</testsuite></testsuites>')


@pytest.mark.parametrize(
    ("cases", "status"),
    [
        (['<skipped message="needs a CUDA device"/>'] * 3, "not-run"),
        (["", '<skipped message="x"/>'], "pass"),
        (["", '<failure message="boom"/>'], "fail"),
        (["", '<error message="boom"/>'], "fail"),
        (["", ""], "pass"),
    ],
)
def test_cuda_stage_is_judged_on_its_junit(tmp_path: Path, cases: list[str], status: str) -> None:
    _junit(tmp_path / "pytest-cuda.xml", cases)
    res = gc.StageResult("cuda-tests", "pass" if status != "fail" else "fail")
    gc.judge_cuda_tests(res, tmp_path)
    assert res.status == status


def _info() -> dict:
    text, _, falsifiers = gc.live_command()
    return {"live_command_contract": text,
            "live_falsifiers": [{k: f.get(k) for k in ("id", "check")} for f in falsifiers]}


def _summary(work: Path, **over) -> None:
    s = {"status": "ok", "exit_code": 0, "steps_completed": 60, "step_0_loss": 5.0, "vocab_size": 151_936,
         "wall_s": 100.0, "final_val_loss": 4.0}
    s.update(over)
    (work / "initft").mkdir(parents=True, exist_ok=True)
    (work / "initft" / "summary.json").write_text(json.dumps(s))


@pytest.mark.parametrize(
    ("over", "output", "status"),
    [
        ({}, "", "pass"),
        ({"steps_completed": 59}, "", "fail"),  # the contract's steps check, with --steps substituted
        ({"step_0_loss": 11.9}, "", "fail"),  # init weights did not flow
        ({"wall_s": 4000.0}, "", "fail"),
        ({}, "torch.OutOfMemoryError: CUDA out of memory", "fail"),
    ],
)
def test_live_stage_applies_the_contract_checks(tmp_path: Path, over: dict, output: str, status: str) -> None:
    _summary(tmp_path, **over)
    res = gc.StageResult("initft-live", "pass")
    gc.judge_live(res, tmp_path, _info(), 60, output)
    assert res.status == status, res.detail
    assert any(c["falsifier"] == "FALSIFY-INITFT-006" and c["evaluated"].endswith("== 60") for c in res.data["checks"])


@pytest.mark.slow
def test_simulated_run_writes_honest_evidence(tmp_path: Path) -> None:
    out = tmp_path / "ev"
    proc = _run("--simulate-cpu", "--out", str(out), "--work", str(tmp_path / "w"), "--label", "test")
    report = json.loads((out / "report.json").read_text())
    stages = {s["name"]: s for s in report["stages"]}
    assert proc.returncode == 1, proc.stdout[-3000:]  # no CUDA test ran, so the check cannot pass
    assert report["simulated_on_cpu"] is True and report["overall"] == "fail"
    assert stages["cuda-tests"]["status"] == "not-run" and stages["cuda-tests"]["data"]["passed"] == 0
    for name in ("initft-data", "initft-init", "initft-live", "bench"):
        assert stages[name]["status"] == "pass", (name, stages[name])
    assert all(c["holds"] for c in stages["initft-live"]["data"]["checks"])
    assert set(stages["bench"]["data"]["results"]) == {"hf", "apr"}
    files = sorted(p.name for p in out.iterdir())
    assert len(files) <= 8 and all(NAME_OK.match(f) for f in files), files
    assert {"report.json", "README.md", "gpu_check.log", "pytest-cuda.xml", "bench.json",
            "initft.summary.json"} <= set(files)
    readme = (out / "README.md").read_text()
    assert "CPU SIMULATION" in readme and "| cuda-tests | not-run |" in readme
    assert report["environment"]["label"] == "test" and len(report["environment"]["source_sha256"]) == 64


def test_missing_modules_are_named_before_anything_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    assert gc.missing_modules() == []  # this environment has everything the stages import
    monkeypatch.setattr(gc, "REQUIRED_MODULES", ("trainer.loop", "no_such_module_for_gpu_check"))
    assert gc.missing_modules() == ["no_such_module_for_gpu_check"]


def test_a_stage_after_the_deadline_is_not_run(tmp_path: Path) -> None:
    log = gc.Log(tmp_path / "log")
    stage = gc.Stage("late", "never starts", [[sys.executable, "-c", "open('ran', 'w')"]], 60)
    res, output = gc.run_stage(stage, time.monotonic() - 1, log, env={})
    log.close()
    assert (res.status, output) == ("not-run", "") and not (ROOT / "ran").exists()
    assert "deadline has passed" in (tmp_path / "log").read_text()
