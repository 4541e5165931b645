"""Pure preflight gates run before any weight is touched or any step is taken.

The vocab gate is the equation ``qwen_tokenizer_vocab_compatibility`` of contract
``apr-pretrain-arch-polymorphic-v1``: from scratch the tokenizer and the embedding table must
agree exactly (``==``); under an init checkpoint the table may carry reserved slots the tokenizer
never emits (``<=``), but never fewer rows than the tokenizer has ids. Every error names the gate,
both numbers, the contract and falsifier, and the fix, because the person reading it is usually
staring at a failed job log, not at this code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from trainer.errors import TrainerInputError

CONTRACT = "apr-pretrain-arch-polymorphic-v1"
INITFT_CONTRACT = "apr-pretrain-init-finetune-v1"


class PreflightError(TrainerInputError):
    """A preflight gate refused the run."""

    def __init__(self, gate: str, message: str) -> None:
        super().__init__(f"preflight gate {gate!r} failed: {message}")
        self.gate = gate


def _check_positive(tokenizer_vocab: int, model_vocab: int) -> None:
    for name, value in (("tokenizer_vocab", tokenizer_vocab), ("model_vocab", model_vocab)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise PreflightError("vocab-domain", f"{name} must be a positive int, got {value!r}")


def assert_tokenizer_vocab_matches_model(tokenizer_vocab: int, model_vocab: int) -> None:
    """Strict gate (from scratch): the embedding table has exactly one row per tokenizer id."""
    _check_positive(tokenizer_vocab, model_vocab)
    if tokenizer_vocab != model_vocab:
        raise PreflightError(
            "vocab-strict",
            f"tokenizer_vocab={tokenizer_vocab:,} != model_vocab={model_vocab:,}. A from-scratch run "
            f"sizes the embedding table to the tokenizer (contract {CONTRACT}, FALSIFY-ARCH-006). "
            f"Fix: use a model config with vocab_size={tokenizer_vocab}, or pass --init with a checkpoint "
            "whose table covers the tokenizer (the relaxed <= bound then applies).",
        )


def assert_tokenizer_vocab_within_model_bound(tokenizer_vocab: int, model_vocab: int) -> None:
    """Relaxed gate (init): every emitted id must index a row; extra rows are reserved slots."""
    _check_positive(tokenizer_vocab, model_vocab)
    if tokenizer_vocab > model_vocab:
        raise PreflightError(
            "vocab-bound",
            f"tokenizer_vocab={tokenizer_vocab:,} > model_vocab={model_vocab:,}: ids "
            f"{model_vocab}..{tokenizer_vocab - 1} would index past the init's embedding table "
            f"(contract {CONTRACT}, FALSIFY-ARCH-010). Fix: use the tokenizer the init was trained "
            "with, or an init whose vocab_size is at least the tokenizer's.",
        )


def preflight_tokenizer_vocab(tokenizer_vocab: int, model_vocab: int, init_is_some: bool) -> None:
    """Route: init -> relaxed (<=) gate, no init -> strict (==) gate."""
    if init_is_some:
        assert_tokenizer_vocab_within_model_bound(tokenizer_vocab, model_vocab)
    else:
        assert_tokenizer_vocab_matches_model(tokenizer_vocab, model_vocab)


def check_init_tensors(
    expected: Mapping[str, Sequence[int]],
    provided: Mapping[str, Sequence[int]],
    *,
    ignorable: Iterable[str] = (),
    source: str = "init",
    limit: int = 8,
) -> None:
    """Every model parameter must be present in the init with the right shape; nothing may be left over.

    A loader that quietly skips a tensor leaves it at random init and the fine-tune still "works";
    this gate makes that impossible (contract ``apr-pretrain-init-finetune-v1``, FALSIFY-INITFT-003).
    """
    ignore = set(ignorable)
    missing = [n for n in expected if n not in provided]
    mismatched = [
        f"{n} (model {tuple(expected[n])}, init {tuple(provided[n])})"
        for n in expected
        if n in provided and tuple(provided[n]) != tuple(expected[n])
    ]
    unexpected = [n for n in provided if n not in expected and n not in ignore]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing: {', '.join(missing[:limit])}")
    if mismatched:
        problems.append(f"{len(mismatched)} shape-mismatched: {', '.join(mismatched[:limit])}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected: {', '.join(unexpected[:limit])}")
    if problems:
        raise PreflightError(
            "init-weights",
            f"{source} does not populate the model exactly: {'; '.join(problems)} "
            f"(contract {INITFT_CONTRACT}, FALSIFY-INITFT-003). Fix: use an init of the same "
            "architecture, or convert it with `apr convert`.",
        )


def assert_ids_below_vocab(max_id: int, model_vocab: int, where: str) -> None:
    """A token id at or above the table size would be an out-of-bounds embedding lookup."""
    if max_id >= model_vocab:
        raise PreflightError(
            "ids-in-vocab",
            f"{where}: token id {max_id} >= model_vocab={model_vocab:,}. The shards were encoded with a "
            "different tokenizer than the model's; re-encode them or pick the matching model.",
        )
