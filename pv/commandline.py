"""Read a ``CMD:`` shell command statically: its simple commands, their programs, whether they exist.

Nothing here runs anything. A command line is split with shlex (POSIX rules) into simple commands
at ``&&``, ``||``, ``;``, ``|`` and ``&``; each loses its leading ``VAR=value`` assignments and
wrappers such as ``env`` or ``timeout 60``, leaving the argv whose first word is the program.
"""

from __future__ import annotations

import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

OPERATORS = {"&&", "||", ";", "|", "&", ";;", "|&"}
SHELL_BUILTINS = {
    ":", ".", "[", "alias", "break", "cd", "command", "continue", "echo", "eval", "exec", "exit", "export",
    "false", "printf", "pwd", "read", "return", "set", "shift", "source", "test", "trap", "true", "type",
    "ulimit", "umask", "unset", "wait",
}
# Programs that only wrap the real one: (name, number of arguments they take before it).
WRAPPERS = {"env": 0, "time": 0, "nice": 0, "nohup": 0, "timeout": 1, "xvfb-run": 0, "stdbuf": 0}
# Test runners and build tools a reference-format `test:` plausibly starts with; `pv migrate`
# turns a bare `test:` into a CMD binding only when its first program is one of these (or a path).
KNOWN_RUNNERS = {
    "bash", "bazel", "bun", "bundle", "cargo", "cmake", "ctest", "deno", "dotnet", "go", "gradle", "just",
    "make", "mvn", "node", "nox", "npm", "npx", "pnpm", "poetry", "pytest", "python", "python3", "rake", "ruby",
    "sh", "swift", "tox", "uv", "uvx", "yarn", "zig",
}


class CommandSyntaxError(ValueError):
    """The command line cannot be split (an unclosed quote, a trailing backslash)."""


@dataclass(frozen=True)
class SimpleCommand:
    argv: tuple[str, ...]  # the program and its arguments, assignments and wrappers removed

    @property
    def program(self) -> str:
        return self.argv[0] if self.argv else ""


def split_commands(command: str) -> list[SimpleCommand]:
    """The simple commands of a shell command line, in order."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        tokens = list(lexer)
    except ValueError as exc:
        raise CommandSyntaxError(str(exc)) from None
    out: list[SimpleCommand] = []
    current: list[str] = []
    for token in [*tokens, ";"]:
        if token in OPERATORS:
            argv = _strip_prefix(current)
            if argv:
                out.append(SimpleCommand(tuple(argv)))
            current = []
        else:
            current.append(token)
    return out


def _strip_prefix(words: list[str]) -> list[str]:
    i = 0
    while i < len(words):
        word = words[i]
        if "=" in word and not word.startswith("-") and word.split("=", 1)[0].isidentifier():
            i += 1  # VAR=value
        elif word in WRAPPERS:
            i += 1
            skip = WRAPPERS[word]
            while i < len(words) and words[i].startswith("-"):  # the wrapper's own options
                i += 1
            i += skip
        else:
            break
    return words[i:]


def is_path_program(program: str) -> bool:
    return "/" in program


def program_problem(program: str, root: Path) -> str | None:
    """Why ``program`` would not start from ``root`` (None when it would, as far as we can tell)."""
    if not program or program in SHELL_BUILTINS or program.startswith("$"):
        return None
    if is_path_program(program):
        path = Path(program) if Path(program).is_absolute() else root / program
        if not path.is_file():
            return f"{program} does not exist"
        return None
    if shutil.which(program) is None:
        return f"`{program}` is not on PATH here"
    return None


def looks_like_command(text: str) -> bool:
    """A bare reference-format ``test:`` that is a command line rather than prose."""
    try:
        commands = split_commands(text)
    except CommandSyntaxError:
        return False
    if not commands:
        return False
    first = commands[0].program
    return first in KNOWN_RUNNERS or (is_path_program(first) and not first.endswith((".", ",", ":")))
