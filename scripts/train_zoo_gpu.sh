#!/usr/bin/env bash
# Train the four zoo models in parallel on one GPU and write them under $OUT/weights/<name>.
# Used once on a lent GPU machine to produce the shipped weights; `genlens zoo train NAME` is the
# same code on any device. Usage: OUT=dir scripts/train_zoo_gpu.sh [extra genlens zoo train args]
set -u
OUT=${OUT:-runs/gpu}
DATA=${DATA:-.data/fashion-mnist}
PY=${PY:-python3}
mkdir -p "$OUT/logs" "$OUT/weights"
export PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH}
nvidia-smi --query-gpu=name,memory.total --format=csv > "$OUT/logs/gpu.txt" 2>&1 || true
$PY -c "import torch, timm; print(torch.__version__, timm.__version__, torch.cuda.is_available())" > "$OUT/logs/versions.txt" 2>&1
pids=()
for name in fmnist-cnn fmnist-vit fmnist-mixer fmnist-resmlp; do
  $PY -m genlens.cli.main zoo train "$name" --device "${DEVICE:-cuda}" --seed 0 --data-dir "$DATA" \
      --out "$OUT/weights/$name" --json "$@" > "$OUT/logs/$name.json" 2> "$OUT/logs/$name.err" &
  pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
cat "$OUT"/logs/*.json
exit $rc
