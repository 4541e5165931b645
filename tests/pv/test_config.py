"""`[tool.pv]`: today's layout by default, every key optional, unknown keys and escaping paths refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from pv.config import ConfigError, PvConfig, read_config


def _write(tmp_path: Path, body: str) -> Path:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n\n" + body)
    return tmp_path


def test_no_file_or_no_table_means_defaults(tmp_path: Path) -> None:
    assert read_config(tmp_path) == PvConfig()
    assert read_config(_write(tmp_path, "[tool.ruff]\nline-length = 100\n")).overrides() == {}


def test_every_key(tmp_path: Path) -> None:
    config = read_config(_write(tmp_path, '[tool.pv]\ncontracts = "specs/*.yaml"\ntest_dirs = ["checks"]\n'
                                          'evidence_dir = "runs/evidence"\nledger = "build/ledger.json"\n'
                                          "coverage_floor = 3\n"))
    assert config.overrides() == {"contracts": ("specs/*.yaml",), "test_dirs": ("checks",),
                                  "evidence_dir": "runs/evidence", "ledger": "build/ledger.json",
                                  "coverage_floor": 3}


@pytest.mark.parametrize(("body", "message"), [
    ('[tool.pv]\ncontract = "x/*.yaml"\n', "pyproject.toml:5: [tool.pv] unknown key 'contract' (did you mean "
                                           "`contracts`?)"),
    ('[tool.pv]\ntest-dirs = ["t"]\n', "unknown key 'test-dirs' (did you mean `test_dirs`?)"),
    ("[tool.pv]\nwhatever = 1\n", "unknown key 'whatever' (known keys: contracts, coverage_floor, evidence_dir, "
                                  "ledger, test_dirs)"),
    ('[tool.pv]\nledger = "/etc/passwd"\n', "ledger: '/etc/passwd' must be a path relative to the repository root"),
    ('[tool.pv]\ncontracts = ["../other/*.yaml"]\n', "must be a path relative to the repository root, inside it"),
    ('[tool.pv]\ncoverage_floor = "3"\n', "coverage_floor: Input should be a valid integer"),
    ("[tool.pv]\ncoverage_floor = -1\n", "coverage_floor: Input should be greater than or equal to 0"),
    ('[tool.pv]\nevidence_dir = ""\n', "evidence_dir: String should have at least 1 character"),
    ("[tool.pv.extra]\nx = 1\n", "unknown key 'extra'"),
    ("[tool.pv\n", "not valid TOML"),
    ('[tool]\npv = "contracts"\n', "tool.pv must be a table"),
])
def test_bad_config_is_one_clear_error(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        read_config(_write(tmp_path, body))
    assert message in str(info.value)
