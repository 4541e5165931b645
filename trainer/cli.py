"""``apr pretrain``, ``apr inspect`` and ``apr convert``: thin argparse over the trainer API.

Heavy imports (torch, and rich for tables) happen inside the handlers so ``apr --help`` stays instant. Exit codes:
0 ok, 1 target val_loss not reached, 2 bad input (preflight/config/format/data), 3 NaN/Inf,
4 training data exhausted, 5 a distributed collective failed (a rank died or stalled past --dist-timeout),
130 interrupted (Ctrl-C; the summary says what was saved).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from pydantic import ValidationError

from safeio import RefusedInputError
from trainer.apr_format import describe
from trainer.config import PRESETS
from trainer.errors import TrainerInputError
from trainer.run_config import RunConfig

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
#: RunConfig fields whose flag is not ``--`` + the field name with dashes.
_FLAG_OF = {"model_config_name": "--model-config", "dist_timeout_s": "--dist-timeout"}

_PRETRAIN_EPILOG = """\
exit codes: 0 ok | 1 --target-val-loss not reached | 2 bad input (preflight, config, data)
            3 NaN/Inf loss or grad norm | 4 training data exhausted (validation is never reused)
            5 multi-process only: a collective failed (another rank died or stalled past --dist-timeout)
            70 internal error (a bug or an environment failure such as out of memory; traceback printed)
            130 interrupted (Ctrl-C): summary.json has status "interrupted" and says how to resume

