#!/usr/bin/env bash
# One command for a lent GPU (one H100, 16 cores, ~10 min a command): trains IN PARALLEL on cuda, within a wall
# budget, then packs every output into ONE tar under $OUT.
#  1. issue 27's GAN comparison runs with three training seeds (bench/spatial_train.py: scenes-gan-s{0,1,2},
#     scenes-sel-only-s{0,1,2}, scenes-eqgan-s{0,1,2}: the plan's 1250 steps of batch 64 at --size half; seed 2 is
#     GPU_RUNS, --gpu-seeds), each its own process;
#  2. the plan's layout diffusion run scenes-ddpm-layout (30000 steps; resumes across calls);
#  3. issue 32's 64-px colour run on fashion-scenes-rgb: `genlens diffusion train` on the scenes' images (an .npz:
#     the scenes loader refuses to resize layouts) at --resolution 64 --channels 3 --size 64 --cond none, STEPS64
#     steps, then `genlens diffusion sample` (grid) and `genlens diffusion eval` (FID/KID of N_FID samples against
#     the 10,000 real test scenes under FEATURES, default genlens-eval, shipped, offline) plus the real-vs-real floor.
#
#   bash scripts/train_spatial_gpu.sh                 # from the repo root, on the lent machine
#   SMOKE=1 OUT=/tmp/o bash scripts/train_spatial_gpu.sh   # every part, tiny, 2 steps, on cpu (tests/bench)
#
# Time: BUDGET_S (480 s) is the whole command's wall time. Preparation (scene caches, the .npz) comes first; at
# BUDGET_S - GRACE_S - PACK_S every training still running gets Ctrl-C (SIGINT to its process group): it saves a
# checkpoint at the end of its step and stops (bench/spatial_train.py records the segment as interrupted); after
# GRACE_S (60 s: checkpoints, a colour evaluation in flight) anything left is killed, then the tar is written.
# STEPS64 (2000) is deliberately small: a colour run that finishes early leaves the GPU to the others, one that does
# not finish gives no FID this call (its checkpoint resumes it with the same STEPS64).
#
# Out: $OUT/spatial_gpu.tar.gz (split into .part-aa, -ab, ... when over 15 MiB: cat them). Unpack at the repo root:
#   cat spatial_gpu.tar.gz* | tar -xzf -     -> runs/gpu/... (run folders: models, manifests, checkpoints),
#   bench/results/spatial_gpu/ (train.json: every run's segments and steps; colour64/: eval, floor, grid),
#   spatial-gpu-logs/ (machine, versions, each process's output, summary.txt, left_out.txt).
# The tar holds at most TAR_CAP_MB (60) MiB of files: weights go in by need (GAN generators, diffusion models,
# unfinished runs' checkpoints, then the rest); left_out.txt lists what did not fit.
# Resume in a later call: unpack, then carry the run root (run tool: carry ["runs/gpu"]) and run the same command:
# every run continues from its checkpoint, finished ones are skipped. Data: Fashion-MNIST from $GENLENS_DATA,
# .data/fashion-mnist (carry it) or /usr/share/datasets/fashion-mnist; none found: one line and exit 2 in seconds.
# Size limit: only 64 MiB of working tree travels and the tracked tree is ~54 MiB, so neither Fashion-MNIST
# (~30 MB) nor the layout model's checkpoint (~11 MB) can be carried today: the machine must have the data.
# Call it as: run(command="bash scripts/train_spatial_gpu.sh", timeout_s=600), then give_back.
set -u
set -m  # every background job in its own process group: the deadline's SIGINT reaches a driver and its trainer
OUT=${OUT:-out/spatial-gpu}
PY=${PY:-python3}
SMOKE=${SMOKE:-0}
ROOT=${ROOT:-runs/gpu}  # run folders (bench/spatial_train.py --root); relative paths keep resumed configs equal
RUNS=${RUNS-scenes-ddpm-layout scenes-gan-s0 scenes-gan-s1 scenes-gan-s2 scenes-sel-only-s0 scenes-sel-only-s1 \
scenes-sel-only-s2 scenes-eqgan-s0 scenes-eqgan-s1 scenes-eqgan-s2}
COLOUR=${COLOUR:-1}  # 0: skip the 64-px colour run
PRECISION64=${PRECISION64:-bf16}
FEATURES=${FEATURES:-genlens-eval}
TAR_CAP_MB=${TAR_CAP_MB:-60}  # raw MiB in the tar; it comes back as at most 8 files, 64 MiB in all
if [ "$SMOKE" = 1 ]; then  # every part on cpu in seconds: tiny networks, 2 steps, 64 scenes
  DEVICE=${DEVICE:-cpu}; BUDGET_S=${BUDGET_S:-900}; GRACE_S=${GRACE_S:-30}; PACK_S=${PACK_S:-20}
  SMOKE_FLAG=--smoke; SIZE64=(--tiny --limit 16); LIMIT=64
  STEPS64=${STEPS64:-2}; BATCH64=${BATCH64:-8}; N_FID=${N_FID:-16}; EVAL_STEPS=${EVAL_STEPS:-2}
