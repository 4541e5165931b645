"""``apr tokenize …``: a thin argparse layer over the library API.

Heavy modules (tiktoken, tokenizers, numpy, rich, pydantic models) are imported inside the handlers
so ``apr --help`` stays fast. Every handler returns an exit code: 0 ok, 2 bad input (including a file safeio
refuses to read and a failure inside an encoder's Rust code), 3 verification failure (the output must not be
used), 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

EPILOG_ENCODE = """\
Output: DIR/shard-00000.bin … (little-endian uint32 token ids, no header) and DIR/manifest.json.
A document (plus its EOS) is never split across shards; a shard is closed at the first document
boundary at or after --shard-tokens tokens. The manifest is rewritten atomically after every
shard, so after a crash or kill `--resume` continues and produces byte-identical output.

Inputs: *.jsonl, *.jsonl.gz, *.jsonl.zst and *.parquet, files and directories mixed, read in
path order; any other file is an error (--exclude skips on purpose).

examples:
  apr tokenize import-tiktoken --pattern qwen2 --special-tokens qwen2 --output tok/qwen2
  apr tokenize encode-corpus --corpus data/ --tokenizer tok/qwen2 --output shards/ --workers 4
  apr tokenize encode-corpus --corpus data/ --tokenizer tok/qwen2 --output shards/ --resume
  apr tokenize inspect shards/ --sha256
  # 8 array tasks (Slurm sets the index; or --num-tasks 8 --task-index I), then one dataset:
  sbatch --array=0-7 --wrap "apr tokenize encode-corpus --corpus data/ --tokenizer tok/qwen2 --output parts/"
  apr tokenize merge shards/ parts/task-*
"""


def _int_in(lo: int, hi: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text.replace("_", ""))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < lo:
            raise argparse.ArgumentTypeError(f"must be at least {lo}, got {value}")
        if hi is not None and value > hi:
            raise argparse.ArgumentTypeError(f"must be at most {hi}, got {value}")
        return value

    return parse


_positive_int = _int_in(1)
MAX_WORKERS = 1024  # the same bound as EncodeOptions.workers (checked without importing pydantic)


def _non_empty(text: str) -> str:
    if not text:
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return value


def _emit_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=2, sort_keys=False, default=str)
    sys.stdout.write("\n")


def _guarded(command: str, fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn library errors into a located message and an exit code instead of a traceback."""

    def handler(args: argparse.Namespace) -> int:
        from safeio import RefusedInputError
        from tokenizer.errors import TokenizeError

        try:
            return fn(args)
        except TokenizeError as exc:
            print(f"apr tokenize {command}: error: {exc.render()}", file=sys.stderr)
            return exc.exit_code
        except RefusedInputError as exc:  # a FIFO/device where a file is expected, or JSON beyond safe limits
            print(f"apr tokenize {command}: error: {exc}", file=sys.stderr)
            return 2

    return handler


def _options(command: str, model: Any, **values: Any) -> Any:
    """Build a pydantic options model; a value it rejects is bad input naming its flag, not a traceback."""
    from pydantic import ValidationError

    from tokenizer.errors import TokenizeError

    try:
        return model(**values)
    except ValidationError as exc:
        err = exc.errors()[0]
        flag = "--" + str(err["loc"][0]).replace("_", "-") if err["loc"] else "options"
        raise TokenizeError(f"{err['msg']} (got {err.get('input')!r})", where=flag,
                            fix=f"see `apr tokenize {command} --help` for the accepted values") from None


# -- handlers ---------------------------------------------------------------------------------------


def _print_meta(meta: Any, output: Path, as_json: bool) -> None:
    if as_json:
        _emit_json({"output": str(output), **meta.model_dump(mode="json")})
        return
    print(f"wrote {output}/ tokenizer.json vocab.json merges.txt tokenizer_meta.json")
    print(f"  BPE entries     {meta.bpe_vocab_count:,}")
    print(f"  merges          {meta.merges_count:,}")
    print(f"  added tokens    {meta.added_tokens_count:,}")
    print(f"  effective vocab {meta.effective_vocab_count:,} (max id {meta.max_token_id:,})")
    if meta.vocab_size is not None:
        print(f"  model vocab     {meta.vocab_size:,}")
    engine = "tiktoken (equivalent)" if meta.fast_engine.eligible else f"HF tokenizers ({meta.fast_engine.reason})"
    print(f"  encode engine   {engine}")
    for w in meta.warnings:
        print(f"  warning: {w}", file=sys.stderr)