example (CPU, tiny):
  apr pretrain --mode from-scratch --model-config qwen2-tiny --tokenizer TOK_DIR \\
      --shards-dir SHARDS --steps 40 --batch-size 4 --seq-len 64 --lr 3e-3 --out runs/scratch
  apr pretrain --mode from-init --init runs/scratch/checkpoint.apr --tokenizer TOK_DIR \\
      --shards-dir SHARDS --steps 10 --batch-size 4 --seq-len 64 --out runs/ft
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "pretrain",
        help="train a decoder-only causal LM from scratch or from an init checkpoint",
        description="Train a Qwen2/Llama-family causal LM on uint32 token shards, with vocab preflight,\n"
        "held-out validation, metrics.jsonl, a summary JSON and an .apr checkpoint.",
        epilog=_PRETRAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--mode", required=True, choices=["from-scratch", "from-init"],
                   help="from-scratch: random weights, architecture from --model-config, embedding rows must equal "
                   "the tokenizer's ids; from-init: every weight and architecture field from --init")
    p.add_argument("--init", type=Path, help="init checkpoint: X.apr or a HF directory (config.json + *.safetensors)")
    p.add_argument("--tokenizer", type=Path, required=True,
                   help="tokenizer dir or file (tokenizer.json, a JSON with vocab_size, or *.tiktoken)")
    p.add_argument("--shards-dir", type=Path, required=True,
                   help="an encode-corpus output: manifest.json and exactly the shard-*.bin it lists, verified")
    p.add_argument("--model-config", dest="model_config_name",
                   help=f"from-scratch architecture: a preset ({', '.join(PRESETS)}) or a HF config.json; "
                   "default qwen2-0.5b")
    p.add_argument("--steps", type=int, required=True, help="optimizer updates to run")
    p.add_argument("--batch-size", type=int, required=True,
                   help="windows per step on each process (global batch = this x processes)")
    p.add_argument("--seq-len", type=int, required=True,
                   help="tokens per training window (at most the model's max_position_embeddings)")
    p.add_argument("--lr", type=float, default=3e-4,
                   help="peak learning rate of the warmup + cosine schedule (default 3e-4)")
    p.add_argument("--min-lr-ratio", type=float, default=0.1, help="cosine floor as a fraction of --lr")
    p.add_argument("--warmup", type=int, default=0, help="linear warmup steps")
    p.add_argument("--weight-decay", type=float, default=0.1, help="AdamW weight decay on matrices (default 0.1)")
    p.add_argument("--grad-clip", type=float, default=1.0, help="clip the global gradient norm to this (default 1.0)")
    p.add_argument("--eval-every", type=int, default=50, help="val_loss every K steps (also at 0 and at the end)")
    p.add_argument("--eval-batches", type=int, default=4, help="held-out batches per evaluation")
    p.add_argument("--val-fraction", type=float, default=0.05, help="tail fraction of windows held out")
    p.add_argument("--max-epochs", type=int, default=1, help="passes over the training windows before exhaustion")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                   help="auto: cuda when torch sees a GPU, else cpu")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the initial weights and the data order (0 .. 2**63-1; default 0)")
    p.add_argument("--out", type=Path, required=True,
                   help="run directory (train.log, metrics.jsonl, summary.json, checkpoint.apr); must be empty "
                   "or new unless --resume continues it or --overwrite replaces it")
    p.add_argument("--overwrite", action="store_true", default=None,
                   help="replace the run files (and resume/) a previous run left in --out")
    p.add_argument("--allow-unverified", action="store_true", default=None,
                   help="train on shards whose manifest is incomplete, repaired or failed verification; warned "
                   "about and recorded in summary.json. Missing, stray or modified shards are refused regardless")
    p.add_argument("--target-val-loss", type=float, help="exit 1 unless the final val_loss is <= this")
    p.add_argument("--ce-chunk-tokens", type=int, help="rows per chunk of the LM-head cross-entropy")
    p.add_argument("--progress", default="auto", choices=["auto", "on", "off"],
                   help="rich progress bar (auto: on a TTY)")
    p.add_argument("--json", action="store_true", help="print the run summary JSON on stdout at the end")
    d = p.add_argument_group("multi-process (launch with torchrun --nproc-per-node N [--nnodes M ...])")
    d.add_argument("--fsdp", action="store_true", default=None,
                   help="shard parameters, grads and optimizer state with FSDP2 fully_shard (default: DDP)")
    d.add_argument("--dist-timeout", dest="dist_timeout_s", type=float,
                   help="seconds any collective may wait before the job fails (a dead or stalled rank); default 600")
    d.add_argument("--save-every", type=int, help="write resume state to OUT/resume/ every K steps")
    d.add_argument("--resume", type=Path, metavar="RUN_DIR",
                   help="continue from RUN_DIR's latest resume state (same command otherwise)")
    s = p.add_argument_group("speed and memory (none changes the result beyond float rounding)")
    s.add_argument("--grad-accum", type=int, metavar="K",
                   help="split each rank's --batch-size sequences into K equal micro-batches per optimizer step: "
                   "the same update with 1/K of the activation memory (default 1)")
    s.add_argument("--activation-checkpointing", action="store_true", default=None,
                   help="recompute each decoder layer's activations in the backward pass: less memory, "
                   "about one more forward of compute")
    s.add_argument("--compile", action="store_true", default=None,
                   help="torch.compile every decoder layer (the first steps are slow while it compiles)")
    s.add_argument("--peak-tflops", type=float,
                   help="the device's dense bf16 peak, for MFU; default: a table of known GPUs (no MFU on CPU or "
                   "an unknown GPU)")

    p.set_defaults(func=_guarded("pretrain", _pretrain))

    i = subparsers.add_parser(
        "inspect", help="print an .apr checkpoint's header, metadata and tensor table",
        description="Verify an .apr checkpoint (header, footer and per-tensor CRC32s, index bounds) and print its "
        "header, metadata and every tensor's name, dtype, shape, offset and size. Names are never truncated; "
        "exit 2 when the file is not a valid .apr.",
    )
    i.add_argument("path", type=Path, help="the .apr file (apr pretrain's checkpoint.apr, or apr convert's output)")
    i.add_argument("--json", action="store_true", help="machine-readable output")
    i.set_defaults(func=_guarded("inspect", _inspect))

    c = subparsers.add_parser(
        "convert",
        help="import a HF checkpoint dir to .apr (or export .apr to a HF dir with --to-hf)",
        description="The direction follows the source: HF_DIR --output X.apr imports config.json and *.safetensors "
        "(never pickles); X.apr --to-hf DIR exports config.json + model.safetensors. Both check every tensor "
        "against the architecture (shapes, floating-point dtypes, finite values) before writing.",
    )
    c.add_argument("source", type=Path, help="HF directory (import), or an .apr file (export with --to-hf)")
    c.add_argument("--output", type=Path, help="import: the .apr file to write")
    c.add_argument("--to-hf", type=Path, metavar="DIR", help="export: the HF directory to write")
    c.add_argument("--pad-vocab-to", type=int, metavar="N",
                   help="with --to-hf: append zero (reserved) embedding rows up to N")
    c.add_argument("--json", action="store_true", help='print {"output": PATH} as JSON')
    c.set_defaults(func=_guarded("convert", _convert))


