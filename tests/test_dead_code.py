"""No dead code in the project's packages: ``.ci/deadcode.py`` (vulture) finds nothing to report."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("deadcode", ROOT / ".ci" / "deadcode.py")
assert _spec is not None and _spec.loader is not None
deadcode = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(deadcode)


def test_nothing_in_the_packages_is_dead() -> None:
    found = deadcode.dead_code()
    assert not found, "unused code (remove it, or say in .ci/deadcode.py who calls it):\n" + "\n".join(found)


def test_the_check_finds_dead_code_but_not_data_fields_or_test_only_helpers(tmp_path: Path) -> None:
    (tmp_path / "pv").mkdir()
    (tmp_path / "tests").mkdir()
    (tmp_path / "pv" / "mod.py").write_text(
        "from pydantic import BaseModel\n\n"
        "class Base(BaseModel):\n    model_config = {}\n\n"
        "class Record(Base):\n    never_read_in_code: int = 0\n\n"
        "def used_by_a_test():\n    return Record()\n\n"
        "def nobody_calls_me():\n    return 1\n")
    (tmp_path / "tests" / "test_mod.py").write_text(
        "from pv.mod import used_by_a_test\n\ndef test_x(unused_fixture):\n    used_by_a_test()\n")
    assert [line.split(": ", 1)[1] for line in deadcode.dead_code(tmp_path)] == [
        "unused function 'nobody_calls_me' (60% confidence)"]