else
  DEVICE=${DEVICE:-cuda}; BUDGET_S=${BUDGET_S:-480}; GRACE_S=${GRACE_S:-60}; PACK_S=${PACK_S:-30}
  SMOKE_FLAG=; SIZE64=(--size 64); LIMIT=
  STEPS64=${STEPS64:-2000}; BATCH64=${BATCH64:-64}; N_FID=${N_FID:-2000}; EVAL_STEPS=${EVAL_STEPS:-20}
fi
start=$(date +%s)
WORK=${WORK:-$(mktemp -d /tmp/spatial-gpu.XXXXXX)}
LOGS="$WORK/logs" RES="$WORK/results"
mkdir -p "$OUT" "$LOGS" "$RES/runs" "$RES/colour64" "$ROOT"
export PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
if [ -z "${GENLENS_DATA:-}" ] && [ -d .data/fashion-mnist ]; then export GENLENS_DATA=.data/fashion-mnist; fi
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; nproc; free -g; date -u; } > "$LOGS/machine.txt" 2>&1
$PY -c "import torch, timm, accelerate; print(torch.__version__, timm.__version__, accelerate.__version__, torch.cuda.is_available())" \
  > "$LOGS/versions.txt" 2>&1
git log -1 --format='%H %s' > "$LOGS/commit.txt" 2>&1
echo "SMOKE=$SMOKE DEVICE=$DEVICE BUDGET_S=$BUDGET_S ROOT=$ROOT RUNS=$RUNS COLOUR=$COLOUR STEPS64=$STEPS64" \
  "BATCH64=$BATCH64 PRECISION64=$PRECISION64 N_FID=$N_FID FEATURES=$FEATURES GENLENS_DATA=${GENLENS_DATA:-}" \
  > "$LOGS/settings.txt"

pack() {  # the one tar, split at 15 MiB; prints what it holds
  $PY scripts/spatial_gpu_outputs.py merge "$RES" "$RES/train.json" > "$LOGS/summary.txt" 2>> "$LOGS/pack.err"
  $PY scripts/spatial_gpu_outputs.py pack "$WORK/spatial_gpu.tar.gz" --cap-mb "$TAR_CAP_MB" \
      --left-out "$LOGS/left_out.txt" --add "spatial-gpu-logs=$LOGS" --add "bench/results/spatial_gpu=$RES" \
      --add "$ROOT=$ROOT" 2>> "$LOGS/pack.err" || { cat "$LOGS/pack.err"; tar -czf "$WORK/spatial_gpu.tar.gz" -C "$WORK" logs; }
  mv "$WORK/spatial_gpu.tar.gz" "$OUT/spatial_gpu.tar.gz"
  if [ "$(stat -c %s "$OUT/spatial_gpu.tar.gz")" -gt $((15 * 1024 * 1024)) ]; then
    split -b 15m "$OUT/spatial_gpu.tar.gz" "$OUT/spatial_gpu.tar.gz.part-" && rm "$OUT/spatial_gpu.tar.gz"
  fi
  cat "$LOGS/summary.txt"
  ls -l "$OUT"
}

# --- preparation: data found, scene caches built once (not by ten processes at once), the colour .npz --------
if ! $PY -m genlens.cli data info --data fashion-scenes > "$LOGS/prep.out" 2> "$LOGS/prep.err"; then
  echo "train_spatial_gpu.sh: the scenes could not be built: $(tail -n 1 "$LOGS/prep.err"); put Fashion-MNIST in" \
       ".data/fashion-mnist (and carry it) or set GENLENS_DATA" | tee -a "$LOGS/prep.err" >&2
  pack; exit 2
