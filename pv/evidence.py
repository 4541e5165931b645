"""Evidence folders: what a LIVE run did, kept so a status claim can be audited and re-checked.

Layout: ``evidence/<contract-id>/<UTC timestamp>/`` holding ``record.json`` (machine-readable:
commands, exit codes, wall times, environment, artifact hashes, metrics, verdicts), a generated
``README.md`` for people, and per falsifier ``<ID>.stdout.txt`` / ``<ID>.stderr.txt`` /
``<ID>.metrics.json``. Promotion to ACTIVE_RUNTIME re-hashes the declared artifacts and refuses
when they no longer match what the evidence was produced from.
"""

from __future__ import annotations

import datetime as dt
import platform
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from pv.fileio import ReadTimeout, atomic_write_text, read_text, sha256_file, sha256_of
from pv.ledger import LedgerEntry
from pv.models import FalsificationTest, FiniteFloat
from pv.repo_path import UnsafePath, safe_repo_path


class FalsifierRun(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    command: str
    check: str | None = None
    loss_floor: FiniteFloat | None = None
    exit_code: int | None = None
    timed_out: bool = False
    wall_s: float = 0.0
    outcome: str
    reason: str | None = None
    metrics: dict[str, Any] | None = None
    artifacts: dict[str, str | None] = Field(default_factory=dict, description="path -> sha256 (None: missing)")
    inputs: dict[str, str | None] | None = Field(
        default=None, description="repository files the command loaded, and the artifacts: path -> sha256")
    stdout: str | None = None
    stderr: str | None = None


class EvidenceRecord(BaseModel):
    model_config = ConfigDict(extra="ignore")

    contract_id: str
    contract_file: str
    contract_sha256: str | None = None
    commit: str | None = None
    worktree: str | None = None
    started_at: dt.datetime
    environment: dict[str, str | None] = Field(default_factory=dict)
    runs: list[FalsifierRun] = Field(default_factory=list)


def new_run_folder(evidence_dir: Path, contract_id: str, when: dt.datetime) -> Path:
    """A fresh ``<evidence_dir>/<contract-id>/<UTC timestamp>/`` (suffixed when two runs share a second)."""
    base = evidence_dir / contract_id
    stamp = when.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    folder, n = base / stamp, 1
    while folder.exists():
        folder, n = base / f"{stamp}-{n}", n + 1
    folder.mkdir(parents=True)
    return folder


def environment() -> dict[str, str | None]:
    """Versions and device, without importing torch (pv must work where torch is absent or slow)."""
    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "executable": sys.executable,
        "torch": version("torch"),
        "pv": version("provable-train"),
        "device": _device(),
    }


def _device() -> str:
    if shutil.which("nvidia-smi") is None:
        return "cpu (no nvidia-smi)"
    try:
        proc = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return "unknown (nvidia-smi failed)"
    lines = [line.strip() for line in proc.stdout.splitlines() if line.strip()]
    return "; ".join(lines) if proc.returncode == 0 and lines else "cpu (nvidia-smi found no GPU)"


def write_record(folder: Path, record: EvidenceRecord) -> None:
    atomic_write_text(folder / "record.json", record.model_dump_json(indent=2) + "\n")
    atomic_write_text(folder / "README.md", render_readme(record))


def render_readme(record: EvidenceRecord) -> str:
    env = record.environment
    lines = [
        f"# Evidence: {record.contract_id}",
        "",
        f"Recorded by `pv verify --live` at {record.started_at.isoformat()} for `{record.contract_file}` "
        f"(sha256 `{(record.contract_sha256 or 'unknown')[:16]}…`), commit `{record.commit or 'not in git'}`"
        + (" with uncommitted changes" if record.worktree not in (None, "clean") else "") + ".",
        "",
        f"Environment: Python {env.get('python')}, torch {env.get('torch') or 'not installed'}, "
        f"device {env.get('device')}, {env.get('platform')}.",
        "",
        "| falsifier | outcome | exit | wall (s) | check | reason |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for run in record.runs:
        cells = [run.id, run.outcome.upper(), str(run.exit_code), f"{run.wall_s:.2f}", f"`{run.check}`"
                 if run.check else "", (run.reason or "").replace("|", "\\|").replace("\n", " ")]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Per falsifier: `<ID>.stdout.txt`, `<ID>.stderr.txt` and, when declared, `<ID>.metrics.json`.",
              "Artifact hashes (sha256) are in `record.json`; `pv promote` re-checks them before trusting "
              "this folder.", ""]
    for run in record.runs:
        lines.append(f"## {run.id}\n\n```\n{run.command}\n```\n")
        for path, digest in run.artifacts.items():
            lines.append(f"- `{path}`: {digest or 'MISSING'}")
        if run.artifacts:
            lines.append("")
    return "\n".join(lines)


