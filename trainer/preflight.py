"""Pure preflight gates run before any weight is touched or any step is taken.

The vocab gate is the equation ``qwen_tokenizer_vocab_compatibility`` of contract
``apr-pretrain-arch-polymorphic-v1``: from scratch the tokenizer's id space and the embedding
table must agree exactly (``==``); under an init checkpoint the table may carry reserved slots the
tokenizer never emits (``<=``), but never fewer rows than the tokenizer's id space. The id space
is max id + 1, not the number of distinct ids: an embedding lookup indexes by id, so a tokenizer
with 512 ids spread over 0..511,000 needs 511,001 rows. Every error names the gate, both numbers,
the contract and falsifier, and the fix, because the person reading it is usually staring at a
failed job log, not at this code.
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


def tokenizer_id_space(tokenizer_vocab: int, max_token_id: int | None) -> int:
    """Rows needed for every id the tokenizer emits: ``max_token_id + 1`` (the count when ids are 0..N-1)."""
    if max_token_id is None:
        return tokenizer_vocab
    if isinstance(max_token_id, bool) or not isinstance(max_token_id, int) or max_token_id + 1 < tokenizer_vocab:
        raise PreflightError(
            "vocab-domain", f"max_token_id must be an int >= tokenizer_vocab - 1 = {tokenizer_vocab - 1}, "
            f"got {max_token_id!r}")
    return max_token_id + 1


def _describe(tokenizer_vocab: int, id_space: int) -> str:
    if id_space == tokenizer_vocab:
        return f"tokenizer_vocab={tokenizer_vocab:,}"
    return (f"tokenizer id space={id_space:,} (max id {id_space - 1:,}; only {tokenizer_vocab:,} distinct ids, "
            "with gaps)")


def assert_tokenizer_vocab_matches_model(
    tokenizer_vocab: int, model_vocab: int, *, max_token_id: int | None = None, model_source: str | None = None,
    matching: Sequence[str] = (),
) -> None:
    """Strict gate (from scratch): the embedding table has exactly one row per id of the tokenizer's id space.

    apr never resizes a model config to the tokenizer: the config is the user's statement of the
    architecture, and a silent resize would make this gate vacuous (it exists to catch a config
    and a tokenizer that do not belong together). The message says so and names the way out:
    ``matching`` are presets whose vocab_size equals the id space, ``model_source`` where the
    model's number came from.
    """
    _check_positive(tokenizer_vocab, model_vocab)
    space = tokenizer_id_space(tokenizer_vocab, max_token_id)
    if space != model_vocab:
        source = f" (from {model_source})" if model_source else ""
        presets = f"--model-config {' or '.join(matching)}, or " if matching else ""
        raise PreflightError(
            "vocab-strict",
            f"{_describe(tokenizer_vocab, space)} != model_vocab={model_vocab:,}{source}. From scratch, the "
            "embedding table must have exactly one row per tokenizer id, no more and no fewer; apr does not "
            f"resize a model config to the tokenizer (contract {CONTRACT}, FALSIFY-ARCH-006). Fix: {presets}a HF "
            f'config.json as --model-config with "vocab_size": {space}; or fine-tune with --mode from-init --init '
            "CHECKPOINT, where a table larger than the tokenizer (reserved rows) is allowed.",
        )


def assert_tokenizer_vocab_within_model_bound(tokenizer_vocab: int, model_vocab: int, *,
                                              max_token_id: int | None = None) -> None:
    """Relaxed gate (init): every emitted id must index a row; extra rows are reserved slots."""
    _check_positive(tokenizer_vocab, model_vocab)
    space = tokenizer_id_space(tokenizer_vocab, max_token_id)
    # the equation as the contract states it (a mutation test checks FALSIFY-ARCH-009 kills `<=` -> `<`)
    within_bound = space <= model_vocab
    if not within_bound:
        raise PreflightError(
            "vocab-bound",
            f"{_describe(tokenizer_vocab, space)} > model_vocab={model_vocab:,}: ids "
            f"{model_vocab}..{space - 1} would index past the init's embedding table "
            f"(contract {CONTRACT}, FALSIFY-ARCH-010/011). Fix: use the tokenizer the init was trained "
            "with, or an init whose vocab_size is at least the tokenizer's id space.",
        )


def preflight_tokenizer_vocab(
    tokenizer_vocab: int, model_vocab: int, init_is_some: bool, *, max_token_id: int | None = None,
    model_source: str | None = None, matching: Sequence[str] = (),
) -> None:
    """Route: init -> relaxed (<=) gate, no init -> strict (==) gate; both on the id space (max id + 1).
    ``model_source``/``matching`` go into the strict gate's message."""
    if init_is_some:
        assert_tokenizer_vocab_within_model_bound(tokenizer_vocab, model_vocab, max_token_id=max_token_id)
    else:
        assert_tokenizer_vocab_matches_model(tokenizer_vocab, model_vocab, max_token_id=max_token_id,
                                             model_source=model_source, matching=matching)


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
