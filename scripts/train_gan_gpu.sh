#!/usr/bin/env bash
# Train the three GAN variants (StyleGAN2-style baseline, +SEL, EqGAN-SA) x seeds 0 1 in parallel on one GPU
# with bench/gan.py (the comparison; it ships nothing) and pack every output into ONE tar under $OUT.
# A model is shipped by its own command: genlens gan train --arch A --out DIR (the manifest keeps that command).
#
#   bash scripts/train_gan_gpu.sh            # from the repo root; data: $GENLENS_DATA or .data/fashion-mnist
#
# Time: BUDGET_S (default 420 s) is the whole benchmark's wall time. bench/gan.py first times every run's real
# training step with all six running at once (~30 s with start-up), then picks the kimg (the same for all
# runs) that makes the slowest run, evaluations included, end inside the budget. DEADLINE_S (480 s) stops
# runs at their next evaluation point if the estimate was wrong. Expect ~7.5 min in all, < 9.5 min worst case.
# Unpack here with: tar -xzf gan_gpu.tar.gz   (-> bench/results/gan*,
# gan-gpu-logs/). If the tar is over 15 MiB it is split into gan_gpu.tar.gz.part-aa, -ab, ... (cat them).
set -u
OUT=${OUT:-out/gan-gpu}
DATA=${GENLENS_DATA:-.data/fashion-mnist}
PY=${PY:-python3}
BUDGET_S=${BUDGET_S:-420}
DEADLINE_S=${DEADLINE_S:-480}
PARALLEL=${PARALLEL:-6}
WORK=${WORK:-$(mktemp -d /tmp/gan-gpu.XXXXXX)}
mkdir -p "$OUT" "$WORK/gan-gpu-logs" "$WORK/bench/results/gan"
export PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
LOGS="$WORK/gan-gpu-logs"
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; nproc; date -u; } > "$LOGS/machine.txt" 2>&1
$PY -c "import torch, timm, accelerate; print(torch.__version__, timm.__version__, accelerate.__version__, torch.cuda.is_available())" \
  > "$LOGS/versions.txt" 2>&1
start=$(date +%s)
$PY bench/gan.py --device "${DEVICE:-cuda}" --parallel "$PARALLEL" --budget-s "$BUDGET_S" --deadline-s "$DEADLINE_S" \
    --width half --batch 64 --evals 10 --data-dir "$DATA" --run-root "$WORK/runs" \
    --out "$WORK/bench/results/gan.json" \
    --png-dir "$WORK/bench/results/gan" "$@" > "$LOGS/bench.out" 2> "$LOGS/bench.err"
rc=$?
echo "bench/gan.py exit $rc after $(( $(date +%s) - start )) s" | tee -a "$LOGS/bench.out"
tail -n 30 "$LOGS/bench.err"
cat "$LOGS/bench.out"
tar -czf "$OUT/gan_gpu.tar.gz" -C "$WORK" gan-gpu-logs bench
size=$(stat -c %s "$OUT/gan_gpu.tar.gz")
if [ "$size" -gt $((15 * 1024 * 1024)) ]; then
  split -b 15m "$OUT/gan_gpu.tar.gz" "$OUT/gan_gpu.tar.gz.part-" && rm "$OUT/gan_gpu.tar.gz"
fi
ls -l "$OUT"
exit $rc
