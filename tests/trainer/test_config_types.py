"""Architecture fields are read strictly: JSON `true` is not a vocab size, "yes" is not a boolean."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from tests.hang_guard import fails_instead_of_hanging
from trainer.config import PRESETS, ConfigError, config_to_hf, model_config_for


@pytest.mark.parametrize(("key", "value"), [("vocab_size", True), ("tie_word_embeddings", "yes"),
                                            ("hidden_size", "32"), ("num_hidden_layers", 2.0)])
def test_loosely_typed_init_config_is_refused(tmp_path: Path, key: str, value: object) -> None:
    good = config_to_hf(PRESETS["test-tiny"])
    (tmp_path / "config.json").write_text(json.dumps(good))
    assert model_config_for(tmp_path) == PRESETS["test-tiny"]
    (tmp_path / "config.json").write_text(json.dumps({**good, key: value}))
    with pytest.raises(ConfigError, match="invalid architecture"):
        model_config_for(tmp_path)


def test_model_config_for_routes_init_preset_and_default(tmp_path: Path) -> None:
    """One entry point: --init wins alone, --model-config is a preset or a config.json, neither is the default."""
    hf = tmp_path / "llama.json"
    hf.write_text(json.dumps(config_to_hf(PRESETS["llama-370m"])))
    assert model_config_for() == PRESETS["qwen2-0.5b"]
    assert model_config_for(preset="test-tiny") == PRESETS["test-tiny"]
    assert model_config_for(preset=str(hf)) == model_config_for(init=hf) == PRESETS["llama-370m"]
    with pytest.raises(ConfigError, match="unknown preset 'nope'"):
        model_config_for(preset="nope")
    with pytest.raises(ConfigError, match="drop --model-config"):
        model_config_for(init=hf, preset="test-tiny")
    with pytest.raises(ConfigError, match="does not exist"):
        model_config_for(init=tmp_path / "missing.apr")


def _init_dir(tmp_path: Path, **override: object) -> Path:
    (tmp_path / "config.json").write_text(json.dumps({**config_to_hf(PRESETS["test-tiny"]), **override}))
    return tmp_path


@pytest.mark.parametrize(("key", "value", "message"), [
    ("rms_norm_eps", float("inf"), r"at `rms_norm_eps`: the number inf is not finite"),
    ("rope_theta", float("inf"), r"at `rope_theta`: the number inf is not finite"),
    ("rope_theta", float("nan"), r"at `rope_theta`: the number nan is not finite"),
    ("rms_norm_eps", 1.5, r"rms_norm_eps: Input should be less than 1 \(got 1.5\)"),
    ("num_hidden_layers", 100_000_000, r"num_layers: Input should be less than or equal to 1024 \(got 100000000\)"),
    ("hidden_size", 2**20, r"hidden_size: Input should be less than or equal to 65536"),
    ("vocab_size", 10**30, r"vocab_size: Input should be less than or equal to 16777216"),
    ("vocab_size", 10**60, r"at `vocab_size`: an integer of 61 digits is over the 40-digit limit"),
])
def test_non_finite_or_unbounded_architecture_is_refused_by_field(
    tmp_path: Path, key: str, value: object, message: str
) -> None:
    """Infinity used to train "ok" and num_layers 1e8 to hang the model build; both name the field now."""
    with pytest.raises(ConfigError, match=message):
        model_config_for(_init_dir(tmp_path, **{key: value}))
    with pytest.raises(ConfigError, match=message):
        model_config_for(preset=str(tmp_path / "config.json"))  # the from-scratch route reads the same way


def test_non_finite_or_unbounded_fields_in_apr_metadata_are_refused(tmp_path: Path) -> None:
    from tests.trainer.test_apr_format import _forge
    from trainer.checkpoint import apr_metadata
    from trainer.errors import TrainerInputError

    meta = json.dumps(apr_metadata(PRESETS["test-tiny"], {"tool": "test"}))
    for key, value, message in (("rms_norm_eps", "1e400", r"at `rms_norm_eps`: the number inf is not finite"),
                                ("rope_theta", "-1.0", r"rope_theta: Input should be greater than 0"),
                                ("num_layers", "100000000", r"num_layers: Input should be less than or equal to 1024")):
        path = _forge(tmp_path / f"{key}.apr", re.sub(rf'"{key}": [^,}}]+', f'"{key}": {value}', meta).encode(),
                      b'[{"name": "a", "dtype": "F32", "shape": [0], "offset": 0, "size": 0, "crc32": 0}]', b"")
        with pytest.raises(TrainerInputError, match=message):
            model_config_for(init=path)


@pytest.mark.parametrize(("body", "message"), [
    (b'{"vocab_size": ' + b"1" * 5000 + b"}", r"config\.json at line 1 column 16: a number is too long"),
    (b"[" * 50_000 + b"]" * 50_000, r"config\.json at line 1 column 65: containers are nested more than 64"),
    (b"[1, 2]", r"config\.json: expected a JSON object \(a HF config\.json\), found list"),
    (b"\xfe\xff", r"config\.json: not UTF-8 text"),
])
def test_hostile_config_json_is_a_located_config_error(tmp_path: Path, body: bytes, message: str) -> None:
    (tmp_path / "config.json").write_bytes(body)
    with pytest.raises(ConfigError, match=message):
        model_config_for(init=tmp_path)


@pytest.mark.skipif(os.name != "posix", reason="FIFOs and device files are POSIX")
def test_a_fifo_or_device_config_or_init_is_refused_by_name(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "config.json")
    with fails_instead_of_hanging(), \
            pytest.raises(ConfigError, match=r"config\.json: is a FIFO \(named pipe\), not a regular file"):
        model_config_for(init=tmp_path)  # returns at once; as a --model-config file it used to block
    with fails_instead_of_hanging(), \
            pytest.raises(ConfigError, match=r"config\.json: is a FIFO \(named pipe\), not a regular file"):
        model_config_for(preset=str(tmp_path / "config.json"))
    zero = tmp_path / "zero.apr"
    zero.symlink_to("/dev/zero")
    with pytest.raises(ConfigError, match=r"--init .*zero\.apr: is a character device"):
        model_config_for(init=zero)
