"""Architecture fields are read strictly: JSON `true` is not a vocab size, "yes" is not a boolean."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trainer.config import PRESETS, ConfigError, config_to_hf, load_init_config


@pytest.mark.parametrize(("key", "value"), [("vocab_size", True), ("tie_word_embeddings", "yes"),
                                            ("hidden_size", "32"), ("num_hidden_layers", 2.0)])
def test_loosely_typed_init_config_is_refused(tmp_path: Path, key: str, value: object) -> None:
    good = config_to_hf(PRESETS["test-tiny"])
    (tmp_path / "config.json").write_text(json.dumps(good))
    assert load_init_config(tmp_path) == PRESETS["test-tiny"]
    (tmp_path / "config.json").write_text(json.dumps({**good, key: value}))
    with pytest.raises(ConfigError, match="invalid architecture"):
        load_init_config(tmp_path)
