"""tokenizer: import byte-level BPE tokenizers and encode JSONL corpora into uint32 token shards.

The library API lives in submodules so that importing this package (as ``apr --help`` does) stays
cheap:

- :mod:`tokenizer.importers` - ``import_hf`` / ``import_tiktoken`` into an extracted directory;
- :mod:`tokenizer.loader` - ``load_tokenizer`` for an extracted directory;
- :mod:`tokenizer.encode` - ``encode_corpus`` (``EncodeOptions``) into shards + manifest.json;
- :mod:`tokenizer.shards` - ``verify_output`` / ``repair_manifest`` / ``read_tokens``;
- :mod:`tokenizer.resources` - ``find_qwen_tiktoken``.
"""

from tokenizer.version import __version__

__all__ = ["__version__"]
