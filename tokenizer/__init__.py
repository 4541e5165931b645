"""tokenizer: import byte-level BPE tokenizers and encode JSONL corpora into uint32 token shards.

The public API, importable from the package itself::

    import tokenizer

    tokenizer.import_tiktoken(None, "tok/qwen2")  # the Qwen2 ranks, found locally (find_qwen_tiktoken)
    tok = tokenizer.load_tokenizer("tok/qwen2")
    opts = tokenizer.EncodeOptions(corpus="data/", tokenizer="tok/qwen2", output="shards/", workers=4)
    manifest = tokenizer.encode_corpus(opts, tokenizer=tok)  # *.jsonl, *.jsonl.gz, *.jsonl.zst, *.parquet
    # array tasks: EncodeOptions(..., num_tasks=8, task_index=i) each, then
    # tokenizer.merge_tasks("merged/", ["shards/task-00000-of-00008", ...])
    assert tokenizer.verify_output("shards/", check_sha=True).ok
    ids = tokenizer.read_tokens("shards/")  # numpy uint32, for small corpora and tests

Bad input raises :class:`TokenizeError` (with ``where`` and ``fix``); output that must not be used
raises :class:`VerificationError`. Names resolve on first use, so ``import tokenizer`` (as ``apr
--help`` does) loads none of numpy, pydantic, tiktoken or tokenizers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tokenizer.version import __version__

if TYPE_CHECKING:
    from tokenizer.encode import encode_corpus
    from tokenizer.errors import TokenizeError, VerificationError
    from tokenizer.importers import import_hf, import_tiktoken
    from tokenizer.loader import LoadedTokenizer, load_tokenizer
    from tokenizer.manifest import Manifest, read_manifest
    from tokenizer.merge import merge_tasks
    from tokenizer.options import EncodeOptions
    from tokenizer.resources import find_qwen_tiktoken
    from tokenizer.shards import read_tokens, repair_manifest, verify_output

_HOME = {
    "import_hf": "importers",
    "import_tiktoken": "importers",
    "find_qwen_tiktoken": "resources",
    "load_tokenizer": "loader",
    "LoadedTokenizer": "loader",
    "EncodeOptions": "options",
    "encode_corpus": "encode",
    "Manifest": "manifest",
    "read_manifest": "manifest",
    "merge_tasks": "merge",
    "verify_output": "shards",
    "repair_manifest": "shards",
    "read_tokens": "shards",
    "TokenizeError": "errors",
    "VerificationError": "errors",
}

__all__ = [
    "EncodeOptions",
    "LoadedTokenizer",
    "Manifest",
    "TokenizeError",
    "VerificationError",
    "__version__",
    "encode_corpus",
    "find_qwen_tiktoken",
    "import_hf",
    "import_tiktoken",
    "load_tokenizer",
    "merge_tasks",
    "read_manifest",
    "read_tokens",
    "repair_manifest",
    "verify_output",
]


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'tokenizer' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"tokenizer.{home}"), name)
    globals()[name] = value  # resolve once
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
