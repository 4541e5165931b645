"""Every input gate of a run, in one place, before any weight is read or any collective runs.

``check_inputs`` reads and cross-checks what the user pointed the run at: the run directory
(``trainer.run_dir``: never silently replaced), the tokenizer's id space against the model's
embedding table (contract ``apr-pretrain-arch-polymorphic-v1``), the shards against their manifest
(``trainer.shard_checks``, contract ``apr-shards-handoff-v1``: complete and verified, every listed
shard present with its size and sha256, nothing unlisted, the largest id inside the table), the
manifest's tokenizer against ``--tokenizer``, and the sequence length against the model's
positions. Every rank runs it before the process group starts, so a bad input fails fast on all of
them. A new check on the data belongs here.
"""

from __future__ import annotations

from dataclasses import dataclass

from safeio import sha256_file
from tokenizer.manifest import MANIFEST_FILE
from trainer.config import ModelConfig, model_config_for, model_source, presets_with_vocab
from trainer.data import ShardSet
from trainer.preflight import PreflightError, assert_ids_below_vocab, preflight_tokenizer_vocab
from trainer.run_config import RunConfig
from trainer.run_dir import check_run_dir
from trainer.shard_checks import HandoffReport, check_shards
from trainer.tokenizer_info import TokenizerVocab, read_tokenizer_vocab


@dataclass(frozen=True)
class Inputs:
    """What the gates admitted: the model's architecture and the verified shards."""

    model_cfg: ModelConfig
    tokenizer_vocab: int
    shards: ShardSet
    shard_hashes: dict[str, str]
    handoff: HandoffReport


def check_inputs(cfg: RunConfig) -> Inputs:
    """Raise a ``TrainerInputError`` naming the first bad input; return the admitted inputs."""
    check_run_dir(cfg.out, resume=cfg.resume, overwrite=cfg.overwrite)
    tok = read_tokenizer_vocab(cfg.tokenizer)
    model_cfg = model_config_for(init=cfg.init, preset=cfg.model_config_name)
    preflight_tokenizer_vocab(tok.size, model_cfg.vocab_size, init_is_some=cfg.init is not None,
                              max_token_id=tok.max_id, model_source=model_source(cfg.model_config_name),
                              matching=presets_with_vocab(tok.id_space))
    if cfg.seq_len > model_cfg.max_position_embeddings:
        raise PreflightError(
            "seq-len", f"--seq-len {cfg.seq_len} > max_position_embeddings {model_cfg.max_position_embeddings}"
        )
    handoff = check_shards(cfg.shards_dir, model_cfg.vocab_size, allow_unverified=cfg.allow_unverified)
    shards = ShardSet(cfg.shards_dir, cfg.seq_len, val_fraction=cfg.val_fraction, manifest=handoff.manifest)
    _check_manifest_tokenizer(cfg, shards, tok, model_cfg)
    hashes = {**handoff.hashes, MANIFEST_FILE: sha256_file(cfg.shards_dir / MANIFEST_FILE)}
    return Inputs(model_cfg, tok.size, shards, hashes, handoff)


def _check_manifest_tokenizer(cfg: RunConfig, shards: ShardSet, tok: TokenizerVocab, model_cfg: ModelConfig) -> None:
    """The tokenizer the manifest says encoded the shards must be ``--tokenizer`` and fit the table."""
    encoded_with = shards.manifest.tokenizer if shards.manifest is not None else None
    if encoded_with is None:
        return
    where = f"{cfg.shards_dir}/manifest.json"
    if (encoded_with.effective_vocab_count, encoded_with.max_token_id + 1) != (tok.size, tok.id_space):
        raise PreflightError(
            "shards-tokenizer",
            f"{where} says the shards were encoded with {encoded_with.effective_vocab_count:,} ids up to "
            f"{encoded_with.max_token_id:,} but --tokenizer has {tok.size:,} ids up to {tok.id_space - 1:,}; "
            "encode the shards with this tokenizer",
        )
    assert_ids_below_vocab(encoded_with.max_token_id, model_cfg.vocab_size, f"{where} max_token_id")
