"""A seeded fuzz of the ``apr`` CLIs' file inputs and numeric flags: only documented exit codes, never a traceback.

Each example calls ``apr.cli.main`` in-process (fast) on a mutated input: an ``.apr`` file with
hostile metadata or index (CRCs recomputed so parsing goes deep), HF ``config.json`` and tokenizer
descriptors with hostile numbers, hostile ``tokenizer.json`` pre-tokenizer regexes and merges,
hostile corpus lines, and out-of-range numeric flags. Documented exit codes (README):
``apr pretrain`` 0-4, ``inspect``/``convert`` 0 and 2, ``apr tokenize`` 0, 2 and 3; 70 (an internal
error) and 1 from a crash are exactly what this guards against.
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apr.cli import main
from tests.trainer.conftest import write_shards
from trainer.apr_format import write_apr
from trainer.checkpoint import apr_metadata
from trainer.config import PRESETS, config_to_hf
from trainer.model import CausalLM

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
PRETRAIN_CODES = {0, 1, 2, 3, 4}
FILE_CODES = {0, 2}
TOKENIZE_CODES = {0, 2, 3}

EDGES = [0, -1, 1, 2, 3, -(2**63), 2**31, 2**63, 2**64, 10**8, 10**30, 10**60, 1.5, 0.5, -0.5, 1e-300, 1e300, -0.0,
         float("nan"), float("inf"), float("-inf")]
hostile_numbers = st.one_of(st.sampled_from(EDGES), st.sampled_from(EDGES), st.integers(),
                            st.floats(allow_nan=True, allow_infinity=True))
INT_EDGES = [e for e in EDGES if isinstance(e, int)]
hostile_ints = st.one_of(st.sampled_from(INT_EDGES), st.sampled_from(INT_EDGES), st.integers())
scalars = st.one_of(st.none(), st.booleans(), hostile_numbers, st.text(max_size=6))
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                            st.dictionaries(st.text(max_size=5), inner, max_size=3)),
                           max_leaves=6)


def _dumps(value: object) -> bytes:
    """JSON as a hostile writer would emit it: NaN/Infinity literals allowed; sometimes nested far too deep."""
    return json.dumps(value, allow_nan=True).encode()


def _run(argv: list[str]) -> tuple[int, str]:
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's own usage error (exit 2) for a value it cannot even parse
            code = int(exc.code or 0)
    return code, err.getvalue()


def _assert_clean(code: int, err: str, allowed: set[int], argv: list[str]) -> None:
    assert code in allowed, f"exit {code} for {argv}:\n{err[-3000:]}"
    assert "Traceback" not in err, f"traceback for {argv}:\n{err[-3000:]}"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("fuzz")
    cfg = PRESETS["test-tiny"]
    tensors = {k: v.detach().clone() for k, v in CausalLM(cfg).checkpoint_tensors().items()}
    tok = root / "tokenizer_meta.json"
    tok.write_text(json.dumps({"effective_vocab_count": 512}))
    return {"root": root, "shards": write_shards(root / "shards", [6000, 4000]), "tok": tok,
            "apr": write_apr(root / "good.apr", tensors, apr_metadata(cfg, {"tool": "fuzz"}))}


def _forge(path: Path, meta: bytes, index: bytes, data: bytes, n_tensors: int) -> Path:
    from trainer.apr_format import _FOOTER, _HEADER, ALIGN, FOOTER_MAGIC, HEADER_SIZE, MAGIC

    index_off = HEADER_SIZE + len(meta)
    data_off = (index_off + len(index) + ALIGN - 1) // ALIGN * ALIGN
    head = _HEADER.pack(MAGIC, 2, 0, 0, n_tensors, HEADER_SIZE, len(meta), index_off, len(index), data_off, 0)
    body = head + zlib.crc32(head).to_bytes(4, "little") + meta + index
    body += b"\0" * (data_off - len(body)) + data
    path.write_bytes(body + _FOOTER.pack(FOOTER_MAGIC, zlib.crc32(body)))
    return path


META_KEYS = ["vocab_size", "hidden_size", "num_layers", "num_heads", "num_kv_heads", "intermediate_size",
             "max_position_embeddings", "rope_theta", "rms_norm_eps", "tie_word_embeddings", "architecture"]
INDEX_KEYS = ["name", "dtype", "shape", "offset", "size", "crc32"]


@SETTINGS
@given(meta_key=st.sampled_from(META_KEYS), meta_value=st.one_of(hostile_numbers, json_values),
       index_key=st.sampled_from(INDEX_KEYS),
       index_value=st.one_of(hostile_numbers, st.lists(hostile_ints, max_size=4), json_values),
       which=st.sampled_from(["meta", "index", "both", "deep", "flip"]),
       flip=st.integers(0, 10**6))
def test_fuzzed_apr_files_inspect_convert_and_init_cleanly(inputs, meta_key, meta_value, index_key, index_value, which,
                                                      flip) -> None:
    from trainer.apr_format import AprFile

    with AprFile(inputs["apr"]) as f:
        meta = dict(f.metadata)
        index = [dict(vars(e)) | {"shape": list(e.shape)} for e in f.index.values()]
        data = bytes(f._mm[f.header.data_off : f._size - 8])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.apr"
        if which == "flip":  # a raw bit flip anywhere: the CRCs must catch it
            raw = bytearray(inputs["apr"].read_bytes())
            raw[flip % len(raw)] ^= 0x10
            path.write_bytes(bytes(raw))
        else:
            if which in ("meta", "both"):
                meta[meta_key] = meta_value
            if which in ("index", "both"):
                index[flip % len(index)][index_key] = index_value
            meta_bytes = b"[" * 5000 + b"]" * 5000 if which == "deep" else _dumps(meta)
            _forge(path, meta_bytes, _dumps(index), data, len(index))
        for argv in (["inspect", str(path)], ["inspect", str(path), "--json"],
                     ["convert", str(path), "--to-hf", str(Path(tmp) / "hf")]):
            code, err = _run(argv)
            _assert_clean(code, err, FILE_CODES, argv)
        argv = ["pretrain", "--mode", "from-init", "--init", str(path), "--tokenizer", str(inputs["tok"]),
                "--shards-dir", str(inputs["shards"]), "--steps", "1", "--batch-size", "2", "--seq-len", "16",
                "--out", str(Path(tmp) / "run"), "--progress", "off", "--device", "cpu"]
        code, err = _run(argv)
        _assert_clean(code, err, PRETRAIN_CODES, argv)


INT_FLAGS = ["--steps", "--batch-size", "--seq-len", "--warmup", "--eval-every", "--eval-batches", "--max-epochs",
             "--seed", "--ce-chunk-tokens", "--save-every", "--grad-accum"]
FLOAT_FLAGS = ["--lr", "--min-lr-ratio", "--weight-decay", "--grad-clip", "--val-fraction", "--target-val-loss",
               "--dist-timeout", "--peak-tflops"]
hostile_flags = st.lists(st.one_of(st.tuples(st.sampled_from(INT_FLAGS), hostile_ints),
                                   st.tuples(st.sampled_from(FLOAT_FLAGS), hostile_numbers)), min_size=1, max_size=2)
BASE_FLAGS = {"--steps": 2, "--batch-size": 2, "--seq-len": 16, "--eval-every": 1, "--max-epochs": 1}


def _pretrain(inputs: dict[str, Path], tmp_path: Path, *, flags: dict[str, object], model: str = "test-tiny",
              tok: Path | None = None) -> None:
    chosen = {**BASE_FLAGS, **flags}
    # Keep each example short: a huge step count runs one epoch of a tiny corpus (it stops with exit 4).
    if not isinstance(chosen["--steps"], int) or chosen["--steps"] > 3:
        chosen["--max-epochs"] = 1
    argv = ["pretrain", "--mode", "from-scratch", "--model-config", model, "--tokenizer", str(tok or inputs["tok"]),
            "--shards-dir", str(inputs["shards"]), "--out", str(tmp_path / "run"), "--progress", "off",
            "--device", "cpu", *(f"{flag}={value}" for flag, value in chosen.items())]  # --seed=-1, not an option
    code, err = _run(argv)
    _assert_clean(code, err, PRETRAIN_CODES, argv)


@SETTINGS
@given(flags=hostile_flags)
def test_fuzzed_pretrain_flags_exit_with_documented_codes(inputs, flags) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        _pretrain(inputs, Path(tmp), flags=dict(flags))


@SETTINGS
@given(key=st.sampled_from(sorted(config_to_hf(PRESETS["test-tiny"]))), value=st.one_of(hostile_numbers, json_values))
def test_fuzzed_model_configs_exit_with_documented_codes(inputs, key, value) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.json"  # a HF config.json with one hostile field
        path.write_bytes(_dumps({**config_to_hf(PRESETS["test-tiny"]), key: value}))
        _pretrain(inputs, Path(tmp), flags={}, model=str(path))


@SETTINGS
@given(key=st.sampled_from(["effective_vocab_count", "vocab_size", "n_vocab"]),
       value=st.one_of(hostile_numbers, json_values))
def test_fuzzed_tokenizer_descriptors_exit_with_documented_codes(inputs, key, value) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tok = Path(tmp) / "tokenizer_meta.json"
        tok.write_bytes(_dumps({key: value}))
        _pretrain(inputs, Path(tmp), flags={}, tok=tok)


@pytest.fixture(scope="module")
def small_tok(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tokenizer.testing import truncated_qwen_ranks, write_ranks

    root = tmp_path_factory.mktemp("tok")
    ranks = write_ranks(root / "r.tiktoken", truncated_qwen_ranks(512))
    assert main(["tokenize", "import-tiktoken", "--ranks", str(ranks), "--special-tokens", "none", "--pattern", "gpt2",
                 "--output", str(root / "tok")]) == 0
    return root


REGEX_PIECES = st.sampled_from(["a", "x", "|", "*", "+", "?", "(", ")", "(?=", "(?!", "[", "]", "^", "\\s", "\\S",
                                "\\p{L}", "\\d", ".", "{2,}", "$", "\\b", " ", "'"])


@SETTINGS
@given(pattern=st.lists(REGEX_PIECES, min_size=0, max_size=8).map("".join),
       vocab=st.one_of(st.none(), hostile_numbers))
def test_fuzzed_patterns_import_cleanly(small_tok, pattern, vocab) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        argv = ["tokenize", "import-tiktoken", "--ranks", str(small_tok / "r.tiktoken"), "--special-tokens", "none",
                "--pattern", pattern, "--output", str(Path(tmp) / "tok")]
        if vocab is not None:
            argv += [f"--model-vocab-size={vocab}"]
        code, err = _run(argv)
        _assert_clean(code, err, TOKENIZE_CODES, argv)


@SETTINGS
@given(regex=st.one_of(st.none(), st.lists(REGEX_PIECES, max_size=6).map("".join)),
       merge=st.one_of(st.none(), st.text(max_size=6), json_values),
       lines=st.lists(st.one_of(json_values, st.text(max_size=30).map(lambda t: {"text": t})), min_size=1, max_size=4),
       flag=st.sampled_from(["--shard-tokens", "--max-unk-rate", "--workers", "--chunk-bytes"]),
       value=hostile_numbers)
def test_fuzzed_tokenizer_json_corpus_and_flags_encode_cleanly(small_tok, regex, merge, lines, flag, value) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        tok = tmp_path / "tok"
        obj = json.loads((small_tok / "tok" / "tokenizer.json").read_text())
        if regex is not None:
            obj["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = regex
        if merge is not None:
            obj["model"]["merges"][0] = merge
        tok.mkdir()
        (tok / "tokenizer.json").write_bytes(_dumps(obj))  # no meta: nothing was checked at import
        corpus = tmp_path / "c.jsonl"
        corpus.write_bytes(b"\n".join(_dumps(line) for line in lines) + b"\n")
        if flag == "--workers" and isinstance(value, int) and value > 2:
            value = 2  # --workers 10000 is the scale branch's item; this fuzz keeps the pool small
        argv = ["tokenize", "encode-corpus", "--corpus", str(corpus), "--tokenizer", str(tok), "--output",
                str(tmp_path / "out"), "--eos-policy", "none", "--on-error", "skip", "--progress", "none",
                f"{flag}={value}"]
        code, err = _run(argv)
        _assert_clean(code, err, TOKENIZE_CODES, argv)


def test_the_fuzz_oracle_can_fail() -> None:
    """Falsification: a crash (exit 70 with a traceback) is what the oracle rejects."""
    with pytest.raises(AssertionError, match="exit 70"):
        _assert_clean(70, "Traceback (most recent call last):", PRETRAIN_CODES, ["pretrain"])
    with pytest.raises(AssertionError, match="traceback"):
        _assert_clean(2, "Traceback (most recent call last):", PRETRAIN_CODES, ["pretrain"])
