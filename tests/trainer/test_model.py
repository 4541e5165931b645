"""Model numerics: parity with transformers' Qwen2ForCausalLM, the chunked loss, init loading."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from trainer.config import PRESETS, ConfigError, ModelConfig, config_to_hf
from trainer.init_load import build_model_from_init, load_init_into
from trainer.loss import chunked_cross_entropy
from trainer.model import CausalLM
from trainer.preflight import PreflightError

PARITY_CFG = ModelConfig(
    architecture="qwen2", vocab_size=1000, hidden_size=64, num_layers=2, num_heads=4, num_kv_heads=2,
    intermediate_size=128, max_position_embeddings=128, rope_theta=1e6, rms_norm_eps=1e-6,
    tie_word_embeddings=True, qkv_bias=True,
)


@pytest.fixture(scope="module")
def hf_pair(tmp_path_factory: pytest.TempPathFactory):
    """Our model and transformers' Qwen2ForCausalLM with identical weights (via safetensors on disk)."""
    import transformers  # a declared dev dependency: its absence must fail, not skip
    from safetensors.torch import save_file

    torch.manual_seed(0)
    ours = CausalLM(PARITY_CFG).eval()
    d = tmp_path_factory.mktemp("hf")
    (d / "config.json").write_text(json.dumps(config_to_hf(PARITY_CFG)))
    save_file({k: v.contiguous() for k, v in ours.checkpoint_tensors().items()}, str(d / "model.safetensors"))
    hf = transformers.Qwen2ForCausalLM.from_pretrained(str(d), attn_implementation="eager").eval()
    return ours, hf, d


def _cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.nn.functional.cosine_similarity(a.flatten().double(), b.flatten().double(), dim=0))


def test_logits_match_transformers_qwen2(hf_pair) -> None:
    ours, hf, _ = hf_pair
    x = torch.randint(0, PARITY_CFG.vocab_size, (2, 33))
    with torch.no_grad():
        a, b = ours.logits(x), hf(x).logits.float()
    assert _cosine(a, b) >= 0.9999
    torch.testing.assert_close(a, b, atol=2e-4, rtol=1e-3)
    # Falsification: a wrong rope theta (a classic silent-default bug) breaks elementwise parity.
    wrong = CausalLM(PARITY_CFG.model_copy(update={"rope_theta": 1e4})).eval()
    wrong.load_state_dict(ours.state_dict())
    with torch.no_grad():
        assert not torch.allclose(wrong.logits(x), b, atol=2e-4, rtol=1e-3)


def test_hf_import_loads_every_tensor(hf_pair, tmp_path: Path) -> None:
    ours, _, d = hf_pair
    cfg, model, report = build_model_from_init(d)
    assert cfg == PARITY_CFG
    x = torch.randint(0, 1000, (1, 17))
    with torch.no_grad():
        torch.testing.assert_close(model.logits(x), ours.logits(x), rtol=0, atol=0)
    assert report["tensors_loaded"] == len(ours.checkpoint_tensors())


