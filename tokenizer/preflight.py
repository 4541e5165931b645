"""Checks that must pass before any shard is written: encoder choice, round trip, unknown-token rate.

The wrong-vocab-format incident (a corpus 99.99% ``<unk>`` that trained to val_loss 0.0008) is caught
here: a tokenizer that cannot reproduce a sample of the very corpus it is about to encode is refused.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

import numpy as np

from tokenizer.chunks import iter_chunks
from tokenizer.corpus import CorpusFile
from tokenizer.encoder_cache import record_encoder
from tokenizer.encoders import (
    PROBE_TEXTS,
    Encoder,
    HFEncoder,
    SpecialText,
    TiktokenSpec,
    probe_mismatch,
)
from tokenizer.errors import TokenizeError, VerificationError
from tokenizer.loader import LoadedTokenizer

#: Characters of the corpus sample: enough to catch a wrong vocab, small enough to check in ~20 ms.
SAMPLE_CHARS = 1 << 16
#: Characters taken from any one document, so one huge first document cannot blow the budget: the
#: HF reference once spent 76 s and 5.8 GB encoding a 45 MB first document whole.
SAMPLE_CHARS_PER_DOCUMENT = 1 << 13


def _head(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut after a newline when there is one in the second half."""
    if len(text) <= limit:
        return text
    nl = text.rfind("\n", limit // 2, limit)
    return text[: nl + 1] if nl >= 0 else text[:limit]


def sample_documents(files: list[CorpusFile], text_field: str, limit: int) -> list[tuple[str, str]]:
    """The first ``limit`` documents of the corpus as (file:line, text), each cut to
    :data:`SAMPLE_CHARS_PER_DOCUMENT`; bad lines are left to the run."""
    out: list[tuple[str, str]] = []
    budget = SAMPLE_CHARS
    line_base: dict[int, int] = {}
    for chunk in iter_chunks(files, 0, 0, 1 << 18):
        if limit <= 0 or budget <= 0 or chunk.seq >= 16:
            break
        base = line_base.get(chunk.file_index, 0)
        parsed = chunk.parse(text_field)
        line_base[chunk.file_index] = base + parsed.n_lines
        for i, text in zip(parsed.doc_line, parsed.texts, strict=True):
            head = _head(text, min(SAMPLE_CHARS_PER_DOCUMENT, budget))
            out.append((f"{files[chunk.file_index].rel}:{base + i + 1}", head))
            budget -= len(head)
            if len(out) >= limit or budget <= 0:
                return out
    return out


def _roundtrip_target(tok: LoadedTokenizer, special_text: str) -> Callable[[str], str]:
    """What decode(encode(text)) must return: the text as the tokenizer's normalizer leaves it."""
    norm = tok.summary.normalizer
    if norm is None:
        return lambda text: text
    if norm != {"type": "NFC"}:
        from tokenizers import Tokenizer

        hf_norm = Tokenizer.from_str(tok.json_text).normalizer
        return (lambda text: hf_norm.normalize_str(text)) if hf_norm is not None else (lambda text: text)
    if special_text == "ordinary" or not tok.summary.special_tokens:
        return lambda text: unicodedata.normalize("NFC", text)
    # recognized special tokens are cut out before normalization, so normalize around them
    pattern = re.compile("|".join(re.escape(s) for s in sorted(tok.summary.special_tokens, key=len,
                                                                reverse=True)))

    def target(text: str) -> str:
        out, pos = [], 0
        for m in pattern.finditer(text):
            out.append(unicodedata.normalize("NFC", text[pos : m.start()]) + m.group())
            pos = m.end()
        out.append(unicodedata.normalize("NFC", text[pos:]))
        return "".join(out)

    return target


def check_roundtrip(
    encoder: Encoder, tok: LoadedTokenizer, special_text: str, samples: list[tuple[str, str]], max_unk_rate: float
) -> float:
    """Refuse a tokenizer that cannot reproduce its input: the signature of a wrong-format vocab."""
    unk = tok.unk_id
    unk_count = total = 0
    target = _roundtrip_target(tok, special_text)
    for where, text in samples:
        ids = encoder.encode(text)
        total += int(ids.size)
        if unk is not None:
            unk_count += int(np.count_nonzero(ids == unk))
        expected = target(text).encode("utf-8")
        got = encoder.decode_bytes(ids)
        if got != expected:
            k = next((i for i in range(min(len(got), len(expected))) if got[i] != expected[i]),
                     min(len(got), len(expected)))
            raise VerificationError(
                f"round trip failed: decode(encode(text)) differs from the text at byte {k} "
                f"(expected {expected[k:k + 24]!r}, got {got[k:k + 24]!r}); {len(ids)} ids, "
                f"{0 if unk is None else int(np.count_nonzero(ids == unk))} of them <unk>",
                where=where,
                fix="the tokenizer cannot represent this text: its vocab is probably not in byte-level format "
                "(keys like 'Ġthe') or its decoder is wrong; re-import it with `apr tokenize import-hf`",
            )
    rate = unk_count / total if total else 0.0
    if rate > max_unk_rate:
        raise VerificationError(
            f"unknown-token rate {rate:.2%} on the corpus sample exceeds --max-unk-rate {max_unk_rate:.2%}",
            where=str(tok.directory),
            fix="the vocabulary does not cover this text; check it is the right tokenizer and format",
        )
    return rate


def choose_encoder(
    tok: LoadedTokenizer, kind: str, special_text: SpecialText, sample: list[str], *, verify: bool = False
) -> tuple[Encoder, str, list[str]]:
    """Pick tiktoken when provably equivalent (structure + identical ids on probes), else HF.

    The comparison with the HF reference runs once per tokenizer.json (and whenever ``verify``): its
    verdict and the reference ids of the probe texts are cached (:mod:`tokenizer.encoder_cache`), and
    later runs re-check the tiktoken encoder against those recorded ids without loading HF at all.
    """
    notes: list[str] = list(tok.notes)
    if kind == "hf":
        return HFEncoder(tok.json_text, special_text), "hf-tokenizers: requested with --engine hf", notes
    if not isinstance(tok.fast, TiktokenSpec):
        if kind == "tiktoken":
            raise TokenizeError(f"--engine tiktoken is not equivalent to this tokenizer: {tok.fast}",
                                fix="use --engine auto or hf")
        notes.append(f"using HF tokenizers (slower): tiktoken is not equivalent here because {tok.fast}")
        return HFEncoder(tok.json_text, special_text), f"hf-tokenizers: tiktoken ineligible ({tok.fast})", notes
    fast = tok.tiktoken_encoder(special_text)
    if tok.cache_verified and not verify:
        return fast, (
            f"tiktoken: equivalence to HF tokenizers cached for this tokenizer.json (merges equal the rank order; "
            f"ids identical on {len(PROBE_TEXTS)} probe texts, re-checked now against the recorded reference ids); "
            "--verify-engine also compares this corpus's sample with HF"
        ), notes
    reference = HFEncoder(tok.json_text, special_text)
    mismatch = probe_mismatch(fast, reference, sample)
    if mismatch is not None:
        if kind == "tiktoken":
            raise VerificationError(f"tiktoken and HF tokenizers disagree: {mismatch}",
                                    fix="use --engine hf (and please report the text)")
        notes.append(f"using HF tokenizers: tiktoken disagreed with it on {mismatch}")
        return reference, f"hf-tokenizers: tiktoken probe mismatch ({mismatch})", notes
    not_cached = record_encoder(tok.directory, tok.sha256, tok.fast, tok.summary, tok.warnings, reference, fast)
    if not_cached is not None:
        notes.append(not_cached)
    return fast, (
        f"tiktoken: merges equal the rank order and ids identical to HF tokenizers on {len(PROBE_TEXTS)} probe "
        f"texts and {len(sample)} corpus documents"
    ), notes
