"""Falsifiers of contract apr-pretrain-init-finetune-v1 at CPU scale, through the real CLI.

The pipeline (shared by every test here, built once per module):

1. encode two disjoint halves of the Python stdlib with the real Qwen2 BPE ranks (151,643 ranks +
   22 added tokens = 151,665 ids): corpus A for pretraining, corpus B for the fine-tune;
2. ``apr pretrain --mode from-scratch --model-config qwen2-tiny`` on A (Qwen2-shaped, hidden 64,
   vocab 151,665 so the strict from-scratch gate passes) -> ``checkpoint.apr``;
3. ``apr convert --to-hf --pad-vocab-to 151936``: a HF directory shaped like Qwen's own release
   (151,936 embedding rows, 271 reserved);
4. ``apr pretrain --mode from-init --init HF_DIR`` on B (relaxed gate: 151,665 <= 151,936), and the
   same number of steps ``--mode from-scratch`` on B as the comparison.

Each test also feeds its check a broken counterpart (a partially loaded init, a corrupted or
truncated checkpoint, a swapped comparison) and asserts the check catches it.
"""

from __future__ import annotations

import json
import math
import shutil
import sysconfig
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from apr.cli import main as apr
from tests.trainer.conftest import write_manifest
from trainer.apr_format import MAGIC, AprFile, AprFormatError
from trainer.config import model_config_for
from trainer.init_load import read_init_tensors
from trainer.model import CausalLM

QWEN_MODEL_VOCAB = 151_936
PRETRAIN = ["--steps", "100", "--batch-size", "4", "--seq-len", "64", "--lr", "1e-2", "--warmup", "5",
            "--eval-every", "50", "--eval-batches", "2", "--seed", "0", "--progress", "off"]
FINETUNE = ["--steps", "6", "--batch-size", "8", "--seq-len", "64", "--lr", "3e-3", "--eval-every", "100",
            "--eval-batches", "2", "--seed", "1", "--progress", "off"]


def _qwen_encoding() -> Any:
    import base64

    import tiktoken

    from tokenizer.presets import QWEN2_PATTERN, QWEN2_SPECIAL_TOKENS
    from tokenizer.resources import find_qwen_tiktoken

    path = Path(find_qwen_tiktoken())
    ranks = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line:
            tok, rank = line.split()
            ranks[base64.b64decode(tok)] = int(rank)
    enc = tiktoken.Encoding("qwen2", pat_str=QWEN2_PATTERN, mergeable_ranks=ranks, special_tokens=QWEN2_SPECIAL_TOKENS)
    return enc, path, QWEN2_SPECIAL_TOKENS


def _encode_files(enc: Any, files: list[Path], eot: int, cap: int) -> np.ndarray:
    ids: list[int] = []
    for f in files:
        text = unicodedata.normalize("NFC", f.read_text(encoding="utf-8", errors="replace"))
        ids.extend(enc.encode_ordinary(text))
        ids.append(eot)
        if len(ids) >= cap:
            break
    return np.asarray(ids[:cap], dtype="<u4")


def _write_shards(root: Path, tokens: np.ndarray, vocab: int) -> Path:
    root.mkdir(parents=True)
    tokens.tofile(root / "shard-00000.bin")
    write_manifest(root, vocab=vocab)
    return root


def _run(args: list[str]) -> int:
    return apr(args)


def _summary(run: Path) -> dict[str, Any]:
    return json.loads((run / "summary.json").read_text())


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("initft")
    enc, ranks_path, specials = _qwen_encoding()
    tok = root / "tokenizer"
    tok.mkdir()
    shutil.copyfile(ranks_path, tok / "qwen.tiktoken")
    (tok / "special_tokens.json").write_text(json.dumps(specials))
    vocab = enc.n_vocab
    assert vocab == 151_665

    files = sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))
    eot = specials["<|endoftext|>"]
    a = _write_shards(root / "corpus_a", _encode_files(enc, files[::2], eot, 200_000), vocab)
    b = _write_shards(root / "corpus_b", _encode_files(enc, files[1::2], eot, 60_000), vocab)
    common = ["--tokenizer", str(tok)]
    rc_pre = _run(["pretrain", "--mode", "from-scratch", "--model-config", "qwen2-tiny", "--shards-dir", str(a),
                   "--out", str(root / "pre"), *common, *PRETRAIN])
    assert rc_pre == 0
    hf = root / "hf_init"
    assert _run(["convert", str(root / "pre" / "checkpoint.apr"), "--to-hf", str(hf),
                 "--pad-vocab-to", str(QWEN_MODEL_VOCAB)]) == 0
    rc_ft = _run(["pretrain", "--mode", "from-init", "--init", str(hf), "--shards-dir", str(b),
                  "--out", str(root / "ft"), *common, *FINETUNE])
    rc_scratch = _run(["pretrain", "--mode", "from-scratch", "--model-config", "qwen2-tiny", "--shards-dir", str(b),
                       "--out", str(root / "scratch"), *common, *FINETUNE])
    return {"root": root, "tok": tok, "corpus_b": b, "hf": hf, "rc_ft": rc_ft, "rc_scratch": rc_scratch,
            "ft": root / "ft", "scratch": root / "scratch", "vocab": vocab}


