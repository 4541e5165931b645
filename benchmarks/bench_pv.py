"""Benchmark: `pv validate` and `pv lint` against the bare cost of parsing the same YAML.

Generates N synthetic contracts (~20 KB each) in a temporary repo, then times, in one process:
  * the reference: ``yaml.load(text, Loader=yaml.CSafeLoader)`` over every file;
  * ``pv validate`` (read, located parse, schema) over every file;
  * ``pv lint`` (all gates, strict test binding; includes validation);
and prints each as a ratio to the reference. Target: validate+lint work <= 2x the bare parse.

    python benchmarks/bench_pv.py --contracts 1000

``--unknown-keys 10000,50000`` instead times ``pv validate`` on one contract with that many unknown
keys (every one an error to locate), against the bare parse of the same file. Reporting must stay
linear: the cost per key at 50k stays within ~1.5x of the cost at 10k (it was quadratic: 8.8 s at
10k, over 120 s at 50k).

    python benchmarks/bench_pv.py --unknown-keys 10000,50000
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import yaml

from pv.lint import lint
from pv.workspace import Workspace

FALSIFIERS_PER_CONTRACT = 36


def make_contract(i: int, root: Path) -> str:
    fals = []
    for j in range(FALSIFIERS_PER_CONTRACT):
        fals.append({
            "id": f"FALSIFY-B{i:04d}-{j + 1:03d}",
            "rule": f"Invariant {j} of component {i}: the bound holds for every input in the declared domain.",
            "prediction": f"For all generated inputs x, f_{j}(x) <= g_{j}(x) within 1e-6 relative tolerance.",
            "test": f"falsifiers/test_bench_{i % 50:02d}.py::test_case_{j:03d}",
            "if_fails": "Check the implementation of the bound and the generator's domain; see the runbook.",
            "ship_blocking": j % 3 == 0,
            "counter_example_classes": ["off by one", "overflow", "empty input"],
            "discharge_level": "property",
        })
    data = {
        "metadata": {
            "id": f"bench-{i:04d}-v1", "version": "1.2.0", "status": "FUNCTIONAL", "kind": "pipeline",
            "created": "2026-01-01", "updated": "2026-03-01", "author": "bench",
            "description": "Synthetic contract for the pv benchmark. " * 4,
            "references": ["pv/models.py"], "depends_on": [f"bench-{i - 1:04d}-v1"] if i else [],
            "changelog": [{"version": f"1.{k}.0", "date": f"2026-0{k + 1}-01", "change": "step " * 8}
                          for k in range(3)],
        },
        "equations": {f"eq_{k}": {"formula": f"f_{k}(x) <= g_{k}(x)", "domain": "x in R^n", "codomain": "bool",
                                  "invariants": ["monotone in x", "finite"]} for k in range(6)},
        "proof_obligations": [{"type": "bound", "property": f"bound {k}", "applies_to": [f"eq_{k}"]}
                              for k in range(6)],
        "falsification_tests": fals,
    }
    return yaml.safe_dump(data, sort_keys=False)


def make_repo(root: Path, n: int) -> list[Path]:
    (root / "contracts").mkdir()
    (root / "falsifiers").mkdir()
    (root / "pv").mkdir()
    (root / "pv" / "models.py").write_text("")
    body = "".join(f"def test_case_{j:03d}():\n    assert True\n\n" for j in range(FALSIFIERS_PER_CONTRACT))
    for k in range(50):
        (root / "falsifiers" / f"test_bench_{k:02d}.py").write_text(body)
    paths = []
    for i in range(n):
        path = root / "contracts" / f"bench-{i:04d}-v1.yaml"
        path.write_text(make_contract(i, root))
        paths.append(path)
    return paths


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def unknown_keys(counts: list[int], repeats: int) -> None:
    per_key = []
    print(f"pv validate of one contract with N unknown keys (each an error to locate); best of {repeats}")
    for n in counts:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            (root / "contracts").mkdir()
            data = yaml.safe_load(make_contract(0, root))
            data["metadata"].update({f"unknown_key_{k:06d}": k for k in range(n)})
            path = root / "contracts" / "bench-0000-v1.yaml"
            path.write_text(yaml.safe_dump(data, sort_keys=False))

            def validate(path: Path = path, root: Path = root, n: int = n) -> None:
                (loaded,) = Workspace(root).load([path])
                assert len(loaded.diagnostics) == n and all(d.line for d in loaded.diagnostics)

            ref = best_of(lambda path=path: yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader),
                          repeats)
            took = best_of(validate, repeats)
            size = path.stat().st_size
        per_key.append(took / n)
        print(f"  N={n:>6}: file {size / 1024:7.1f} KiB   bare parse {ref:7.3f} s   "
              f"pv validate {took:7.3f} s ({took / ref:5.1f}x the parse, {1e6 * took / n:6.1f} us per key)")
    print(f"cost per key at N={counts[-1]} vs N={counts[0]}: {per_key[-1] / per_key[0]:.2f}x "
          "(1.0 = linear; quadratic would be ~" f"{counts[-1] / counts[0]:.0f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contracts", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--unknown-keys", default=None, metavar="N,N",
                        help="time pv validate on one contract with N unknown keys instead, e.g. 10000,50000")
    args = parser.parse_args()
    if args.unknown_keys:
        unknown_keys([int(n) for n in args.unknown_keys.split(",")], args.repeats)
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        paths = make_repo(root, args.contracts)
        sizes = [p.stat().st_size for p in paths]

        def bare() -> None:
            for p in paths:
                yaml.load(p.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)

        def validate() -> None:
            assert all(lc.ok for lc in Workspace(root).load(paths))

        def run_lint() -> None:
            report = lint(Workspace(root), paths, strict_test_binding=True)
            assert report.passed, report.diagnostics[:3]

        ref = best_of(bare, args.repeats)
        t_validate = best_of(validate, args.repeats)
        t_lint = best_of(run_lint, args.repeats)
    print(f"contracts: {len(paths)}, mean size {statistics.mean(sizes) / 1024:.1f} KiB, "
          f"{FALSIFIERS_PER_CONTRACT} falsifiers each; best of {args.repeats}")
    print(f"reference yaml.load(CSafeLoader): {ref:8.3f} s   1.00x")
    print(f"pv validate                     : {t_validate:8.3f} s   {t_validate / ref:.2f}x")
    print(f"pv lint (includes validation)   : {t_lint:8.3f} s   {t_lint / ref:.2f}x   (target <= 2x)")
    print(f"pv validate + pv lint, separate : {t_validate + t_lint:8.3f} s   {(t_validate + t_lint) / ref:.2f}x")


if __name__ == "__main__":
    main()
