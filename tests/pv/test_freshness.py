"""Per-falsifier freshness: each verdict records what its test depended on, and only a change there stales it.

One throwaway git repo with a small subject package whose modules are reached in every way a test
can reach code: imported by the test module, imported inside the test, imported through a module
another test imported first, read as data, loaded by a child process with its own environment, by a
forked worker, and by a module-scoped fixture two tests share.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pv.cli import main
from pv.freshness import Digests, depends_on, record_inputs, why_stale
from pv.inputs_hook import WHOLE_TREE
from pv.ledger import Outcome, read_ledger
from pv.loader import load_contract
from pv.verify import verify
from pv.workspace import Workspace
from tests.pv.conftest import Repo, falsifier, valid_contract

SUBJECT = {
    "pkg/__init__.py": "",
    "pkg/preflight.py": "def check(n, limit):\n    if not n <= limit:\n        raise ValueError(n)\n",
    "pkg/other.py": "def two():\n    return 2\n",
    "pkg/consts.py": "LIMIT = 10\n",
    "pkg/late.py": "from pkg import consts\n\ndef limit():\n    return consts.LIMIT\n",
    "pkg/childmod.py": "VALUE = 3\n",
    "pkg/fixmod.py": "def make():\n    return 'made'\n",
    "pkg/forkmod.py": "def square(x):\n    return x * x\n",
    "data/table.txt": "42\n",
    "README.md": "# demo\n",
}

TEST_A = '''
import pkg.preflight

def test_preflight():
    pkg.preflight.check(3, 4)

def test_late_first():
    from pkg import late          # first import: late's module-level import of consts runs here
    assert late.limit() == 10
'''

TEST_B = '''
import multiprocessing
import subprocess
import sys

import pytest

@pytest.fixture(scope="module")
def made():
    from pkg import fixmod
    return fixmod.make()

def test_other():
    from pkg.other import two
    assert two() == 2

def test_late_cached():
    from pkg import late          # cached: consts is not imported again, yet it is an input
    assert late.limit() == 10

def test_data():
    with open("data/table.txt") as handle:
        assert handle.read().strip() == "42"

def test_child():
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": "."}   # a replaced environment, as many tests build
    out = subprocess.run([sys.executable, "-c", "from pkg.childmod import VALUE; print(VALUE)"],
                         env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "3"

def test_blind_child():
    subprocess.run([sys.executable, "-I", "-c", "pass"], check=True)   # isolated: cannot report

def _work(x):
    from pkg.forkmod import square
    return square(x)

def test_fork():
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.map(_work, [3]) == [9]

def test_fixture_one(made):
    assert made == "made"

def test_fixture_two(made):
    assert made == "made"
'''

NAMES = {"001": "a::test_preflight", "002": "a::test_late_first", "003": "b::test_other",
         "004": "b::test_late_cached", "005": "b::test_data", "006": "b::test_child", "007": "b::test_blind_child",
         "008": "b::test_fork", "009": "b::test_fixture_one", "010": "b::test_fixture_two"}


def _contract(repo: Repo) -> Path:
    fals = [falsifier(f"FALSIFY-FRESH-{n}", f"falsifiers/test_{where.replace('::', '.py::')}")
            for n, where in NAMES.items()]
    return repo.contract(valid_contract("fresh-v1", falsifiers=fals))


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> tuple[Repo, Path]:
    repo = Repo(tmp_path_factory.mktemp("fresh"))
    (repo.root / "pyproject.toml").write_text("[project]\nname = 'demo'\n[tool.pytest.ini_options]\n"
                                              "pythonpath = ['.']\n")
    for rel, text in SUBJECT.items():
        repo.write(rel, text)
    repo.write("falsifiers/test_a.py", TEST_A)
    repo.write("falsifiers/test_b.py", TEST_B)
    repo.write(".gitignore", ".pv/cache/\n")
    path = _contract(repo)
    repo.commit_all("subject")
    report = verify(Workspace(repo.root), [path])
    assert {v.entry.outcome for v in report.verdicts} == {Outcome.PASS}, \
        [(v.entry.falsifier_id, v.entry.reason) for v in report.verdicts]
    return repo, path


def _inputs(repo: Repo) -> dict[str, dict[str, str | None]]:
    ledger = read_ledger(repo.root / ".pv" / "ledger.json")
    return {fid.removeprefix("FALSIFY-FRESH-"): e.inputs or {} for fid, e in ledger.entries.items()}


def _stale(repo: Repo, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    assert main(["status", "--root", str(repo.root), "--format", "json"]) in (0, 1)
    (row,) = json.loads(capsys.readouterr().out)["contracts"]
    return {v["id"].removeprefix("FALSIFY-FRESH-"): v["why"] for v in row["verdicts"] if v["freshness"] != "fresh"}


def test_each_verdict_records_what_its_test_reached(fresh) -> None:
    inputs = _inputs(fresh[0])
    assert "pkg/preflight.py" in inputs["001"] and "pkg/preflight.py" not in inputs["003"]
    assert "pkg/other.py" in inputs["003"] and "pkg/other.py" not in inputs["001"]
    for n in ("002", "004"):  # first import and cached import give the same closure
        assert {"pkg/late.py", "pkg/consts.py"} <= set(inputs[n]), n
    assert "data/table.txt" in inputs["005"]
    assert "pkg/childmod.py" in inputs["006"]  # loaded only in a child with its own environment
    assert WHOLE_TREE in inputs["007"] and WHOLE_TREE not in inputs["006"]  # an -I child could not report
    assert "pkg/forkmod.py" in inputs["008"]  # loaded only in a forked worker
    assert "pkg/fixmod.py" in inputs["009"] and "pkg/fixmod.py" in inputs["010"]  # the fixture's, for both users
    for n, files in inputs.items():
        assert files["falsifiers/conftest.py"] is None, n  # pytest would load one: its absence is recorded
        assert "README.md" not in files and "contracts/fresh-v1.yaml" not in files
        assert not any(p.startswith(("/", ".pv/", ".git/")) for p in files)


def test_readme_edits_keep_everything_fresh(fresh, capsys: pytest.CaptureFixture[str]) -> None:
    repo = fresh[0]
    (repo.root / "README.md").write_text("# demo\n\nmore words\n")
    assert _stale(repo, capsys) == {}  # uncommitted
    repo.commit_all("docs")
    assert _stale(repo, capsys) == {}  # committed


def test_a_subject_edit_stales_exactly_its_dependents_and_changed_reruns_only_those(
        fresh, capsys: pytest.CaptureFixture[str]) -> None:
    repo, path = fresh
    preflight = repo.root / "pkg" / "preflight.py"
    preflight.write_text(SUBJECT["pkg/preflight.py"] + "# one more line\n")
    stale = _stale(repo, capsys)
    # test_a.py imports pkg.preflight at module level, so both its tests depend on it (a syntax error there
    # fails them both); the blind child's verdict depends on every Python file
    assert stale == {"001": "pkg/preflight.py changed", "002": "pkg/preflight.py changed",
                     "007": "a file matching **/*.py changed"}
    assert depends_on(read_ledger(repo.root / ".pv" / "ledger.json"), "pkg/preflight.py") == [
        "FALSIFY-FRESH-001", "FALSIFY-FRESH-002"]

    report = verify(Workspace(repo.root), [path], changed=True)
    ran = sorted(v.entry.falsifier_id.removeprefix("FALSIFY-FRESH-") for v in report.verdicts if not v.kept)
    assert ran == ["001", "002", "007"] and report.kept == len(NAMES) - 3
    assert _stale(repo, capsys) == {}

    preflight.write_text(SUBJECT["pkg/preflight.py"].replace("n <= limit", "n < limit"))  # a real mutation
    entry = {v.entry.falsifier_id: v.entry for v in verify(Workspace(repo.root), [path], changed=True).verdicts}
    assert entry["FALSIFY-FRESH-001"].outcome is Outcome.PASS  # 3 < 4 still holds: the mutant survives here
    preflight.write_text(SUBJECT["pkg/preflight.py"])
    verify(Workspace(repo.root), [path], changed=True)
    assert _stale(repo, capsys) == {}


def test_untracked_conftest_counts_added_or_removed(fresh, capsys: pytest.CaptureFixture[str]) -> None:
    repo, path = fresh
    conftest = repo.root / "falsifiers" / "conftest.py"
    conftest.write_text("import pytest\n")  # untracked: git would call the worktree clean apart from it
    stale = _stale(repo, capsys)
    assert set(stale) == set(NAMES) and all("falsifiers/conftest.py was added" in why for why in stale.values())
    verify(Workspace(repo.root), [path], changed=True)
    assert _inputs(repo)["001"]["falsifiers/conftest.py"] is not None  # recorded by content, tracked or not
    conftest.unlink()
    assert all("falsifiers/conftest.py was deleted" in why for why in _stale(repo, capsys).values())
    verify(Workspace(repo.root), [path], changed=True)


def test_xdist_workers_record_the_same_verdicts_and_inputs(fresh, tmp_path: Path) -> None:
    repo, path = fresh
    ledger = tmp_path / "xdist.json"
    report = verify(Workspace(repo.root, ledger_file=ledger), [path], workers=2)
    assert {v.entry.outcome for v in report.verdicts} == {Outcome.PASS}
    parallel = read_ledger(ledger).entries
    serial = read_ledger(repo.root / ".pv" / "ledger.json").entries
    for fid, entry in serial.items():
        assert set(parallel[fid].inputs or {}) == set(entry.inputs or {}), fid


def test_progress_is_one_line_per_falsifier_on_stderr_off_a_tty(fresh, tmp_path: Path) -> None:
    repo, _ = fresh
    proc = subprocess.run([sys.executable, "-m", "pv.cli", "verify", "--root", str(repo.root), "--format", "json",
                           "--ledger", str(tmp_path / "l.json")], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("pv verify: [")]
    assert len(lines) == len(NAMES)
    assert lines[-1].startswith(f"pv verify: [{len(NAMES)}/{len(NAMES)}] PASS ") and "elapsed" in lines[-1]
    assert json.loads(proc.stdout)["command"] == "verify"  # stdout stays the parseable report


def test_record_inputs_drops_ignored_outside_and_ledger_paths(repo: Repo) -> None:
    repo.write(".gitignore", "cache/\n")
    repo.write("cache/x.py", "x = 1\n")
    repo.write("src.py", "y = 2\n")
    repo.commit_all()
    got = record_inputs(repo.root, [str(repo.root / "src.py"), str(repo.root / "cache" / "x.py"), "/etc/hostname",
                                    str(repo.root / ".pv" / "ledger.json"), str(repo.root / "gone.py")],
                        Digests(repo.root))
    assert set(got) == {"src.py", "gone.py"} and got["gone.py"] is None


def test_a_changed_contract_entry_stales_only_that_falsifier(repo: Repo) -> None:
    repo.write("falsifiers/test_x.py", "def test_one():\n    pass\n\ndef test_two():\n    pass\n")
    data = valid_contract("x-v1", falsifiers=[falsifier("FALSIFY-X-001", "falsifiers/test_x.py::test_one"),
                                              falsifier("FALSIFY-X-002", "falsifiers/test_x.py::test_two")])
    path = repo.contract(data)
    verify(Workspace(repo.root), [path])
    data["falsification_tests"][1]["prediction"] = "holds, said differently"
    data["metadata"]["description"] = "another description"  # outside any entry: stales nothing
    repo.contract(data)
    ledger = read_ledger(repo.root / ".pv" / "ledger.json")
    fts = {ft.id: ft for ft in load_contract(path).contract.falsification_tests}
    digests = Digests(repo.root)
    assert why_stale(ledger.entries["FALSIFY-X-001"], fts["FALSIFY-X-001"], digests) is None
    assert why_stale(ledger.entries["FALSIFY-X-002"], fts["FALSIFY-X-002"], digests) == \
        "its contract entry changed since it was recorded"


def test_a_full_run_drops_verdicts_of_falsifiers_no_contract_declares(repo: Repo) -> None:
    repo.write("falsifiers/test_x.py", "def test_one():\n    pass\n")
    both = [falsifier("FALSIFY-X-001", "falsifiers/test_x.py::test_one"), falsifier("FALSIFY-X-002")]
    repo.contract(valid_contract("x-v1", falsifiers=both))
    contracts = sorted((repo.root / "contracts").glob("*.yaml"))
    verify(Workspace(repo.root), contracts)
    repo.contract(valid_contract("x-v1", falsifiers=both[:1]))
    verify(Workspace(repo.root), contracts, patterns=["FALSIFY-X-001"])  # a selection keeps what it did not select
    assert set(read_ledger(repo.root / ".pv" / "ledger.json").entries) == {"FALSIFY-X-001", "FALSIFY-X-002"}
    verify(Workspace(repo.root), contracts)
    assert set(read_ledger(repo.root / ".pv" / "ledger.json").entries) == {"FALSIFY-X-001"}


def _two_tests(repo: Repo, modules: dict[str, str], test_module: str, first: str, second: str) -> dict:
    """A package, one test module with two tests bound to FALSIFY-T-001/002, verified: their ledger entries."""
    (repo.root / "pyproject.toml").write_text("[tool.pytest.ini_options]\npythonpath = ['.']\n")
    for name, text in {"pkg/__init__.py": "", **modules}.items():
        repo.write(name, text)
    repo.write("falsifiers/test_t.py", test_module)
    path = repo.contract(valid_contract("t-v1", falsifiers=[
        falsifier("FALSIFY-T-001", f"falsifiers/test_t.py::{first}"),
        falsifier("FALSIFY-T-002", f"falsifiers/test_t.py::{second}")]))
    verdicts = verify(Workspace(repo.root), [path]).verdicts
    assert {v.entry.outcome for v in verdicts} == {Outcome.PASS}
    return {v.entry.falsifier_id.removeprefix("FALSIFY-T-"): v.entry for v in verdicts}


def test_function_scoped_fixtures_belong_to_their_test_alone(repo: Repo) -> None:
    """What a function-scoped fixture does for one test is not an input of another test using it."""
    entries = _two_tests(repo, {"pkg/only_one.py": "X = 1\n"}, (
        "import pytest\n\n@pytest.fixture\ndef per_test(request, tmp_path):\n"
        "    if request.node.name == 'test_one':\n        import pkg.only_one\n    return tmp_path\n\n"
        "def test_one(per_test):\n    pass\n\ndef test_two(per_test):\n    pass\n"), "test_one", "test_two")
    assert "pkg/only_one.py" in entries["001"].inputs
    assert "pkg/only_one.py" not in entries["002"].inputs


def test_pv_hashing_the_ledgers_files_is_not_an_input(tmp_path: Path) -> None:
    """A test that lints in-process makes pv hash every file the ledger lists; those reads are bookkeeping."""
    (tmp_path / "listed.py").write_text("x = 1\n")
    (tmp_path / "data.txt").write_text("read by the test\n")
    script = (
        "import sys\nfrom pv.inputs_hook import Recorder\nfrom pv.freshness import Digests\nfrom pathlib import Path\n"
        f"root = {str(tmp_path)!r}\nrec = Recorder(root, root + '/spool')\nrec.install()\nrec.set_context('t')\n"
        "Digests(Path(root)).get('listed.py')\nopen(root + '/data.txt').read()\n"
        "print(sorted(p.rsplit('/', 1)[1] for p in rec.inputs(['t'])))\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['data.txt']"


def test_a_test_that_lists_a_folder_is_stale_when_a_file_appears_there(repo: Repo) -> None:
    """Like a linter scanning every test file: a new file there can change its outcome."""
    repo.write("cases/a.txt", "1\n")
    repo.write("falsifiers/test_glob.py", "from pathlib import Path\n\ndef test_cases():\n    assert sorted("
                                          "p.name for p in Path('cases').glob('*.txt')) == ['a.txt']\n")
    path = repo.contract(valid_contract("g-v1", falsifiers=[falsifier("FALSIFY-G-001",
                                                                      "falsifiers/test_glob.py::test_cases")]))
    repo.write(".gitignore", "*.log\n")
    repo.commit_all()
    entry = next(iter(verify(Workspace(repo.root), [path]).verdicts)).entry
    assert "dir:cases" in entry.inputs
    ft = load_contract(path).contract.falsification_tests[0]
    repo.write("cases/run.log", "ignored by git: not part of the listing\n")
    assert why_stale(entry, ft, Digests(repo.root)) is None
    repo.write("cases/b.txt", "2\n")
    assert why_stale(entry, ft, Digests(repo.root)) == "a file was added to or removed from cases/"
    assert next(iter(verify(Workspace(repo.root), [path]).verdicts)).entry.outcome is Outcome.FAIL  # rightly stale


def test_reads_are_leaves_and_threads_keep_the_test_that_started_them(repo: Repo) -> None:
    """Reading a module's source does not make its imports inputs (whatever ran earlier), and what a
    thread left behind by one test does later is not charged to the next test."""
    entries = _two_tests(repo, {"pkg/a.py": "import pkg.b\n", "pkg/b.py": "", "pkg/late.py": ""}, (
        "import threading\nSTART = threading.Event()\nTHREADS = []\n\n"
        "def test_imports():\n    import pkg.a\n"
        "    def later():\n        START.wait(30)\n        import pkg.late\n"
        "    THREADS.append(threading.Thread(target=later))\n    THREADS[0].start()\n\n"
        "def test_reads():\n    START.set()\n    THREADS[0].join(30)\n"
        "    assert 'import pkg.b' in open('pkg/a.py').read()\n"), "test_imports", "test_reads")
    assert {"pkg/a.py", "pkg/b.py"} <= set(entries["001"].inputs)
    assert "pkg/a.py" in entries["002"].inputs and "pkg/b.py" not in entries["002"].inputs
    assert "pkg/late.py" not in entries["002"].inputs


def test_the_entry_digest_ignores_fields_left_at_their_defaults() -> None:
    """A schema that gains an optional field must not make every recorded verdict stale."""
    from pv.freshness import entry_digest
    from pv.models import FalsificationTest

    base = falsifier("FALSIFY-X-001", "falsifiers/test_x.py::test_one")
    digest = entry_digest(FalsificationTest(**base))
    assert entry_digest(FalsificationTest(**base, artifacts=[], check=None)) == digest
    assert entry_digest(FalsificationTest(**{**base, "rule": "x < y"})) != digest
    assert entry_digest(FalsificationTest(**base, applies_to=["bound"])) != digest
