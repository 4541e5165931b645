"""Every input gate of a run, in one place, before any weight is read or any collective runs.

``check_inputs`` reads and cross-checks what the user pointed the run at: the tokenizer's id
count against the model's embedding table (contract ``apr-pretrain-arch-polymorphic-v1``), the
shards against their manifest (counts, sha256, completeness), the manifest's tokenizer against
``--tokenizer``, the largest id the manifest admits against the table, and the sequence length
against the model's positions. Every rank runs it before the process group starts, so a bad input
fails fast on all of them. A new check on the data (say, the tokenizer's verification verdict)
belongs here.
"""

from __future__ import annotations

from dataclasses import dataclass

from trainer.config import ModelConfig, model_config_for
from trainer.data import ShardSet
from trainer.preflight import PreflightError, assert_ids_below_vocab, preflight_tokenizer_vocab
from trainer.run_config import RunConfig
from trainer.tokenizer_info import read_tokenizer_vocab


@dataclass(frozen=True)
class Inputs:
    """What the gates admitted: the model's architecture and the verified shards."""

    model_cfg: ModelConfig
    tokenizer_vocab: int
    shards: ShardSet
    shard_hashes: dict[str, str]


def check_inputs(cfg: RunConfig) -> Inputs:
    """Raise a ``TrainerInputError`` naming the first bad input; return the admitted inputs."""
    tok = read_tokenizer_vocab(cfg.tokenizer)
    tokenizer_vocab = tok.size
    model_cfg = model_config_for(init=cfg.init, preset=cfg.model_config_name)
    preflight_tokenizer_vocab(tokenizer_vocab, model_cfg.vocab_size, init_is_some=cfg.init is not None,
                              max_token_id=tok.max_id)
    shards = ShardSet(cfg.shards_dir, cfg.seq_len, val_fraction=cfg.val_fraction)
    _check_manifest_tokenizer(cfg, shards, tokenizer_vocab, model_cfg)
    if cfg.seq_len > model_cfg.max_position_embeddings:
        raise PreflightError(
            "seq-len", f"--seq-len {cfg.seq_len} > max_position_embeddings {model_cfg.max_position_embeddings}"
        )
    # Hashing every shard also checks it against the manifest's sha256, before training.
    return Inputs(model_cfg, tokenizer_vocab, shards, shards.file_hashes())


def _check_manifest_tokenizer(cfg: RunConfig, shards: ShardSet, tokenizer_vocab: int, model_cfg: ModelConfig) -> None:
    """The tokenizer the manifest says encoded the shards must be ``--tokenizer`` and fit the table."""
    encoded_with = shards.manifest.tokenizer if shards.manifest is not None else None
    if encoded_with is None:
        return
    where = f"{cfg.shards_dir}/manifest.json"
    if encoded_with.effective_vocab_count != tokenizer_vocab:
        raise PreflightError(
            "shards-tokenizer",
            f"{where} says the shards were encoded with vocab {encoded_with.effective_vocab_count:,} but "
            f"--tokenizer has {tokenizer_vocab:,} ids; encode the shards with this tokenizer",
        )
    assert_ids_below_vocab(encoded_with.max_token_id, model_cfg.vocab_size, f"{where} max_token_id")