@pytest.mark.slow
@pytest.mark.falsifies("FALSIFY-INITFT-001")
def test_from_init_finetune_exits_zero(pipeline: dict[str, Any]) -> None:
    assert pipeline["rc_ft"] == 0
    s = _summary(pipeline["ft"])
    assert s["status"] == "ok" and s["exit_code"] == 0 and s["steps_completed"] == 6
    assert s["vocab_size"] == QWEN_MODEL_VOCAB and s["tokenizer_vocab"] == 151_665  # the relaxed gate was used
    # Falsification: the same command on a truncated init does not exit 0.
    broken = pipeline["root"] / "broken_init"
    shutil.copytree(pipeline["hf"], broken)
    st = broken / "model.safetensors"
    st.write_bytes(st.read_bytes()[: st.stat().st_size // 2])
    rc = _run(["pretrain", "--mode", "from-init", "--init", str(broken), "--shards-dir", str(pipeline["corpus_b"]),
               "--tokenizer", str(pipeline["tok"]), "--out", str(pipeline["root"] / "ft_broken"), *FINETUNE])
    assert rc != 0


def _step0_loss(model: CausalLM, batch: torch.Tensor) -> float:
    with torch.no_grad():
        return float(model.loss(batch[:, :-1], batch[:, 1:]))


@pytest.mark.slow
@pytest.mark.falsifies("FALSIFY-INITFT-003")
def test_init_weights_flow_step0_loss(pipeline: dict[str, Any]) -> None:
    ft, scratch = _summary(pipeline["ft"]), _summary(pipeline["scratch"])
    bound = 0.7 * math.log(QWEN_MODEL_VOCAB)
    assert ft["step_0_loss"] <= bound, (ft["step_0_loss"], bound)
    # From scratch the same first batch scores about ln(vocab): the gap is the init's weights.
    assert abs(scratch["step_0_loss"] - math.log(151_665)) < 0.1
    assert scratch["step_0_loss"] > bound

    # Falsification ("weights silently not loaded", "tied embedding not shared"): the same init with
    # one tensor left at random init scores far above the bound on a corpus-B batch.
    from trainer.data import ShardSet, TrainSampler

    shards = ShardSet(pipeline["corpus_b"], 64)
    ids = TrainSampler(shards.n_train, 8, 1).next_batch()  # the fine-tune's first batch (seed 1)
    batch = torch.from_numpy(shards.batch(ids))
    cfg = model_config_for(init=pipeline["hf"])
    tensors = read_init_tensors(pipeline["hf"])
    full = CausalLM(cfg)
    full.load_state_dict({**tensors, "lm_head.weight": tensors["model.embed_tokens.weight"]})
    assert abs(_step0_loss(full, batch) - ft["step_0_loss"]) < 1e-3  # reproduces the run's number
    partial = CausalLM(cfg)
    partial.load_state_dict(
        {**{k: v for k, v in tensors.items() if k != "model.embed_tokens.weight"},
         "model.embed_tokens.weight": partial.model.embed_tokens.weight.detach().clone(),
         "lm_head.weight": partial.model.embed_tokens.weight.detach().clone()}
    )
    assert _step0_loss(partial, batch) > bound
    untied = CausalLM(cfg)
    untied.load_state_dict({**tensors, "lm_head.weight": tensors["model.embed_tokens.weight"]})
    with torch.no_grad():
        untied.lm_head.weight = torch.nn.Parameter(torch.randn_like(untied.lm_head.weight) * 0.02)
    assert _step0_loss(untied, batch) > bound


@pytest.mark.slow
@pytest.mark.falsifies("FALSIFY-INITFT-004")
def test_checkpoint_has_valid_magic_and_crc(pipeline: dict[str, Any]) -> None:
    ckpt = pipeline["ft"] / "checkpoint.apr"
    assert ckpt.read_bytes()[:4] == MAGIC == b"APR\x00"
    with AprFile(ckpt) as f:
        assert f.header.version == (2, 0)
        assert f.metadata["vocab_size"] == QWEN_MODEL_VOCAB
        assert f.tensor("model.embed_tokens.weight").shape == (QWEN_MODEL_VOCAB, 64)
    assert _summary(pipeline["ft"])["hashes"]["checkpoint"]
    # Falsification: a flipped data byte and a truncated copy are both refused.
    data = bytearray(ckpt.read_bytes())
    flipped = pipeline["root"] / "flipped.apr"
    data[len(data) // 2] ^= 0xFF
    flipped.write_bytes(bytes(data))
    with pytest.raises(AprFormatError, match="CRC"):
        AprFile(flipped)
    truncated = pipeline["root"] / "truncated.apr"
    truncated.write_bytes(ckpt.read_bytes()[:-100])
    with pytest.raises(AprFormatError):
        AprFile(truncated)


def _initft_005_violations(ft: dict[str, Any], scratch: dict[str, Any]) -> list[str]:
    problems = []
    v_ft, v_scratch = ft["final_val_loss"], scratch["final_val_loss"]
    if v_ft is None or not math.isfinite(v_ft):
        problems.append(f"fine-tune val_loss {v_ft} is not finite")
    elif v_scratch is None or not v_ft < v_scratch:
        problems.append(f"fine-tune val_loss {v_ft} is not below from-scratch {v_scratch}")
    if ft["steps_completed"] != scratch["steps_completed"]:
        problems.append("runs are not at equal steps")
    return problems


@pytest.mark.slow
@pytest.mark.falsifies("FALSIFY-INITFT-005")
def test_finetune_val_loss_finite_and_below_scratch(pipeline: dict[str, Any]) -> None:
    assert pipeline["rc_scratch"] == 0
    ft, scratch = _summary(pipeline["ft"]), _summary(pipeline["scratch"])
    assert _initft_005_violations(ft, scratch) == []
    assert ft["eval_windows"] == scratch["eval_windows"]  # the same held-out windows
    # Falsification: the check rejects a swapped comparison and a non-finite loss.
    assert _initft_005_violations(scratch, ft)
    assert _initft_005_violations({**ft, "final_val_loss": float("nan")}, scratch)
