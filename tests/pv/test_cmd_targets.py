"""Reading a CMD: command statically: its simple commands and programs, and the tests it names, per runner."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from pv import testscan
from pv.cmd_targets import check_command, rust_test_functions
from pv.commandline import CommandSyntaxError, looks_like_command, program_problem, split_commands

SUITE = Path(__file__).parent / "data" / "reference_suite"


def problems(command: str, root: Path) -> list[str]:
    index = testscan.scan_tests(root)
    return [f"{p.problem} -> {p.suggestion}" for c in split_commands(command) for p in check_command(c, root, index)]


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    root = tmp_path / "suite"
    shutil.copytree(SUITE, root)
    return root


def test_split_commands_handles_operators_quotes_assignments_and_wrappers() -> None:
    got = [c.argv for c in split_commands("RUST_LOG=debug cargo build -p x && timeout 60 cargo test 'a b'|tee o.txt")]
    assert got == [("cargo", "build", "-p", "x"), ("cargo", "test", "a b"), ("tee", "o.txt")]
    with pytest.raises(CommandSyntaxError):
        split_commands("cargo test 'unclosed")


def test_looks_like_command_tells_commands_from_prose() -> None:
    assert looks_like_command("cargo test -p apr-cli --lib x::y")
    assert looks_like_command("./scripts/check.sh --fast")
    assert looks_like_command("FOO=1 go test ./...")
    assert not looks_like_command("Create config with prime hidden_size, attempt validate")
    assert not looks_like_command("Live: build with cargo, run on a small shard")
    assert not looks_like_command("tokenize_parquet::tests::iter_rows + iter_skips_nulls")


def test_program_problems(tmp_path: Path) -> None:
    assert program_problem("sh", tmp_path) is None
    assert program_problem("cd", tmp_path) is None  # a shell builtin
    assert "not on PATH" in program_problem("pv-no-such-tool-xyz", tmp_path)
    assert "does not exist" in program_problem("./scripts/missing.sh", tmp_path)


def test_rust_test_functions_follow_inline_modules_and_skip_comments_and_strings() -> None:
    src = '''
    // #[test] fn in_a_comment() {}
    #[cfg(test)]
    mod tests {
        fn helper<'a>(s: &'a str) -> &'a str { let _c = '}'; s }
        #[test]
        fn one() { let _s = "}{ #[test] fn in_a_string() {}"; }
        mod inner {
            #[tokio::test(flavor = "multi_thread")]
            async fn two() {}
        }
        /* #[test] fn in_a_block_comment() {} */
        #[test]
        #[ignore]
        pub fn three() {}
    }
    #[test]
    fn top() { let _r = r#"{{"#; }
    '''
    assert rust_test_functions(src) == [(["tests"], "one"), (["tests", "inner"], "two"), (["tests"], "three"),
                                        ([], "top")]


def test_cargo_filters_resolve_against_module_paths(suite: Path) -> None:
    ok = "cargo test -p shardkit --lib writer::tests::rejects_id_at_vocab_size"
    assert problems(ok, suite) == []
    assert problems("cargo test -p shardkit writer::tests", suite) == []  # a module prefix is a filter too
    assert problems("cargo test -p shardkit --test crash -- killed_between_shards_keeps_earlier_ones --exact",
                    suite) == []
    renamed = problems("cargo test -p shardkit --lib writer::tests::rejects_id_at_vocab", suite)
    assert renamed == []  # a substring: cargo would run it
    exact = problems("cargo test -p shardkit -- writer::tests::rejects_id_at_vocab --exact", suite)
    assert len(exact) == 1 and "no Rust test matches" in exact[0]
    assert exact[0].endswith("-> writer::tests::rejects_id_at_vocab_size")
    drifted = problems("cargo test -p shardkit --lib writer::tests::rejects_id_above_vocab", suite)
    assert len(drifted) == 1 and drifted[0].endswith("-> writer::tests::rejects_id_at_vocab_size")
    # --lib excludes the integration tests; --test restricts to one target
    assert problems("cargo test -p shardkit --lib killed_between_shards", suite)
    assert problems("cargo test -p shardkit --test crash shard_is_four_bytes", suite)
    assert "no package 'shardkitt'" in problems("cargo test -p shardkitt x", suite)[0]
    assert problems("cargo nextest run -p shardkit concurrent_appends", suite) == []
    assert problems("cargo test -p shardkit", suite) == []  # names no test: nothing to check


def test_go_run_regex_resolves_against_test_functions(suite: Path) -> None:
    assert problems("go test ./internal/vocab/ -run TestLookupRoundTrip", suite) == []
    assert problems("go test ./... -run='TestUnknown.*'", suite) == []
    assert problems("go test example.com/vocabsvc/internal/vocab -run TestLookup/subcase", suite) == []
    missing = problems("go test ./internal/vocab/ -run TestLookupRoundtrip$", suite)
    assert len(missing) == 1 and "matches no Test function" in missing[0] and missing[0].endswith("TestLookupRoundTrip")


def test_pytest_node_ids_in_commands_resolve(suite: Path) -> None:
    assert problems(f"{sys.executable} -m pytest -q falsifiers/test_ckpt.py::test_header_roundtrip", suite) == []
    assert problems("pytest falsifiers/test_ckpt.py::test_header_round_trip", suite)[0].endswith(
        "-> falsifiers/test_ckpt.py::test_header_roundtrip")
    assert "does not exist" in problems("python -m pytest falsifiers/nope.py::test_x", suite)[0]
    (suite / "checks").mkdir()
    (suite / "checks" / "test_outside.py").write_text("def test_elsewhere():\n    pass\n")
    assert problems("pytest checks/test_outside.py::test_elsewhere", suite) == []  # outside falsifiers/ and tests/
