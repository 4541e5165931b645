"""Architecture fields are read strictly: JSON `true` is not a vocab size, "yes" is not a boolean."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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
