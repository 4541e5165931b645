#!/usr/bin/env bash
# CPU evidence for contract apr-pretrain-init-finetune-v1 (run from the repository root).
# WORK holds the (large, regenerable) intermediate files; EVID receives the record.
set -euo pipefail
WORK=${WORK:-/tmp/evw/work}
EVID=${EVID:?set EVID to the evidence folder}
mkdir -p "$WORK" "$EVID"
# 1. Tokenizer: the real Qwen2 ranks (151,643) + the 22 Qwen2.5 added tokens = 151,665 ids.
apr tokenize import-tiktoken --pattern qwen2 --output "$WORK/tok" --force
# 2. Corpus: the Python stdlib's top-level modules, alternating files into A (pretrain) and B (fine-tune).
python - "$WORK" <<'PY'
import json, sys, sysconfig
from pathlib import Path
work = Path(sys.argv[1])
files = sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))
for name, part in (("a", files[::2]), ("b", files[1::2])):
    (work / f"corpus_{name}").mkdir(exist_ok=True)
    with open(work / f"corpus_{name}" / "docs.jsonl", "w", encoding="utf-8") as fh:
        for f in part:
            fh.write(json.dumps({"text": f.read_text(encoding="utf-8", errors="replace"), "path": f.name}) + "\n")
PY
for c in a b; do
  rm -rf "$WORK/shards_$c"
  apr tokenize encode-corpus --corpus "$WORK/corpus_$c" --tokenizer "$WORK/tok" --output "$WORK/shards_$c" --progress none
done
COMMON=(--tokenizer "$WORK/tok" --progress off --eval-batches 8)
# 3. Pretrain from scratch on A: Qwen2-shaped, hidden 64, vocab 151,665 (strict gate: == tokenizer).
apr pretrain --mode from-scratch --model-config qwen2-tiny --shards-dir "$WORK/shards_a" --out "$WORK/pre" \
  --steps 200 --batch-size 8 --seq-len 64 --lr 1e-2 --warmup 10 --eval-every 50 --seed 0 "${COMMON[@]}"
# 4. Export as a HF dir with Qwen's 151,936-row table (271 reserved rows), like the real release.
apr convert "$WORK/pre/checkpoint.apr" --to-hf "$WORK/hf_init" --pad-vocab-to 151936
# 5. Fine-tune from the init on B (relaxed gate: 151,665 <= 151,936) and the from-scratch baseline on B.
apr pretrain --mode from-init --init "$WORK/hf_init" --shards-dir "$WORK/shards_b" --out "$WORK/ft" \
  --steps 40 --batch-size 8 --seq-len 64 --lr 3e-3 --eval-every 10 --seed 1 "${COMMON[@]}"
apr pretrain --mode from-scratch --model-config qwen2-tiny --shards-dir "$WORK/shards_b" --out "$WORK/scratch" \
  --steps 40 --batch-size 8 --seq-len 64 --lr 3e-3 --eval-every 10 --seed 1 "${COMMON[@]}"
apr inspect "$WORK/ft/checkpoint.apr" --json > "$WORK/ft/inspect.json"