def _import_hf(args: argparse.Namespace) -> int:
    from tokenizer.importers import import_hf

    meta = import_hf(args.input, args.output, force=args.force)
    _print_meta(meta, args.output, args.json)
    return 0


def _import_tiktoken(args: argparse.Namespace) -> int:
    from tokenizer.importers import import_tiktoken

    meta = import_tiktoken(
        args.ranks, args.output, pattern=args.pattern, special_tokens=args.special_tokens,
        normalizer=args.normalizer, model_vocab_size=args.model_vocab_size, force=args.force,
    )
    _print_meta(meta, args.output, args.json)
    return 0


def _encode_corpus(args: argparse.Namespace) -> int:
    from tokenizer.encode import default_workers, encode_corpus
    from tokenizer.options import EncodeOptions
    from tokenizer.progress import make_reporter
    from tokenizer.tasks import resolve_task

    progress = "none" if args.quiet else args.progress
    num_tasks, task_index, source = resolve_task(args.num_tasks, args.task_index)
    opts = _options(
        "encode-corpus", EncodeOptions,
        corpus=args.corpus, tokenizer=args.tokenizer, output=args.output, shard_tokens=args.shard_tokens,
        text_field=args.text_field, eos_policy=args.eos_policy, eos_token=args.eos_token,
        workers=args.workers or default_workers(), resume=args.resume, on_error=args.on_error,
        special_text=args.special_text, engine=args.engine, max_unk_rate=args.max_unk_rate,
        max_piece_chars=args.max_piece_chars, exclude=args.exclude, verify_engine=args.verify_engine,
        num_tasks=num_tasks, task_index=task_index, chunk_bytes=args.chunk_bytes, progress=progress,
    )
    if source is not None and not args.quiet:
        print(f"apr tokenize encode-corpus: array task {task_index} of {num_tasks} (from {source}); writing "
              f"{opts.task_output}", file=sys.stderr)
    try:
        manifest = encode_corpus(opts, reporter=make_reporter(progress))
    except KeyboardInterrupt:
        print(
            f"apr tokenize encode-corpus: interrupted; {opts.task_output}/manifest.json lists every complete shard, "
            "continue with the same command plus --resume",
            file=sys.stderr,
        )
        return 130
    t = manifest.totals
    if args.json:
        _emit_json({"output": str(opts.task_output),
                    **manifest.model_dump(mode="json", exclude={"shards", "corpus"}),
                    "shard_count": len(manifest.shards)})
    elif not args.quiet:
        v = manifest.verification
        print(
            f"encoded {t.documents:,} documents into {t.tokens:,} tokens in {len(manifest.shards)} shard(s) "
            f"at {manifest.run.tokens_per_s:,.0f} tokens/s ({manifest.run.engine}, {manifest.run.workers} workers)"
        )
        print(f"  skipped lines {t.skipped_lines:,}  blank lines {t.blank_lines:,}  EOS {t.eos_tokens:,}  "
              f"<unk> {t.unk_tokens:,} (rate {v.unk_rate if v else 0:.4%})")
        if t.skipped_lines and manifest.skipped:
            first = manifest.skipped[0]
            print(f"  first skipped: {first.file}:{first.line}: {first.reason}")
    return 0


def _merge(args: argparse.Namespace) -> int:
    from tokenizer.merge import merge_tasks

    manifest = merge_tasks(args.output, args.task_dirs, copy=args.copy, check_sha=args.sha256)
    t = manifest.totals
    if args.json:
        _emit_json({"output": str(args.output), "shard_count": len(manifest.shards),
                    **manifest.model_dump(mode="json", exclude={"shards", "corpus"})})
    else:
        how = "copied" if args.copy else "hard-linked"
        print(f"merged {len(args.task_dirs)} task(s) into {args.output}: {len(manifest.shards)} shard(s) {how}, "
              f"{t.tokens:,} tokens, {t.documents:,} documents")
    return 0


def _tokenizer_info_arg(path: Path | None) -> Any:
    if path is None:
        return None
    from tokenizer.loader import load_tokenizer
    from tokenizer.outdir import tokenizer_info

    return tokenizer_info(load_tokenizer(path))


