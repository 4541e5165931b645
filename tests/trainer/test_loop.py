"""The loop tells the truth: measured grad norms, honest exit codes, no reuse of held-out data.

One test per defect class of the reference trainer (see the trainer issue): placeholder grad norm,
synthetic utilisation figure, held-out wrap-around (tests/trainer/test_data.py), "converged"
regardless of target, constant loss after data ran out, silently unpopulated init weights.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.trainer.conftest import write_manifest, write_shards
from trainer.apr_format import AprFile
from trainer.config import PRESETS
from trainer.data import ShardSet, TrainSampler
from trainer.loop import run_pretrain
from trainer.model import CausalLM
from trainer.preflight import PreflightError
from trainer.run_config import RunConfig
from trainer.shard_checks import HandoffError
from trainer.state import seed_everything

STEP_LINE = re.compile(r"^step=(\d+) loss=(\S+) lr=(\S+) grad_norm=(\S+) tok/s=([\d,]+) tflops=(\S+)( mfu=\S+%)?$")


def _cfg(tmp: Path, shards: Path, tok: Path, **kw) -> RunConfig:
    base = dict(mode="from-scratch", model_config_name="test-tiny", tokenizer=tok, shards_dir=shards, steps=8,
                batch_size=4, seq_len=32, lr=3e-3, eval_every=4, eval_batches=2, out=tmp / "run", progress="off")
    base.update(kw)
    return RunConfig(**base)


def test_run_writes_lines_metrics_summary_and_checkpoint(
    tmp_path: Path, shards_dir: Path, tokenizer_file: Path
) -> None:
    out = io.StringIO()
    res = run_pretrain(_cfg(tmp_path, shards_dir, tokenizer_file), stream=out)
    assert (res.status, res.exit_code) == ("ok", 0)
    lines = out.getvalue().splitlines()
    steps = [STEP_LINE.match(line) for line in lines if line.startswith("step=")]
    assert [int(m.group(1)) for m in steps if m] == list(range(8))
    evals = [json.loads(r) for r in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in evals if r["kind"] == "eval"] == [0, 4, 8]
    s = json.loads((tmp_path / "run" / "summary.json").read_text())
    for key in ("config", "seed", "versions", "hashes", "step_0_loss", "final_train_loss", "final_val_loss", "wall_s"):
        assert s[key] is not None, key
    assert s["hashes"]["shards"].keys() == {"shard-00000.bin", "shard-00001.bin", "manifest.json"}
    assert s["final_val_loss"] < s["val_loss_step_0"]  # it learned something on held-out data
    with AprFile(res.checkpoint) as f:
        assert f.metadata["provenance"]["steps"] == 8
    # No synthetic hardware figures: on CPU nothing claims GPU utilisation, and MFU has no peak to divide by.
    blob = json.dumps(s) + (tmp_path / "run" / "metrics.jsonl").read_text()
    assert not re.search(r"gpu_util|utili[sz]ation", blob, re.I)
    assert s["mfu"] is None and s["peak_tflops"] is None and "cpu" in s["peak_tflops_source"]
    assert not any("mfu" in r for r in evals) and not any(m.group(7) for m in steps if m)


def test_grad_norm_is_the_measured_pre_clip_norm(tmp_path: Path, shards_dir: Path, tokenizer_file: Path) -> None:
    cfg = _cfg(tmp_path, shards_dir, tokenizer_file, steps=3, grad_clip=1e-3)
    res = run_pretrain(cfg, stream=io.StringIO())
    logged = [r["grad_norm"] for r in res.history if r["kind"] == "train"]
    # Recompute step 0 independently: same seed, same first batch, plain autograd + torch.linalg.
    seed_everything(cfg.seed)
    model = CausalLM(PRESETS["test-tiny"])
    shards = ShardSet(shards_dir, cfg.seq_len, val_fraction=cfg.val_fraction)
    batch = torch.from_numpy(shards.batch(TrainSampler(shards.n_train, 4, cfg.seed).next_batch()))
    logits = model.logits(batch[:, :-1])
    torch.nn.functional.cross_entropy(logits.view(-1, 512), batch[:, 1:].reshape(-1)).backward()
    expected = float(torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in model.parameters()])))
    assert logged[0] == pytest.approx(expected, rel=1e-4)
    # A placeholder (the reference's constant 1.0) or the post-clip value would fail both checks.
    assert all(g > 10 * cfg.grad_clip for g in logged) and len(set(logged)) == len(logged)


def test_nan_stops_with_exit_3_and_no_checkpoint(tmp_path: Path, shards_dir: Path, tokenizer_file: Path) -> None:
    def poison(run) -> None:
        if run.step == 2:
            with torch.no_grad():
                run.model.lm.model.norm.weight.fill_(float("nan"))

    res = run_pretrain(_cfg(tmp_path, shards_dir, tokenizer_file), stream=io.StringIO(), on_step=poison)
    assert (res.status, res.exit_code) == ("non_finite", 3)
    assert res.summary["steps_completed"] == 2 and res.checkpoint is None
    assert not (tmp_path / "run" / "checkpoint.apr").exists()


def test_data_exhaustion_exits_4_without_constant_loss(tmp_path: Path, tokenizer_file: Path) -> None:
    shards = write_shards(tmp_path / "small", [4000])
    out = io.StringIO()
    res = run_pretrain(_cfg(tmp_path, shards, tokenizer_file, steps=100), stream=out)
    capacity = TrainSampler(ShardSet(shards, 32).n_train, 4, 0).capacity
    assert (res.status, res.exit_code) == ("data_exhausted", 4)
    assert res.summary["steps_completed"] == capacity < 100
    losses = [r["loss"] for r in res.history if r["kind"] == "train"]
    assert len(losses) == capacity and len(set(losses)) == capacity  # every logged loss is a real, new batch
    assert "FAILED (data_exhausted)" in out.getvalue() and "warning" in out.getvalue()
    assert res.checkpoint is None
    # More passes must be asked for explicitly.
    res2 = run_pretrain(_cfg(tmp_path, shards, tokenizer_file, steps=capacity + 2, max_epochs=2, out=tmp_path / "r2"),
                        stream=io.StringIO())
    assert res2.exit_code == 0


def test_target_val_loss_decides_the_exit_code(tmp_path: Path, shards_dir: Path, tokenizer_file: Path) -> None:
    out = io.StringIO()
    miss = run_pretrain(_cfg(tmp_path, shards_dir, tokenizer_file, target_val_loss=0.01), stream=out)
    assert (miss.status, miss.exit_code, miss.summary["target_reached"]) == ("target_not_reached", 1, False)
    text = out.getvalue()
    assert "FAILED (target_not_reached)" in text and not re.search(r"converged|target .* reached", text, re.I)
    out2 = io.StringIO()
    hit = run_pretrain(_cfg(tmp_path, shards_dir, tokenizer_file, target_val_loss=100.0, out=tmp_path / "r2"),
                       stream=out2)
    assert (hit.exit_code, hit.summary["target_reached"]) == (0, True)
    assert "target val_loss 100.0 reached" in out2.getvalue()


def test_from_init_starts_from_the_init_weights(tmp_path: Path, shards_dir: Path, tokenizer_file: Path) -> None:
    pre = run_pretrain(_cfg(tmp_path, shards_dir, tokenizer_file, steps=40, lr=1e-2, out=tmp_path / "pre"),
                       stream=io.StringIO())
    ft = run_pretrain(
        _cfg(tmp_path, shards_dir, tokenizer_file, mode="from-init", init=pre.checkpoint, model_config_name=None,
             steps=2, seed=5, out=tmp_path / "ft"),
        stream=io.StringIO(),
    )
    assert ft.exit_code == 0
    ln_v = math.log(512)
    assert ft.summary["val_loss_step_0"] == pytest.approx(pre.summary["final_val_loss"], rel=1e-5)
    assert abs(pre.summary["step_0_loss"] - ln_v) < 0.1  # random init: uniform prediction
    assert ft.summary["step_0_loss"] < ln_v - 0.5  # the init's training carried over
    assert ft.summary["init_load"]["tensors_loaded"] == len(CausalLM(PRESETS["test-tiny"]).checkpoint_tensors())


def test_preflight_refuses_vocab_mismatch_before_training(tmp_path: Path, shards_dir: Path) -> None:
    tok = tmp_path / "tok.json"
    tok.write_text(json.dumps({"effective_vocab_count": 500}))
    with pytest.raises(PreflightError, match="tokenizer_vocab=500 != model_vocab=512"):
        run_pretrain(_cfg(tmp_path, shards_dir, tok), stream=io.StringIO())
    assert not (tmp_path / "run").exists()


def test_token_ids_outside_the_table_are_an_error(tmp_path: Path, tokenizer_file: Path) -> None:
    """Issue 15: an id >= the model's vocab was caught only when a batch happened to draw it (step 108 in
    the reproduction); it is now refused before step 1, from the manifest's record or a scan."""
    root = tmp_path / "bad"
    root.mkdir()
    ids = np.full(5000, 7, dtype="<u4")
    ids[4321] = 600  # >= vocab 512, once, deep in the training range
    ids.tofile(root / "shard-00000.bin")
    write_manifest(root)  # records max_token_id_seen = 600, as encode-corpus does
    with pytest.raises(HandoffError, match=r"records max token id 600, but the model's embedding table has 512"):
        run_pretrain(_cfg(tmp_path, root, tokenizer_file, steps=10, batch_size=8), stream=io.StringIO())
    assert not (tmp_path / "run").exists()  # refused before anything was written
    write_manifest(root, record_max=False)  # no record: every shard is scanned
    with pytest.raises(HandoffError, match=r"shard-00000\.bin: token id 600"):
        run_pretrain(_cfg(tmp_path, root, tokenizer_file, steps=10, batch_size=8), stream=io.StringIO())
    # A manifest that under-states the maximum is still caught by the per-batch guard (defence in depth).
    m = json.loads((write_manifest(root)).read_text())
    m["verification"]["max_token_id_seen"] = 7
    (root / "manifest.json").write_text(json.dumps(m))
    ids[:] = 7
    ids[100:4000:50] = 600
    ids.tofile(root / "shard-00000.bin")
    m["shards"][0]["sha256"] = hashlib.sha256(ids.tobytes()).hexdigest()
    (root / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(PreflightError, match=r"training batch.*token id 600"):
        run_pretrain(_cfg(tmp_path, root, tokenizer_file, steps=10, batch_size=8), stream=io.StringIO())
    np.full(5000, 7, dtype="<u4").tofile(root / "shard-00000.bin")
    write_manifest(root, max_token_id=600)  # the manifest's tokenizer is not --tokenizer
    with pytest.raises(PreflightError, match="shards-tokenizer"):
        run_pretrain(_cfg(tmp_path, root, tokenizer_file, out=tmp_path / "run2"), stream=io.StringIO())


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_an_interrupt_ends_the_line_and_leaves_a_truthful_summary(
    tmp_path: Path, shards_dir: Path, tokenizer_file: Path
) -> None:
    """On a terminal ^C is echoed mid-line; the closing lines start on a fresh one, then the summary is written."""
    stream = _Terminal()

    def interrupt(run) -> None:
        if run.step == 3:
            raise KeyboardInterrupt

    try:
        res = run_pretrain(_cfg(tmp_path, shards_dir, tokenizer_file), stream=stream, on_step=interrupt)
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C escaped run_pretrain: no summary, no word on resuming")
    assert (res.status, res.exit_code, res.checkpoint) == ("interrupted", 130, None)
    text = stream.getvalue()
    assert "\n\ndone status=interrupted exit=130 steps=3" in text  # an empty line ends the echoed ^C
    assert "INTERRUPTED: interrupted during step 4; nothing resumable was saved" in text
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["final_val_loss"] is not None
    # Negative case: an uninterrupted run on the same terminal has no empty line.
    stream = _Terminal()
    assert run_pretrain(_cfg(tmp_path, shards_dir, tokenizer_file, steps=2, out=tmp_path / "run2"),
                        stream=stream).exit_code == 0
    assert "\n\n" not in stream.getvalue()


def test_a_model_that_cannot_fit_in_memory_is_refused_before_allocating(tmp_path: Path, shards_dir: Path,
                                                                         tokenizer_file: Path) -> None:
    """Every field within its bound, yet 10**13 parameters: exit 2 with the numbers, not an allocator crash.

    Run under an address-space limit, so code that does try to allocate fails fast instead of paging the machine.
    """
    import resource
    import subprocess
    import sys

    from trainer.config import config_to_hf

    huge = PRESETS["test-tiny"].model_copy(update={"hidden_size": 65536, "num_layers": 1024, "num_heads": 512,
                                                   "num_kv_heads": 512, "intermediate_size": 65536})
    path = tmp_path / "huge.json"
    path.write_text(json.dumps(config_to_hf(huge)))

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (16 << 30, 16 << 30))

    argv = [sys.executable, "-m", "apr", "pretrain", "--mode", "from-scratch", "--model-config", str(path),
            "--tokenizer", str(tokenizer_file), "--shards-dir", str(shards_dir), "--steps", "1", "--batch-size", "2",
            "--seq-len", "16", "--out", str(tmp_path / "run"), "--device", "cpu", "--progress", "off"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300, preexec_fn=limit_memory,
                          cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert re.search(r"'memory' failed: the model has [\d,]+ parameters: .* GiB per process", proc.stderr)


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="FIFOs are POSIX")
def test_input_entries_that_are_not_regular_files_are_listed_not_dropped(tmp_path: Path, shards_dir: Path) -> None:
    """summary.json hashes a tokenizer directory's files; a FIFO or dangling link in it used to vanish silently."""
    import os

    tok = tmp_path / "tok"
    tok.mkdir()
    (tok / "tokenizer_meta.json").write_text(json.dumps({"effective_vocab_count": 512}))
    os.mkfifo(tok / "pipe")
    (tok / "gone.json").symlink_to(tmp_path / "nowhere")
    (tok / "sub").mkdir()  # a subdirectory is not an input file: neither hashed nor listed
    out = io.StringIO()
    res = run_pretrain(_cfg(tmp_path, shards_dir, tok, steps=1), stream=out)
    assert res.exit_code == 0
    hashes = res.summary["hashes"]
    assert set(hashes["tokenizer"]) == {"tokenizer_meta.json"}
    assert hashes["not_hashed"] == [f"{tok}/gone.json: a symbolic link whose target does not exist",
                                    f"{tok}/pipe: a FIFO (named pipe)"]
    assert "note: not hashed (not regular files, never read): " in out.getvalue()