def test_missing_or_misshaped_init_tensor_is_named(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    model = CausalLM(PRESETS["test-tiny"])
    tensors = {k: v.clone() for k, v in model.checkpoint_tensors().items()}
    tensors.pop("model.layers.1.mlp.up_proj.weight")
    tensors["model.norm.weight"] = torch.ones(7)
    (tmp_path / "config.json").write_text(json.dumps(config_to_hf(PRESETS["test-tiny"])))
    save_file(tensors, str(tmp_path / "model.safetensors"))
    with pytest.raises(PreflightError, match=r"model\.layers\.1\.mlp\.up_proj\.weight") as info:
        load_init_into(CausalLM(PRESETS["test-tiny"]), tmp_path)
    assert "model.norm.weight (model (32,), init (7,))" in str(info.value)


def test_pickled_weights_are_refused(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps(config_to_hf(PRESETS["test-tiny"])))
    torch.save(CausalLM(PRESETS["test-tiny"]).state_dict(), tmp_path / "pytorch_model.bin")
    with pytest.raises(PreflightError, match="pickle formats are refused"):
        build_model_from_init(tmp_path)


def test_chunked_loss_and_grads_equal_full_cross_entropy() -> None:
    torch.manual_seed(0)
    h = torch.randn(3, 21, 16, requires_grad=True)
    w = torch.randn(300, 16, requires_grad=True)
    t = torch.randint(0, 300, (3, 21))
    loss = chunked_cross_entropy(h, w, t, chunk_tokens=8)
    (loss * 3).backward()
    h2, w2 = h.detach().clone().requires_grad_(), w.detach().clone().requires_grad_()
    ref = torch.nn.functional.cross_entropy((h2 @ w2.t()).view(-1, 300), t.view(-1))
    (ref * 3).backward()
    torch.testing.assert_close(loss, ref)
    torch.testing.assert_close(h.grad, h2.grad)
    torch.testing.assert_close(w.grad, w2.grad)
    with torch.no_grad():
        torch.testing.assert_close(chunked_cross_entropy(h, w, t, chunk_tokens=5), ref)
    # The unscaled path (plain loss.backward(), upstream gradient exactly 1) gives a third of the above.
    h.grad, w.grad = None, None
    chunked_cross_entropy(h, w, t, chunk_tokens=64).backward()
    torch.testing.assert_close(h.grad * 3, h2.grad)
    torch.testing.assert_close(w.grad * 3, w2.grad)


def test_tied_embedding_is_one_parameter() -> None:
    m = CausalLM(PRESETS["test-tiny"])
    assert m.lm_head.weight is m.model.embed_tokens.weight
    assert m.param_count() == PRESETS["test-tiny"].param_count()
    untied = CausalLM(PRESETS["test-tiny"].model_copy(update={"tie_word_embeddings": False}))
    assert untied.param_count() == m.param_count() + 512 * 32


def test_random_init_loss_is_about_ln_vocab() -> None:
    torch.manual_seed(0)
    m = CausalLM(PRESETS["test-tiny"])
    x = torch.randint(0, 512, (4, 65))
    with torch.no_grad():
        loss = float(m.loss(x[:, :-1], x[:, 1:]))
    assert abs(loss - torch.log(torch.tensor(512.0)).item()) < 0.1


def test_init_claiming_sizes_its_weights_lack_is_refused_before_allocating(tmp_path: Path) -> None:
    """A config.json / .apr metadata stating vocab_size 2**36 over small weights: a named shape error, not an
    8 TB allocation (untrusted-input rule: the weight files, not the config, bound what is allocated)."""
    from safetensors.torch import save_file

    from trainer.apr_format import write_apr
    from trainer.checkpoint import apr_metadata

    cfg = PRESETS["test-tiny"]
    tensors = {k: v.clone() for k, v in CausalLM(cfg).checkpoint_tensors().items()}
    huge = cfg.model_copy(update={"vocab_size": 2**24})  # the largest vocab a config may state: a 2 GiB table here
    hf = tmp_path / "hf"
    hf.mkdir()
    (hf / "config.json").write_text(json.dumps(config_to_hf(huge)))
    save_file(tensors, str(hf / "model.safetensors"))
    apr = write_apr(tmp_path / "x.apr", tensors, apr_metadata(huge, {"tool": "test"}))
    for init in (hf, apr):
        with pytest.raises(PreflightError, match=r"model\.embed_tokens\.weight \(model \(16777216, 32\)"):
            build_model_from_init(init)
    # Beyond the bound (2**36 ids) the config itself is refused, naming the field, before any weight is read.
    beyond = cfg.model_copy(update={"vocab_size": 2**36})
    (hf / "config.json").write_text(json.dumps(config_to_hf(beyond)))
    apr = write_apr(tmp_path / "y.apr", tensors, apr_metadata(beyond, {"tool": "test"}))
    for init in (hf, apr):
        with pytest.raises(ConfigError, match=r"vocab_size: Input should be less than or equal to 16777216"):
            build_model_from_init(init)


TINY_TENSORS = 26  # test-tiny's checkpoint tensors (tied lm_head stored once)


def _tiny_init(root: Path, **replace: torch.Tensor) -> Path:
    """A HF directory and an .apr of test-tiny, with some tensors replaced."""
    from safetensors.torch import save_file

    from trainer.apr_format import write_apr
    from trainer.checkpoint import apr_metadata

    tensors = {k: v.clone() for k, v in CausalLM(PRESETS["test-tiny"]).checkpoint_tensors().items()} | replace
    root.mkdir()
    (root / "config.json").write_text(json.dumps(config_to_hf(PRESETS["test-tiny"])))
    save_file(tensors, str(root / "model.safetensors"))
    if all(t.dtype != torch.bool for t in tensors.values()):  # .apr has no boolean dtype at all
        write_apr(root / "x.apr", tensors, apr_metadata(PRESETS["test-tiny"], {"tool": "test"}))
    return root


@pytest.mark.parametrize("dtype", [torch.bool, torch.int64, torch.int32, torch.uint8])
def test_non_float_weights_are_refused_not_cast(tmp_path: Path, dtype: torch.dtype) -> None:
    """``copy_`` would cast an I64 embedding into whole-number weights and call it loaded."""
    bad = torch.ones(32, dtype=dtype)
    root = _tiny_init(tmp_path / "init", **{"model.norm.weight": bad})
    for init in [root] + ([root / "x.apr"] if dtype != torch.bool else []):
        with pytest.raises(PreflightError, match=rf"1 weight\(s\) are not floating point: model\.norm\.weight "
                           rf"\({re.escape(str(dtype))}\)"):
            build_model_from_init(init)
    # The same tensor as float loads: the dtype alone was refused.
    ok = _tiny_init(tmp_path / "ok", **{"model.norm.weight": bad.float()})
    assert build_model_from_init(ok)[2]["tensors_loaded"] == TINY_TENSORS


def test_non_finite_weights_are_refused_by_name(tmp_path: Path) -> None:
    w = torch.ones(32)
    w[3] = float("nan")
    root = _tiny_init(tmp_path / "init", **{"model.norm.weight": w})
    for init in (root, root / "x.apr"):
        with pytest.raises(PreflightError, match=r"1 weight\(s\) hold NaN or Inf values: model\.norm\.weight"):
            build_model_from_init(init)


@pytest.mark.skipif(os.name != "posix", reason="FIFOs and symlinks are POSIX")
@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "dangling", "directory"])
def test_a_weight_entry_that_is_not_a_regular_file_is_refused_by_name(tmp_path: Path, kind: str) -> None:
    root = _tiny_init(tmp_path / "init")
    extra = root / "model-00002.safetensors"
    {"fifo": lambda: os.mkfifo(extra), "dev-zero": lambda: extra.symlink_to("/dev/zero"),
     "dangling": lambda: extra.symlink_to(tmp_path / "gone"), "directory": lambda: extra.mkdir()}[kind]()
    described = {"fifo": "a FIFO (named pipe)", "dev-zero": "a character device",
                 "dangling": "a symbolic link whose target does not exist", "directory": "a directory"}[kind]
    # In a subprocess with a timeout: safetensors opens the path in Rust, which blocks on a FIFO past any signal.
    code = ("import sys\nfrom trainer.init_load import build_model_from_init\nfrom trainer.preflight import "
            "PreflightError\ntry:\n    build_model_from_init(sys.argv[1])\nexcept PreflightError as e:\n"
            "    print(e)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(root)], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[2])
    assert f"model-00002.safetensors: {described}" in proc.stdout, proc.stdout + proc.stderr


@pytest.mark.skipif(os.name != "posix", reason="symlinks are POSIX")
def test_an_hf_cache_snapshot_of_links_loads(tmp_path: Path) -> None:
    """The symlink rule follows links wherever they point: HF's cache links snapshot files into blobs/."""
    real = _tiny_init(tmp_path / "blobs")
    snap = tmp_path / "snapshots" / "abc"
    snap.mkdir(parents=True)
    for name in ("config.json", "model.safetensors"):
        (snap / name).symlink_to(real / name)
    assert build_model_from_init(snap)[2]["tensors_loaded"] == TINY_TENSORS