def _inspect(args: argparse.Namespace) -> int:
    from tokenizer.shards import verify_output

    report = verify_output(args.dir, check_sha=args.sha256, check_ids=args.check_ids,
                           tokenizer=_tokenizer_info_arg(args.tokenizer))
    m = report.manifest
    if args.json:
        _emit_json({
            "ok": report.ok, "problems": report.problems, "notes": report.notes, "unchecked": report.unchecked,
            "id_bound": report.id_bound,
            "complete": m.complete, "repaired": m.repaired, "shards": len(m.shards),
            "totals": m.totals.model_dump(), "tokenizer": m.tokenizer.model_dump() if m.tokenizer else None,
            "config": m.config.model_dump() if m.config else None,
            "verification": m.verification.model_dump() if m.verification else None,
            "run": m.run.model_dump(),
        })
    else:
        t = m.totals
        state = "complete" if m.complete else ("repaired (no corpus position)" if m.repaired else "INCOMPLETE")
        print(f"{args.dir}: {state}, {len(m.shards)} shard(s), {t.tokens:,} tokens, {t.documents:,} documents")
        if m.tokenizer:
            print(f"  tokenizer {m.tokenizer.sha256[:16]}…  effective vocab {m.tokenizer.effective_vocab_count:,}")
        if m.config:
            c = m.config
            print(f"  eos {c.eos_policy} ({c.eos_token}={c.eos_id})  shard_tokens {c.shard_tokens:,}  "
                  f"text field {c.text_field!r}  on_error {c.on_error}")
        print(f"  skipped lines {t.skipped_lines:,}  blank {t.blank_lines:,}  EOS {t.eos_tokens:,}  "
              f"<unk> {t.unk_tokens:,}")
        if m.run.engine:
            print(f"  engine {m.run.engine}: {m.run.engine_check}")
        print(f"  {m.run.tokens_per_s:,.0f} tokens/s over {m.run.elapsed_s:,.1f} s ({m.run.resumes} resume(s))")
        checks = "sizes" + (", sha256" if args.sha256 else "") + (
            f", ids < {report.id_bound:,}" if report.id_bound is not None else "")
        for n in report.notes:
            print(f"  note: {n}")
        for p in report.problems:
            print(f"  PROBLEM: {p}", file=sys.stderr)
        print(f"  shards checked ({checks}): {'OK' if report.ok else f'{len(report.problems)} problem(s)'}")
        for u in report.unchecked:
            print(f"  NOT CHECKED: {u}", file=sys.stderr)
    if not report.ok:
        return 3
    if report.unchecked:  # a check that was asked for and not made is not a pass
        print("apr tokenize inspect: error: a requested check could not be made (see NOT CHECKED above)\n"
              "  how to fix: pass --tokenizer DIR (the tokenizer the shards were encoded with)", file=sys.stderr)
        return 2
    return 0


def _repair(args: argparse.Namespace) -> int:
    from tokenizer.shards import repair_manifest

    manifest, problems = repair_manifest(args.dir, vocab_size=args.vocab_size,
                                         tokenizer=_tokenizer_info_arg(args.tokenizer))
    if args.json:
        _emit_json({"shards": len(manifest.shards), "tokens": manifest.totals.tokens, "problems": problems,
                    "id_bound": manifest.tokenizer.max_token_id + 1 if manifest.tokenizer else None})
    else:
        bound = f"ids < {manifest.tokenizer.max_token_id + 1:,}" if manifest.tokenizer else "no id bound"
        print(f"rebuilt {args.dir}/manifest.json from {len(manifest.shards)} shard(s), "
              f"{manifest.totals.tokens:,} tokens, {bound} (marked repaired: not resumable)")
        for p in problems:
            print(f"  note: {p}", file=sys.stderr)
    return 0


