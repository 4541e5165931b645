"""The README's CPU-sized shell blocks run as written, in order, in a fresh directory.

Convention (documented in the README's "README commands are tested" note): a fenced ``bash`` block
whose preceding line is the HTML comment ``<!-- readme-test: run -->`` is runnable. Every such block
runs, in document order, as one ``bash -eEuo pipefail`` script per block, all in one temporary
directory (so a later block may use what the tour made), with this environment's ``apr``, ``pv``
and ``python`` first on PATH and ``torchrun`` running this interpreter's ``torch.distributed.run``.
A block that is not marked (installation, GPU commands, benchmarks, ``pytest`` itself) is
documentation only. A failure names the block, the README line of the command that failed and the
output's tail.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
MARKER = "<!-- readme-test: run -->"
_FENCE = re.compile(r"^```(\w*)\s*$")
_PRELUDE = ['set -eEuo pipefail', 'trap \'echo "@@readme-line $LINENO" >&2\' ERR']


@dataclass(frozen=True)
class Block:
    line: int  # README line of the first command (1-based)
    lang: str
    marked: bool
    code: str

    def readme_line(self, script_line: int) -> int:
        return self.line + script_line - len(_PRELUDE) - 1


def readme_blocks(text: str) -> list[Block]:
    """Every fenced block of ``text`` with its language, whether the run marker precedes it, and its first line."""
    lines = text.splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if m is None:
            i += 1
            continue
        start = i
        end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith("```")), len(lines))
        marked = start > 0 and lines[start - 1].strip() == MARKER
        blocks.append(Block(start + 2, m.group(1), marked, "\n".join(lines[start + 1 : end]) + "\n"))
        i = end + 1
    return blocks


def runnable_blocks() -> list[Block]:
    blocks = [b for b in readme_blocks(README.read_text(encoding="utf-8")) if b.marked]
    bad = [b.line for b in blocks if b.lang not in ("bash", "sh")]
    assert not bad, f"README.md: the run marker precedes a block that is not bash at line(s) {bad}"
    return blocks


def test_the_marker_convention_finds_the_tour_and_skips_documentation_blocks() -> None:
    blocks = readme_blocks(README.read_text(encoding="utf-8"))
    runnable = [b for b in blocks if b.marked]
    assert runnable, "no README block carries the run marker"
    assert any("apr pretrain --mode from-init" in b.code for b in runnable)  # the tour
    assert any("torchrun" in b.code and "--device cpu" in b.code for b in runnable)  # "try it on CPU"
    unmarked = "\n".join(b.code for b in blocks if not b.marked)
    assert "pip install" in unmarked and "--device cuda" in unmarked  # installation and GPU lines stay documentation
    # The parser is line-exact: the reported line is the README line of the block's first command.
    readme_lines = README.read_text(encoding="utf-8").splitlines()
    for b in runnable:
        assert readme_lines[b.line - 1] == b.code.splitlines()[0]


def _env(tmp: Path) -> dict[str, str]:
    from tokenizer.resources import find_qwen_tiktoken

    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"), "HOME": str(tmp / "home")}
    # torchrun must be this interpreter's: a venv made with --system-site-packages has no torchrun of its own, and
    # the system one would run a python that cannot import this project.
    shims = tmp / "bin"
    shims.mkdir(exist_ok=True)
    torchrun = shims / "torchrun"
    torchrun.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m torch.distributed.run "$@"\n')
    torchrun.chmod(0o755)
    env["PATH"] = os.pathsep.join([str(shims), str(Path(sys.executable).parent), env.get("PATH", "")])
    env["APR_QWEN_TIKTOKEN"] = str(find_qwen_tiktoken())  # the tour's import finds the Qwen2 ranks from any cwd
    env.pop("PYTHONPATH", None)  # run as a user would: the installed project, not this checkout's path hacks
    return env


@pytest.mark.slow
def test_readme_cpu_blocks_run_as_written(tmp_path: Path) -> None:
    """Each marked block runs in order in one fresh directory; a failure names the block and README line."""
    work = tmp_path / "readme"
    work.mkdir()
    (tmp_path / "home").mkdir()
    env = _env(tmp_path)
    for i, block in enumerate(runnable_blocks(), 1):
        script = tmp_path / f"block-{i}.sh"
        script.write_text("\n".join(_PRELUDE) + "\n" + block.code, encoding="utf-8")
        proc = subprocess.run(["bash", str(script)], cwd=work, env=env, capture_output=True, text=True, timeout=1500)
        if proc.returncode != 0:
            m = re.findall(r"@@readme-line (\d+)", proc.stderr)
            line = block.readme_line(int(m[-1])) if m else block.line
            command = README.read_text(encoding="utf-8").splitlines()[line - 1].strip()
            tail = (proc.stdout[-1500:] + "\n" + proc.stderr[-2500:]).strip()
            pytest.fail(f"README.md block {i} (starting at line {block.line}) failed with exit {proc.returncode} "
                        f"at README.md:{line}: {command}\n--- output tail ---\n{tail}", pytrace=False)


def test_a_failing_block_is_reported_with_its_readme_line(tmp_path: Path) -> None:
    """Falsification of the runner: a block that fails on its third command names that README line."""
    text = "# t\n\n" + MARKER + "\n```bash\necho one\ntrue \\\n  --flag\nfalse\necho never\n```\n"
    (block,) = [b for b in readme_blocks(text) if b.marked]
    script = tmp_path / "b.sh"
    script.write_text("\n".join(_PRELUDE) + "\n" + block.code)
    proc = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "never" not in proc.stdout
    (line,) = re.findall(r"@@readme-line (\d+)", proc.stderr)
    assert text.splitlines()[block.readme_line(int(line)) - 1] == "false"