fi
if [ "$COLOUR" = 1 ]; then
  $PY scripts/spatial_gpu_outputs.py scenes "$ROOT/data" ${LIMIT:+--limit "$LIMIT"} >> "$LOGS/prep.out" 2>> "$LOGS/prep.err" \
    || { echo "train_spatial_gpu.sh: exporting fashion-scenes-rgb failed; see prep.err" >&2; COLOUR=0; }
fi
echo "preparation took $(( $(date +%s) - start )) s" | tee -a "$LOGS/prep.out"

# --- the colour run: train, then (Ctrl-C ignored, so the deadline does not cut a finished model's scores) evaluate
COLOUR_DIR="$ROOT/runs/diffusion/scenes-rgb-64"
colour_run() {
  $PY -m genlens.cli diffusion train --data "npz:$ROOT/data/scenes-rgb-train.npz" --resolution 64 --channels 3 \
      "${SIZE64[@]}" --cond none --steps "$STEPS64" --batch "$BATCH64" --mixed-precision "$PRECISION64" \
      --checkpoint-every 500 --seed 0 --device "$DEVICE" --out "$COLOUR_DIR" --resume --json \
      > "$RES/colour64/train.json" 2> "$LOGS/colour64-train.err" || return
  trap '' INT
  $PY -m genlens.cli diffusion sample "$COLOUR_DIR" --n 16 --steps "$EVAL_STEPS" --seed 0 --device "$DEVICE" \
      --out "$RES/colour64/sample" --json > "$RES/colour64/sample.json" 2> "$LOGS/colour64-sample.err"
  $PY -m genlens.cli diffusion eval "$COLOUR_DIR" --n "$N_FID" --steps "$EVAL_STEPS" --features "$FEATURES" \
      --data "npz:$ROOT/data/scenes-rgb-test.npz" --resolution 64 --seed 0 --device "$DEVICE" \
      --out "$RES/colour64/eval" --json > "$RES/colour64/eval.json" 2> "$LOGS/colour64-eval.err"
  # the floor at the same sample count: N real training scenes against N real test scenes, same features
  $PY -m genlens.cli metrics fid "npz:$ROOT/data/scenes-rgb-test.npz" "npz:$ROOT/data/scenes-rgb-train.npz" \
      --limit "$N_FID" --features "$FEATURES" --device "$DEVICE" --json \
      > "$RES/colour64/floor.json" 2> "$LOGS/colour64-floor.err"
}

# --- launch everything at once ------------------------------------------------------------------------------
pids=() names=()
for name in $RUNS; do
  $PY bench/spatial_train.py "$name" $SMOKE_FLAG --root "$ROOT" --device "$DEVICE" --threads 1 \
      --out "$RES/runs/$name.json" > "$LOGS/$name.out" 2> "$LOGS/$name.err" &
  pids+=($!) names+=("$name")
done
if [ "$COLOUR" = 1 ]; then colour_run & pids+=($!) names+=(colour64); fi

deadline=$(( start + BUDGET_S - GRACE_S - PACK_S ))
stopped=""  # the jobs still running at the deadline: their non-zero exits are stops (resumable), not failures
while [ -n "$(jobs -rp)" ]; do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "deadline after $(( $(date +%s) - start )) s: Ctrl-C to every run still training" | tee -a "$LOGS/prep.out"
    stopped=" $(jobs -rp | tr '\n' ' ')"
    for p in $stopped; do kill -INT -- "-$p" 2>/dev/null; done
    break
  fi
  sleep 2
done
if [ -n "$stopped" ]; then
  until [ -z "$(jobs -rp)" ] || [ "$(date +%s)" -ge $(( deadline + GRACE_S )) ]; do sleep 1; done
  for p in $(jobs -rp); do kill -KILL -- "-$p" 2>/dev/null; echo "killed $p after the grace" >> "$LOGS/prep.out"; done
fi
rc=0
for i in "${!pids[@]}"; do
  wait "${pids[$i]}"; code=$?
  case "$stopped " in *" ${pids[$i]} "*) how=stopped ;; *) how=ended ;; esac
  echo "${names[$i]}: exit $code ($how)" | tee -a "$LOGS/exits.txt"
  [ "$code" = 0 ] || [ "$how" = stopped ] || rc=1
done
echo "training phase ended after $(( $(date +%s) - start )) s" | tee -a "$LOGS/prep.out"
[ "$rc" = 0 ] || for f in "$LOGS"/*.err; do tail -n 2 "$f" | sed "s|^|$(basename "$f"): |"; done
pack
echo "train_spatial_gpu.sh: exit $rc after $(( $(date +%s) - start )) s"
exit $rc
