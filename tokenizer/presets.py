"""Named pre-tokenizer patterns and special-token tables for ``import-tiktoken``.

The Qwen2 values are copied from the published Qwen2 tokenizer (see ../shared/data/README.md); they
are constants rather than downloads so an import is reproducible offline.
"""

from __future__ import annotations

QWEN2_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
    r"|\s+(?!\S)|\s+"
)

#: The pattern GPT-2's ByteLevel pre-tokenizer uses when ``use_regex`` is true.
GPT2_PATTERN = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"

_QWEN2_ADDED = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
    "<tool_call>",
    "</tool_call>",
    "<|fim_prefix|>",
    "<|fim_middle|>",
    "<|fim_suffix|>",
    "<|fim_pad|>",
    "<|repo_name|>",
    "<|file_sep|>",
]

QWEN2_BPE_COUNT = 151_643
QWEN2_SPECIAL_TOKENS: dict[str, int] = {tok: QWEN2_BPE_COUNT + i for i, tok in enumerate(_QWEN2_ADDED)}
#: vocab_size in Qwen2's config.json: the embedding table has reserved rows above the last token.
QWEN2_MODEL_VOCAB_SIZE = 151_936

PATTERNS: dict[str, str] = {"qwen2": QWEN2_PATTERN, "gpt2": GPT2_PATTERN}
SPECIAL_TOKEN_SETS: dict[str, dict[str, int]] = {"qwen2": QWEN2_SPECIAL_TOKENS, "none": {}}
#: Normalizer each named pattern is published with (Qwen2's tokenizer.json applies NFC).
DEFAULT_NORMALIZER: dict[str, str | None] = {"qwen2": "NFC", "gpt2": None}