RECORD_LIMIT = 256 << 20  # a record holds hashes and metrics, never data


def read_record(folder: Path) -> EvidenceRecord:
    try:
        return EvidenceRecord.model_validate_json(read_text(folder / "record.json", limit=RECORD_LIMIT))
    except FileNotFoundError:
        raise ValueError(f"{folder}/record.json is missing") from None
    except (OSError, ValueError) as exc:  # ValueError: not UTF-8, or not a record (pydantic)
        raise ValueError(f"{folder}/record.json is unreadable: {str(exc).splitlines()[0]}") from None


def hash_artifact(root: Path, rel: str, *, deadline: float | None = None) -> str | None:
    """The sha256 of a declared artifact, or None when it does not exist.

    ``UnsafePath`` when pv refuses it (outside the repository, not a regular file, unreadable);
    ``ReadTimeout`` past ``deadline`` (a ``time.monotonic()`` value).
    """
    path = safe_repo_path(root, rel)
    try:
        return sha256_of(path, deadline=deadline)
    except FileNotFoundError:
        return None
    except ReadTimeout:
        raise
    except OSError as exc:
        raise UnsafePath(f"artifact {rel!r}: {exc.strerror}") from None


def evidence_problems(root: Path, entry: LedgerEntry | None, falsifier: FalsificationTest) -> list[str]:
    """Why the evidence the ledger names for ``falsifier`` cannot back a claim today (empty: it can).

    The folder must exist and be tracked by git (a claim must be reproducible from a clone), its
    ``record.json`` must be the one the ledger recorded (same sha256), must hold a passing run of
    this falsifier with today's command, check and loss_floor, and the artifacts must still hash as
    they did. An empty or hand-made folder fails these checks.
    """
    from pv.binding import parse_binding
    from pv.freshness import is_git, tracked

    fid = falsifier.id
    folder_rel = entry.evidence if entry is not None else None
    if not folder_rel:
        return ["no evidence folder recorded in the ledger (run `pv verify --live`)"]
    try:
        folder = safe_repo_path(root, folder_rel)
        record = read_record(folder)
    except (UnsafePath, ValueError) as exc:
        return [str(exc)]
    problems = []
    record_rel = f"{folder_rel.rstrip('/')}/record.json"
    if not is_git(root):
        problems.append(f"{folder_rel} cannot be tracked: not a git checkout (commit the evidence with the code)")
    elif record_rel not in tracked(root, [record_rel]):
        problems.append(f"{folder_rel} is not tracked by git (git add {folder_rel} and commit it)")
    if entry is not None and entry.evidence_sha256 != sha256_file(folder / "record.json"):
        problems.append(f"{record_rel} is not the record `pv verify --live` wrote (its sha256 differs from the "
                        "ledger's)")
    run = next((r for r in record.runs if r.id == fid), None)
    if run is None:
        return [*problems, f"{record_rel} has no run of {fid}"]
    if run.outcome != "pass":
        problems.append(f"{folder_rel} records {run.outcome}, not pass")
    command = parse_binding(falsifier.test).command
    if command is not None and run.command != command:
        problems.append(f"the LIVE command changed since {folder_rel} was recorded")
    if (falsifier.check or None) != (run.check or None):
        problems.append(f"the check changed since {folder_rel} was recorded")
    if falsifier.loss_floor != run.loss_floor:
        problems.append(f"the loss_floor changed since {folder_rel} was recorded")
    if run.check and run.metrics is None:
        problems.append(f"{folder_rel} holds no metrics for the check")
    for rel in sorted(set(falsifier.artifacts) | set(run.artifacts)):
        if rel not in run.artifacts:
            problems.append(f"artifact {rel} is declared now but was not hashed in {folder_rel}")
            continue
        try:
            current = hash_artifact(root, rel)
        except UnsafePath as exc:
            problems.append(str(exc))
            continue
        if current != run.artifacts[rel]:
            problems.append(f"artifact {rel} no longer matches the hash in {folder_rel}")
    return problems