# -- parser -----------------------------------------------------------------------------------------


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``apr tokenize`` and its subcommands to the ``apr`` parser."""
    parser = subparsers.add_parser(
        "tokenize", help="import BPE tokenizers and encode JSONL/Parquet corpora",
        description="Import byte-level BPE tokenizers, encode JSONL/Parquet corpora into verified uint32 shards, "
        "and merge array tasks.",
    )
    sub = parser.add_subparsers(dest="tokenize_command", required=True, metavar="SUBCOMMAND")
    for add in (_add_import_hf, _add_import_tiktoken, _add_encode_corpus, _add_merge, _add_inspect, _add_repair):
        add(sub)


def _finish(p: argparse.ArgumentParser, command: str, handler: Callable[[argparse.Namespace], int],
            json_help: str) -> None:
    """The options every subcommand ends with, and its guarded handler."""
    p.add_argument("--json", action="store_true", help=json_help)
    p.set_defaults(func=_guarded(command, handler))


def _add_extract_output(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output", type=Path, required=True, help="directory to create (must be empty)")
    p.add_argument("--force", action="store_true", help="write into a non-empty output directory")


def _add_import_hf(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import-hf", help="extract a byte-level BPE tokenizer from an HF model dir",
                       description="Extract tokenizer.json, vocab.json, merges.txt and tokenizer_meta.json "
                       "(counts, config.json vocab_size, source sha256, pre-tokenizer pattern).")
    p.add_argument("--input", type=Path, required=True, help="HF model directory or tokenizer.json file")
    _add_extract_output(p)
    _finish(p, "import-hf", _import_hf, "print the resulting metadata as JSON")


def _add_import_tiktoken(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import-tiktoken", help="convert tiktoken BPE ranks into the extracted form",
                       description="Convert a tiktoken rank file into tokenizer.json + vocab.json + merges.txt "
                       "(merges derived from ranks) + tokenizer_meta.json.")
    p.add_argument("--ranks", type=Path, default=None,
                   help="tiktoken rank file; default for qwen2: $APR_QWEN_TIKTOKEN, ../shared/data/qwen.tiktoken, "
                   "or the dashscope package copy")
    p.add_argument("--pattern", default="qwen2", help="pre-tokenizer regex: a preset (qwen2, gpt2) or a regex")
    p.add_argument("--special-tokens", default="qwen2",
                   help="added tokens: a preset (qwen2, none) or a JSON file mapping text to id")
    p.add_argument("--normalizer", default="auto", choices=["auto", "nfc", "none"],
                   help="auto = what the pattern preset publishes (NFC for qwen2)")
    p.add_argument("--model-vocab-size", type=_positive_int, default=None,
                   help="the model's embedding rows to record (default 151936 for the qwen2 presets)")
    _add_extract_output(p)
    _finish(p, "import-tiktoken", _import_tiktoken, "print the resulting metadata as JSON")


def _add_encode_corpus(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("encode-corpus", help="encode JSONL/Parquet corpora into uint32 token shards + manifest.json",
                       description="Encode documents (files and directories of *.jsonl, *.jsonl.gz, *.jsonl.zst, "
                       "*.parquet) into token shards, verified and crash-safe; optionally as one task of a "
                       "scheduler array.", epilog=EPILOG_ENCODE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", type=Path, required=True, nargs="+", action="extend",
                   help="files and/or directories (repeatable); directories are searched recursively, following "
                   "symlinks; every file must be *.jsonl, *.jsonl.gz, *.jsonl.zst or *.parquet")
    p.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                   help="skip files whose corpus-relative path matches (e.g. '*.md'); repeatable")
    p.add_argument("--tokenizer", type=Path, required=True, help="directory made by import-hf/import-tiktoken")
    p.add_argument("--output", type=Path, required=True, help="output directory (empty, or with --resume)")
    p.add_argument("--shard-tokens", type=_positive_int, default=1 << 25,
                   help="close a shard at the first document boundary at or after this many tokens "
                   "(default 33554432 = 128 MiB)")
    p.add_argument("--text-field", type=_non_empty, default="text",
                   help="JSON field or Parquet column holding the document text (default: text)")
    p.add_argument("--eos-policy", choices=["none", "between", "after"], default="after",
                   help="EOS after every document (default), only between documents, or never")
    p.add_argument("--eos-token", default=None, help="EOS token text (default: <|endoftext|> or the meta's)")
    p.add_argument("--workers", type=_int_in(1, MAX_WORKERS), default=None,
                   help=f"worker processes, 1..{MAX_WORKERS} (default: the CPUs this process may use); output is "
                   "identical for any value")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run from its manifest")
    p.add_argument("--on-error", choices=["skip", "fail"], default="fail",
                   help="bad line (not JSON, no text field, invalid UTF-8): stop (default) or count and skip")
    p.add_argument("--special-text", choices=["ordinary", "recognize"], default="ordinary",
                   help="treat '<|endoftext|>' written in a document as plain text (default) or as the token")
    p.add_argument("--engine", choices=["auto", "tiktoken", "hf"], default="auto",
                   help="auto: tiktoken when checked equivalent to the HF tokenizer (merge order, probe texts and a "
                   "corpus sample), else HF tokenizers")
    p.add_argument("--verify-engine", action="store_true",
                   help="compare tiktoken with the HF reference on this corpus's sample even when their equivalence "
                   "is cached for this tokenizer (by the import, or the first encode); costs ~1 s of start-up")
    p.add_argument("--max-unk-rate", type=_rate, default=0.001, help="refuse above this <unk> share (0.001)")
    p.add_argument("--max-piece-chars", type=_int_in(0), default=100_000,
                   help="a document with a pre-tokenizer piece (e.g. a run of letters) longer than this is a bad "
                   "line: BPE cost grows faster than linearly with it (default 100000; 0: no limit)")
    p.add_argument("--num-tasks", type=_int_in(1), default=None,
                   help="split the corpus into N contiguous parts (one per array task; default: "
                   "$SLURM_ARRAY_TASK_COUNT when set, else 1); each task writes OUTPUT/task-IIIII-of-NNNNN, "
                   "then `apr tokenize merge` joins them")
    p.add_argument("--task-index", type=_int_in(0), default=None,
                   help="this task's part, 0-based (default: from SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX)")
    p.add_argument("--chunk-bytes", type=_positive_int, default=1 << 20, help=argparse.SUPPRESS)
    p.add_argument("--progress", choices=["auto", "rich", "plain", "none"], default="auto",
                   help="auto: a progress bar on a terminal, a line every 10 s otherwise")
    p.add_argument("--quiet", action="store_true", help="no progress and no summary (errors still print)")
    _finish(p, "encode-corpus", _encode_corpus, "print the final manifest summary as JSON on stdout")


def _add_merge(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("merge", help="join array-task outputs into one dataset equal to a single run",
                       description="Check that the outputs of `encode-corpus --num-tasks N` are complete, one per "
                       "task, contiguous, of the same corpus, tokenizer and options, then write one dataset whose "
                       "token stream equals a single-task run: shards hard-linked and renumbered (no token copied), "
                       "a merged manifest written last.", formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="example:\n  apr tokenize merge shards/ parts/task-*\n")
    p.add_argument("output", type=Path, help="directory to create (empty, on the tasks' filesystem unless --copy)")
    p.add_argument("task_dirs", type=Path, nargs="+", metavar="TASK_DIR", help="every task's output directory")
    p.add_argument("--copy", action="store_true", help="copy shards instead of hard-linking them")
    p.add_argument("--sha256", action="store_true", help="also verify every task shard's sha256 before merging")
    _finish(p, "merge", _merge, "print the merged manifest summary as JSON")


def _add_inspect(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("inspect", help="summarize a manifest and validate its shards",
                       description="Print the manifest summary and check every shard against it "
                       "(names, sizes, size % 4, token totals). Exit 3 on any problem, 2 when a requested "
                       "check could not be made.")
    p.add_argument("dir", type=Path, help="an encode-corpus output directory")
    p.add_argument("--sha256", action="store_true", help="also verify every shard's sha256")
    p.add_argument("--check-ids", action="store_true",
                   help="also read every id and check it is below the tokenizer's id space (the manifest's record, "
                   "else --tokenizer's); exit 2 if neither is known, never a silent OK")
    p.add_argument("--tokenizer", type=Path, default=None,
                   help="the tokenizer directory the shards were encoded with, for --check-ids on a manifest that "
                   "records none (repair-manifest output)")
    _finish(p, "inspect", _inspect, "machine-readable output")


def _add_repair(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("repair-manifest", help="rebuild manifest.json from the shard files alone",
                       description="Rebuild manifest.json from shard-*.bin (sizes must be multiples of 4); the old "
                       "manifest is kept as a backup. The result cannot be resumed (no corpus position).")
    p.add_argument("dir", type=Path, help="an encode-corpus output directory")
    p.add_argument("--vocab-size", type=_positive_int, default=None, help="also check every id is below this")
    p.add_argument("--tokenizer", type=Path, default=None,
                   help="record this tokenizer's bound (default: the previous manifest's) and check every id "
                   "against it")
    _finish(p, "repair-manifest", _repair, "machine-readable output")
