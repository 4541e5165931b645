"""``pv new ID [--kind K] [--falsifiers N]``: write a DRAFT contract skeleton and failing pytest stubs."""

from __future__ import annotations

import argparse
from pathlib import Path

from pv.commands.common import UsageError, add_format, add_root, workspace
from pv.enums import ContractKind, values
from pv.render import formats, render
from pv.scaffold import Scaffold, ScaffoldError, folder_of, plan_new, write_scaffold


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "new", help="write a DRAFT contract skeleton with pytest stubs that fail until written",
        description="Write ID.yaml into the contracts folder ([tool.pv] contracts; default contracts/): a "
                    "schema-valid DRAFT contract whose fields carry comments saying what goes there, and a test "
                    "module with one stub per falsifier, each marked @pytest.mark.falsifies(ID) and bound from the "
                    "contract. The result passes `pv validate` and `pv lint --strict-test-binding`; its stubs call "
                    "pytest.fail(\"not written\"), so `pv verify` fails until you write them. Never overwrites a "
                    "file. Exit 0 when written, 2 otherwise.",
    )
    parser.add_argument("id", metavar="ID", help="contract id, also the file name (e.g. my-tokenizer-v1)")
    parser.add_argument("--kind", default=ContractKind.PIPELINE.value, choices=values(ContractKind),
                        help="what the contract pins down (default: pipeline)")
    parser.add_argument("--falsifiers", type=int, default=3, metavar="N", help="number of falsifier stubs (default 3)")
    parser.add_argument("--area", default=None, metavar="AREA",
                        help="falsifier id area, FALSIFY-AREA-NNN (default: the id's last word, upper-cased)")
    parser.add_argument("--test-dir", type=Path, default=None, metavar="DIR",
                        help="where the test module goes (default: the first of [tool.pv] test_dirs, falsifiers/)")
    parser.add_argument("--author", default=None, help="metadata.author (default: your user name)")
    add_format(parser, formats(Scaffold))
    add_root(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    ws = workspace(args)
    taken = {ft.id for lc in ws.contracts if lc.contract is not None for ft in lc.contract.falsification_tests}
    try:
        scaffold = plan_new(ws.root, args.id, kind=args.kind, falsifiers=args.falsifiers, area=args.area,
                            contracts_dir=folder_of(ws.settings.contracts[0]),
                            test_dir=args.test_dir or Path(ws.settings.test_dirs[0]), taken_ids=taken,
                            author=args.author)
        write_scaffold(scaffold)
    except ScaffoldError as exc:
        raise UsageError(str(exc)) from None
    render(scaffold, args.format)
    return 0
