"""Falsifiers of apr-pretrain-distributed-v1: multi-process data parallelism on CPU (gloo), for real.

The runs are real: ``torchrun --nproc-per-node 2`` (as ``python -m torch.distributed.run``) launching
the unchanged ``apr pretrain`` CLI through ``tests/trainer/dist_driver.py``, which only observes
(window ids drawn, file writes, process-group inits) and injects faults at step boundaries. The
model is the test-tiny preset (vocab 512, hidden 32, 2 layers), seq 16, 6 steps.

Tolerances (fp32 on CPU, documented in the contract):
  * equivalence (2 ranks x B/2 vs 1 rank x B): per-step train loss, grad norm and every val_loss
    within REL_TOL = 1e-5 relative; every checkpoint tensor within PARAM_ATOL = 1e-4 absolute.
    Measured when written: DDP max |dparam| 8.4e-7, FSDP 2.3e-6; losses agree to ~4e-8 relative.
    The residue is float summation order (gloo's sum-then-divide vs one batched backward).
  * resume (interrupted + resumed vs uninterrupted, same world size): the same float tolerances
    (usually exactly 0.0, but two *uninterrupted* 2-process CPU runs were once seen to differ by
    one float32 ulp in a grad norm, so bitwise equality would be a flaky claim); the data position
    (window ids drawn after the resume) and the lr schedule are compared exactly.

Each assertion helper is shown to fail on a deliberately broken input in this module (an
overlapping rank slicer, a non-rank-0 writer, a perturbed run, a resume that skips the optimizer,
a process group started before preflight), so no falsifier here can pass vacuously.
"""

from __future__ import annotations

import io
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from tests.trainer import dist_launch as L
from tests.trainer.conftest import toy_run_dir
from trainer.apr_format import AprFile, read_apr
from trainer.data import TrainSampler
from trainer.distributed import DistContext, rank_slice

REL_TOL = 1e-5
PARAM_ATOL = 1e-4
B = 4  # global batch; 2 ranks take B/2 each
SAVE_EVERY = 4
KILL_AT = 5  # interrupted runs die after step 5, one step past the last resume point


# --------------------------------------------------------------------------------------------------
# assertion helpers (each one has a negative control below)