def _guarded(command: str, fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Bad input from any layer (a ``TrainerInputError``, an invalid option, a file safeio refuses to read)
    becomes ``apr COMMAND: error: ...`` and exit 2, never a traceback."""

    def handler(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except ValidationError as exc:
            print(f"apr {command}: error: {_options_summary(exc)}", file=sys.stderr)
        except (TrainerInputError, RefusedInputError) as exc:
            print(f"apr {command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT

    return handler


def _options_summary(exc: ValidationError) -> str:
    """RunConfig's errors named by the flag a user typed (``--seed: must be >= 0, got -1``)."""
    parts = []
    for e in exc.errors():
        msg = e["msg"].removeprefix("Value error, ")
        if e["loc"]:
            field = str(e["loc"][0])
            flag = _FLAG_OF.get(field, "--" + field.replace("_", "-"))
            parts.append(f"{flag}: {msg} (got {e['input']!r})")
        else:
            parts.append(msg)
    return "; ".join(parts)


def _pretrain(args: argparse.Namespace) -> int:
    from trainer import distributed  # torch: imported only when a run starts
    from trainer.loop import run_pretrain

    fields = {k: v for k, v in vars(args).items() if k in RunConfig.model_fields and v is not None}
    cfg = RunConfig(**fields)
    ctx = distributed.context_from_env()
    try:
        result = run_pretrain(cfg, dist=ctx)
        distributed.stop(barrier=True)  # leave together: no rank tears down while rank 0 still writes
    except KeyboardInterrupt:  # the loop handles Ctrl-C during steps; this is setup or the final writes
        print(f"apr pretrain: interrupted outside the training steps (during setup or the final writes); "
              f"{cfg.out}/summary.json exists only if the run got that far", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (TrainerInputError, RefusedInputError):
        raise
    except Exception as exc:  # a collective failed or timed out, or a rank crashed mid-run
        if not ctx.is_distributed:
            raise
        print(f"apr pretrain: error: rank {ctx.rank} of {ctx.world_size} stopped: {type(exc).__name__}: "
              f"{str(exc).strip()[:800]}\n  another rank probably exited or stalled (collectives time out after "
              f"{cfg.dist_timeout_s:g} s); its log has the root cause. No checkpoint was written.",
              file=sys.stderr, flush=True)
        return distributed.EXIT_DISTRIBUTED
    finally:
        distributed.stop()
    if args.json:
        print(json.dumps(result.summary, indent=2))
    if result.status == "interrupted":
        print(f"apr pretrain: {result.summary['detail']}; summary in {cfg.out}/summary.json", file=sys.stderr)
    return result.exit_code


def _inspect(args: argparse.Namespace) -> int:
    info = describe(args.path)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    from trainer.inspect_view import print_checkpoint

    print_checkpoint(info)
    return 0


def _convert(args: argparse.Namespace) -> int:
    from trainer.convert import convert_direction

    out = convert_direction(args.source, output=args.output, to_hf=args.to_hf, pad_vocab_to=args.pad_vocab_to)
    print(json.dumps({"output": str(out)}) if args.json else f"wrote {out}")
    return 0
