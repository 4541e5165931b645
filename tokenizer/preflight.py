"""Checks that must pass before any shard is written: encoder choice, round trip, unknown-token rate.

The wrong-vocab-format incident (a corpus 99.99% ``<unk>`` that trained to val_loss 0.0008) is caught
here: a tokenizer that cannot reproduce a sample of the very corpus it is about to encode is refused.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

import numpy as np

from tokenizer.corpus import CorpusFile, iter_chunks, parse_lines
from tokenizer.encoders import PROBE_TEXTS, Encoder, HFEncoder, TiktokenEncoder, TiktokenSpec, probe_mismatch
from tokenizer.errors import TokenizeError, VerificationError
from tokenizer.loader import LoadedTokenizer


def sample_documents(files: list[CorpusFile], text_field: str, limit: int) -> list[tuple[str, str]]:
    """The first ``limit`` documents of the corpus as (file:line, text); bad lines are left to the run."""
    out: list[tuple[str, str]] = []
    budget = 1 << 18  # characters: enough to catch a wrong vocab, small enough to probe in ~0.1 s
    line_base: dict[int, int] = {}
    for chunk in iter_chunks(files, 0, 0, 1 << 18):
        if limit <= 0 or budget <= 0 or chunk.seq >= 16:
            break
        base = line_base.get(chunk.file_index, 0)
        parsed = parse_lines(chunk.read(), chunk.start, text_field)
        line_base[chunk.file_index] = base + parsed.n_lines
        for i, text in zip(parsed.doc_line, parsed.texts, strict=True):
            out.append((f"{files[chunk.file_index].rel}:{base + i + 1}", text))
            budget -= len(text)
            if len(out) >= limit or budget <= 0:
                return out
    return out


def _roundtrip_target(tok: LoadedTokenizer, special_text: str) -> Callable[[str], str]:
    """What decode(encode(text)) must return: the text as the tokenizer's normalizer leaves it."""
    norm = tok.definition.normalizer
    if norm is None:
        return lambda text: text
    if norm != {"type": "NFC"}:
        from tokenizers import Tokenizer

        hf_norm = Tokenizer.from_str(tok.json_text).normalizer
        return (lambda text: hf_norm.normalize_str(text)) if hf_norm is not None else (lambda text: text)
    if special_text == "ordinary" or not tok.definition.added_tokens:
        return lambda text: unicodedata.normalize("NFC", text)
    # recognized special tokens are cut out before normalization, so normalize around them
    pattern = re.compile("|".join(re.escape(s) for s in sorted(tok.definition.special_tokens(), key=len,
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
    tok: LoadedTokenizer, kind: str, special_text: str, sample: list[str]
) -> tuple[Encoder, str, list[str]]:
    """Pick tiktoken when provably equivalent (structure + identical ids on probes), else HF."""
    notes: list[str] = []
    reference = HFEncoder(tok.json_text, special_text)  # type: ignore[arg-type]
    if kind == "hf":
        return reference, "hf-tokenizers: requested with --engine hf", notes
    if not isinstance(tok.fast, TiktokenSpec):
        if kind == "tiktoken":
            raise TokenizeError(f"--engine tiktoken is not equivalent to this tokenizer: {tok.fast}",
                                fix="use --engine auto or hf")
        notes.append(f"using HF tokenizers (slower): tiktoken is not equivalent here because {tok.fast}")
        return reference, f"hf-tokenizers: tiktoken ineligible ({tok.fast})", notes
    fast = TiktokenEncoder(tok.fast, special_text)  # type: ignore[arg-type]
    mismatch = probe_mismatch(fast, reference, sample)
    if mismatch is not None:
        if kind == "tiktoken":
            raise VerificationError(f"tiktoken and HF tokenizers disagree: {mismatch}",
                                    fix="use --engine hf (and please report the text)")
        notes.append(f"using HF tokenizers: tiktoken disagreed with it on {mismatch}")
        return reference, f"hf-tokenizers: tiktoken probe mismatch ({mismatch})", notes
    return fast, (
        f"tiktoken: merges equal the rank order and ids identical to HF tokenizers on {len(PROBE_TEXTS)} probe "
        f"texts and {len(sample)} corpus documents"
    ), notes