def records(run_dir: Path, kind: str) -> dict[int, dict[str, Any]]:
    """metrics.jsonl records of one kind, by step (a later record for the same step wins)."""
    out: dict[int, dict[str, Any]] = {}
    for line in (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        if r["kind"] == kind:
            out[int(r["step"])] = r
    return out


def _close(a: float, b: float, rel: float) -> bool:
    return a == b if rel == 0 else math.isclose(a, b, rel_tol=rel, abs_tol=0.0)


def assert_runs_match(ref: Path, other: Path, *, rel: float = REL_TOL, atol: float = PARAM_ATOL) -> float:
    """Same trajectory: per-step loss / grad norm / lr, every shared val_loss, same checkpoint. Returns max |dparam|."""
    rt, ot = records(ref, "train"), records(other, "train")
    assert sorted(rt) == sorted(ot) and rt, f"steps differ: {sorted(rt)} vs {sorted(ot)}"
    for s in rt:
        for key in ("loss", "grad_norm"):
            assert _close(rt[s][key], ot[s][key], rel), f"step {s} {key}: {rt[s][key]!r} vs {ot[s][key]!r}"
        assert rt[s]["lr"] == ot[s]["lr"], f"step {s} lr: {rt[s]['lr']!r} vs {ot[s]['lr']!r}"  # a pure schedule
    rv, ov = records(ref, "eval"), records(other, "eval")
    shared = sorted(set(rv) & set(ov))
    assert 0 in shared and max(rt) + 1 in shared, f"eval steps {sorted(rv)} vs {sorted(ov)}"
    for s in shared:
        assert _close(rv[s]["val_loss"], ov[s]["val_loss"], rel), f"val_loss@{s}: {rv[s]} vs {ov[s]}"
    with AprFile(ref / "checkpoint.apr") as fa, AprFile(other / "checkpoint.apr") as fb:
        strip = lambda m: {k: v for k, v in m.items() if k != "provenance"}  # noqa: E731
        assert strip(fa.metadata) == strip(fb.metadata)
        ta, tb = fa.tensors(), fb.tensors()
    layout = lambda ts: [(n, t.dtype, tuple(t.shape)) for n, t in ts.items()]  # noqa: E731
    assert layout(ta) == layout(tb)
    worst = max(float((ta[n] - tb[n]).abs().max()) for n in ta)
    assert worst <= atol, f"checkpoint tensors differ by up to {worst:.3g} > {atol:g}"
    return worst


def assert_rank_batches_partition(per_rank: list[list[list[int]]], single: list[list[int]], n_train: int) -> None:
    """At every step the ranks' window ids are pairwise disjoint, all training ids, and together the 1-rank batch."""
    steps = len(single)
    assert steps > 0 and all(len(r) == steps for r in per_rank), "ranks drew a different number of batches"
    for s in range(steps):
        sets = [set(r[s]) for r in per_rank]
        for i in range(len(sets)):
            for j in range(i + 1, len(sets)):
                assert not sets[i] & sets[j], f"step {s}: ranks {i} and {j} share windows {sorted(sets[i] & sets[j])}"
        union = set().union(*sets)
        assert union == set(single[s]), f"step {s}: ranks cover {sorted(union)}, one process takes {sorted(single[s])}"
        assert all(0 <= w < n_train for w in union), f"step {s}: a window outside the training range"


def assert_only_rank0_wrote(reports: dict[int, dict[str, Any]]) -> None:
    assert set(reports) == {0, 1}, f"missing rank reports: {sorted(reports)}"
    assert reports[0]["writes"], "rank 0 wrote nothing: the write audit is not seeing writes"
    for r, rep in reports.items():
        if r != 0:
            assert rep["writes"] == [], f"rank {r} wrote files: {rep['writes'][:5]}"


def assert_no_collective_before_failure(init_calls: list[Any]) -> None:
    assert init_calls == [], f"a process group was started before the input gates failed: {init_calls}"


# --------------------------------------------------------------------------------------------------
# the real runs, shared by the tests of this module


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return toy_run_dir(tmp_path_factory.mktemp("dist"))


def _args(env: dict[str, Path], out: str, **over: Any) -> list[str]:
    return L.pretrain_args(env["shards"], env["tok"], env["root"] / out, **over)


def _ok(launch: L.Launch) -> L.Launch:
    assert launch.returncodes == [0], launch.output[-4000:]
    return launch


@pytest.fixture(scope="module")
def single(env: dict[str, Path]) -> L.Launch:
    return _ok(L.run_single(env["root"] / "rep-single", env["root"],
                            _args(env, "single", batch_size=B, save_every=SAVE_EVERY)))


@pytest.fixture(scope="module")
def ddp(env: dict[str, Path]) -> L.Launch:
    return _ok(L.run_torchrun(2, env["root"] / "rep-ddp", env["root"],
                              _args(env, "ddp", batch_size=B // 2, save_every=SAVE_EVERY)))


@pytest.fixture(scope="module")
def fsdp(env: dict[str, Path]) -> L.Launch:
    return _ok(L.run_torchrun(2, env["root"] / "rep-fsdp", env["root"],
                              _args(env, "fsdp", batch_size=B // 2, fsdp=True)))


# --------------------------------------------------------------------------------------------------
# FALSIFY-DIST-001: rank-disjoint training data


@pytest.mark.falsifies("FALSIFY-DIST-001")
def test_rank_slices_are_disjoint(env: dict[str, Path], single: L.Launch, ddp: L.Launch) -> None:
    per_rank = [ddp.reports[r]["train_ids"] for r in (0, 1)]
    n_train = json.loads((env["root"] / "single" / "summary.json").read_text())["train_windows"]
    assert_rank_batches_partition(per_rank, single.reports[0]["train_ids"], n_train)
    # The same property for the sampler alone at other world sizes, two epochs deep.
    for world in (2, 3, 4):
        steps = 2 * (200 // (3 * world))  # both epochs
        global_batches = [list(b) for b in _draw(TrainSampler(200, 3 * world, seed=7, max_epochs=2), steps)]
        ranks = [TrainSampler(200, 3, seed=7, max_epochs=2, rank=r, world_size=world) for r in range(world)]
        assert_rank_batches_partition([[list(b) for b in _draw(s, steps)] for s in ranks], global_batches, 200)


def _draw(sampler: Any, n: int) -> list[np.ndarray]:
    return [sampler.next_batch() for _ in range(n)]


def test_overlapping_slicer_is_caught() -> None:
    """Negative control: a slicer that gives every rank the first slice must fail the same helper."""

    class Overlapping(TrainSampler):
        def next_batch(self) -> np.ndarray:
            super().next_batch()  # advances the position
            start = (self.cursor - 1) * self.global_batch  # the bug: ignores self.rank
            return self._permutation()[start : start + self.batch_size]

    world, steps = 2, 5
    single = [list(b) for b in _draw(TrainSampler(100, 4, seed=1), steps)]
    slicers = [Overlapping(100, 2, seed=1, rank=r, world_size=world) for r in range(world)]
    broken = [[list(b) for b in _draw(s, steps)] for s in slicers]
    with pytest.raises(AssertionError, match="share windows"):
        assert_rank_batches_partition(broken, single, 100)


# --------------------------------------------------------------------------------------------------
# FALSIFY-DIST-002: validation all-reduced, identical on every rank


@pytest.mark.falsifies("FALSIFY-DIST-002")
def test_validation_is_identical_on_every_rank(single: L.Launch, ddp: L.Launch) -> None:
    evals = {r: [h["val_loss"] for h in ddp.reports[r]["history"] if h["kind"] == "eval"] for r in (0, 1)}
    assert len(evals[0]) == 3 and evals[0] == evals[1]  # bitwise: one all-reduced number
    ref = [h["val_loss"] for h in single.reports[0]["history"] if h["kind"] == "eval"]
    assert all(_close(a, b, REL_TOL) for a, b in zip(ref, evals[0], strict=True)), (ref, evals[0])
    ids = list(range(13))
    parts = [rank_slice(ids, DistContext(rank=r, world_size=3)) for r in range(3)]
    assert [len(p) for p in parts] == [4, 4, 4] and len(set().union(*map(set, parts))) == 12


# --------------------------------------------------------------------------------------------------
# FALSIFY-DIST-003: only rank 0 writes


@pytest.mark.falsifies("FALSIFY-DIST-003")
def test_only_rank0_writes(env: dict[str, Path], ddp: L.Launch) -> None:
    assert_only_rank0_wrote(ddp.reports)
    written = {w.split(":", 1)[1] for w in ddp.reports[0]["writes"]}
    out = env["root"] / "ddp"
    for name in ("checkpoint.apr", "summary.json", "metrics.jsonl", "train.log", "resume/latest.json",
                 f"resume/step-{SAVE_EVERY:08d}"):
        assert str(out / name) in written, f"rank 0's write of {name} was not seen: {sorted(written)[:8]}"


def test_non_rank0_writer_is_caught(tmp_path: Path) -> None:
    """Negative control: a rank-1 process that saves a checkpoint (a missing ``is_main`` guard) is caught."""
    script = (
        "import json, sys; from pathlib import Path\n"
        "from tests.trainer.dist_driver import Observer\n"
        "root = Path(sys.argv[1]); obs = Observer(root); sys.addaudithook(obs.audit)\n"
        "from trainer.checkpoint import save_model\nfrom trainer.config import PRESETS\n"
        "from trainer.model import CausalLM\n"
        "save_model(CausalLM(PRESETS['test-tiny']), root / 'run' / 'checkpoint.apr', {})\n"
        "obs.active = False; print(json.dumps(obs.writes))\n"
    )
    p = subprocess.run([sys.executable, "-c", script, str(tmp_path)], cwd=L.REPO, capture_output=True, text=True,
                       timeout=60, env=L._env())
    assert p.returncode == 0, p.stderr
    rogue = json.loads(p.stdout.splitlines()[-1])
    reports = {0: {"writes": [f"open:{tmp_path}/run/summary.json"]}, 1: {"writes": rogue}}
    with pytest.raises(AssertionError, match="rank 1 wrote files"):
        assert_only_rank0_wrote(reports)


# --------------------------------------------------------------------------------------------------
# FALSIFY-DIST-004 / 005: 2 ranks x B/2 reproduce 1 rank x B (DDP, FSDP2)


@pytest.mark.falsifies("FALSIFY-DIST-004")
def test_ddp_two_ranks_match_single_process(env: dict[str, Path], single: L.Launch, ddp: L.Launch) -> None:
    worst = assert_runs_match(env["root"] / "single", env["root"] / "ddp")
    print(f"DDP 2x{B // 2} vs 1x{B}: max |dparam| = {worst:.3g}")


@pytest.mark.falsifies("FALSIFY-DIST-005")
def test_fsdp_two_ranks_match_single_process(env: dict[str, Path], single: L.Launch, fsdp: L.Launch) -> None:
    assert "grad_norm" in records(env["root"] / "fsdp", "train")[0]
    worst = assert_runs_match(env["root"] / "single", env["root"] / "fsdp")
    print(f"FSDP2 2x{B // 2} vs 1x{B}: max |dparam| = {worst:.3g}")


def test_equivalence_helper_catches_a_perturbed_run(env: dict[str, Path], single: L.Launch, tmp_path: Path) -> None:
    """Negative control: a run whose step-3 grad norm is off by 1e-4 relative (e.g. a norm that skips a
    parameter group, as FSDP2's transient root params once did here) fails the same helper."""
    src = env["root"] / "single"
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "checkpoint.apr").write_bytes((src / "checkpoint.apr").read_bytes())
    lines = []
    for line in (src / "metrics.jsonl").read_text().splitlines():
        r = json.loads(line)
        if r["kind"] == "train" and r["step"] == 3:
            r["grad_norm"] *= 1 + 1e-4
        lines.append(json.dumps(r))
    (bad / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(AssertionError, match="step 3 grad_norm"):
        assert_runs_match(src, bad)


# --------------------------------------------------------------------------------------------------
# FALSIFY-DIST-006: preflight fails fast on every rank, before any collective


def _record_inits(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    calls: list[Any] = []

    def fake_init(*a: Any, **kw: Any) -> None:
        calls.append(kw or a)
        raise RuntimeError("test: init_process_group must not be reached")

    monkeypatch.setattr(torch.distributed, "init_process_group", fake_init)
    return calls


@pytest.mark.falsifies("FALSIFY-DIST-006")
def test_preflight_fails_on_every_rank_before_any_collective(
    env: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from apr.cli import main as apr_main

    bad_tok = tmp_path / "tok500.json"
    bad_tok.write_text(json.dumps({"effective_vocab_count": 500}))
    calls = _record_inits(monkeypatch)
    for rank in (0, 1):
        for k, v in {"RANK": rank, "LOCAL_RANK": rank, "WORLD_SIZE": 2, "MASTER_ADDR": "127.0.0.1",
                     "MASTER_PORT": L.free_port()}.items():
            monkeypatch.setenv(k, str(v))
        args = L.pretrain_args(env["shards"], bad_tok, tmp_path / f"out{rank}", batch_size=2)
        assert apr_main(args) == 2
        err = capsys.readouterr().err
        assert "500" in err and "512" in err and "FALSIFY-ARCH" in err, err
        assert_no_collective_before_failure(calls)
        assert not (tmp_path / f"out{rank}" / "checkpoint.apr").exists()


def test_collective_before_preflight_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """Negative control: a loop that started the process group first would be caught by the same helper."""
    from trainer import distributed

    calls = _record_inits(monkeypatch)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    with pytest.raises(RuntimeError, match="must not be reached"):
        distributed.start(distributed.context_from_env(), torch.device("cpu"), 5)
    with pytest.raises(AssertionError, match="process group was started"):
        assert_no_collective_before_failure(calls)


# --------------------------------------------------------------------------------------------------
# FALSIFY-DIST-007 / 008: a dead or stalled rank fails the job with a clear message, no hang


@pytest.mark.falsifies("FALSIFY-DIST-007")
def test_dead_rank_fails_job_with_clear_message(env: dict[str, Path]) -> None:
    launch = L.run_plain_ranks(2, env["root"] / "rep-dead", env["root"], _args(env, "dead", batch_size=2,
                               dist_timeout=10), fault=["--fault", "exit", "--fault-rank", "1", "--fault-step", "2"])
    assert launch.returncodes == [5, 17], launch.output
    assert "rank 0 of 2 stopped" in launch.output and "another rank probably exited or stalled" in launch.output
    assert not (env["root"] / "dead" / "checkpoint.apr").exists()


@pytest.mark.falsifies("FALSIFY-DIST-008")
def test_stalled_rank_times_out_instead_of_hanging(env: dict[str, Path]) -> None:
    # No launcher supervises these ranks: only the trainer's collective timeout can end rank 0.
    # The subprocess timeout (60 s) is a hang backstop, not a speed target.
    launch = L.run_plain_ranks(2, env["root"] / "rep-stall", env["root"], _args(env, "stall", batch_size=2,
                               dist_timeout=10), fault=["--fault", "hang", "--fault-rank", "1", "--fault-step", "2"],
                               timeout=60)
    assert launch.returncodes[0] == 5, launch.output
    assert "rank 0 of 2 stopped" in launch.output and "time out after 10 s" in launch.output
    assert "Timed out" in launch.output or "timed out" in launch.output
    assert not (env["root"] / "stall" / "checkpoint.apr").exists()


# --------------------------------------------------------------------------------------------------
# FALSIFY-DIST-009 / 010: --resume matches an uninterrupted run (1 process, 2 processes)


class _Preempted(Exception):
    pass


def _run_in_process(env: dict[str, Path], out: Path, *, kill_at: int | None = None, **over: Any) -> Any:
    from trainer.loop import run_pretrain
    from trainer.run_config import RunConfig

    opts = {**L.TINY, "batch_size": B, "save_every": SAVE_EVERY, **over}
    cfg = RunConfig(mode="from-scratch", model_config_name="test-tiny", tokenizer=env["tok"], shards_dir=env["shards"],
                    out=out, device="cpu", progress="off", **opts)

    def on_step(run: Any) -> None:
        if kill_at is not None and run.step == kill_at:
            raise _Preempted

    return run_pretrain(cfg, stream=io.StringIO(), on_step=on_step)


@pytest.fixture(scope="module")
def uninterrupted_single(env: dict[str, Path]) -> Path:
    out = env["root"] / "inproc-ref"
    assert _run_in_process(env, out).exit_code == 0
    return out


def _interrupt_and_resume(env: dict[str, Path], out: Path) -> Any:
    with pytest.raises(_Preempted):
        _run_in_process(env, out, kill_at=KILL_AT)
    assert not (out / "checkpoint.apr").exists()
    assert json.loads((out / "resume" / "latest.json").read_text())["step"] == SAVE_EVERY
    return _run_in_process(env, out, resume=out)


@pytest.mark.falsifies("FALSIFY-DIST-009")
def test_resume_single_process_matches_uninterrupted(env: dict[str, Path], uninterrupted_single: Path) -> None:
    out = env["root"] / "inproc-resumed"
    res = _interrupt_and_resume(env, out)
    assert res.exit_code == 0
    worst = assert_runs_match(uninterrupted_single, out)
    print(f"1-process resume vs uninterrupted: max |dparam| = {worst:.3g}")
    ref_sum = json.loads((uninterrupted_single / "summary.json").read_text())
    got_sum = json.loads((out / "summary.json").read_text())
    assert ref_sum["tokens_seen"] == got_sum["tokens_seen"] and ref_sum["steps_completed"] == got_sum["steps_completed"]
    for key in ("step_0_loss", "val_loss_step_0", "final_val_loss", "final_train_loss"):
        assert _close(ref_sum[key], got_sum[key], REL_TOL), key


def test_resume_that_skips_optimizer_state_is_caught(
    env: dict[str, Path], uninterrupted_single: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Negative control: a resume that forgets the optimizer state (AdamW moments, and the lr its param
    groups carry) drifts from the first resumed step, and the same comparison fails."""
    import trainer.resume

    monkeypatch.setattr(trainer.resume, "load_optimizer_full_state", lambda *a, **k: None)
    out = env["root"] / "inproc-broken"
    _interrupt_and_resume(env, out)
    with pytest.raises(AssertionError, match=r"step [45] (loss|grad_norm|lr)"):
        assert_runs_match(uninterrupted_single, out)


@pytest.mark.falsifies("FALSIFY-DIST-010")
def test_resume_two_processes_matches_uninterrupted(env: dict[str, Path], ddp: L.Launch) -> None:
    args = _args(env, "ddp-resumed", batch_size=B // 2, save_every=SAVE_EVERY)
    killed = L.run_torchrun(2, env["root"] / "rep-killed", env["root"], args,
                            fault=["--fault", "kill", "--fault-rank", "all", "--fault-step", str(KILL_AT)])
    assert killed.returncodes != [0], killed.output[-3000:]
    out = env["root"] / "ddp-resumed"
    assert not (out / "checkpoint.apr").exists()
    assert json.loads((out / "resume" / "latest.json").read_text())["step"] == SAVE_EVERY
    resumed = _ok(L.run_torchrun(2, env["root"] / "rep-resumed", env["root"], [*args, "--resume", str(out)]))
    assert f"at step {SAVE_EVERY}" in resumed.output
    for r in (0, 1):  # the data position: exactly the windows the uninterrupted run drew after step 4
        assert resumed.reports[r]["train_ids"] == ddp.reports[r]["train_ids"][SAVE_EVERY:], r
    worst = assert_runs_match(env["root"] / "ddp", out)
    print(f"2-process resume vs uninterrupted: max |dparam| = {worst:.3g}")
    _, t = read_apr(out / "checkpoint.apr")
    assert all(torch.isfinite(v).all() for v in t.values())
