#!/bin/bash
# Issue 3 evidence: run every manipulation command on the official examples and time it.
#
# Models (trained beforehand, see docs/tasks.md "Evidence"):
#   RUNS/stone RUNS/tree (editing), RUNS/scream RUNS/street (harmonization, trained on the background),
#   RUNS/aurora (paint), RUNS/lightning1 (animation, --noise-padding), RUNS/lr_sr (--task sr --factor 4).
# Usage: benchmarks/tasks_evidence.sh [RUNS=runs] [OUT=RUNS/tasks] [EXAMPLES=../shared/data/examples]
# Each command's wall time goes to OUT/times.txt; a missing model is skipped.
set -u
RUNS=${1:-runs}
OUT=${2:-$RUNS/tasks}
E=${3:-../shared/data/examples}
SINKIT=${SINKIT:-.venv/bin/sinkit}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}  # a shared 2-core machine: one thread per process
mkdir -p "$OUT"
t() {  # t NAME MODEL ARGS...: run one command if its model exists, log and time it
  local name=$1 model=$2; shift 2
  if [ ! -f "$model/model.safetensors" ]; then echo "skip $name: no model at $model" | tee -a "$OUT/times.txt"; return; fi
  local start=$(date +%s.%N)
  "$SINKIT" "$@" --device cpu > "$OUT/$name.log" 2>&1
  local rc=$? end=$(date +%s.%N)
  printf '%-22s rc=%d wall %6.1f s   sinkit %s\n' "$name" $rc "$(echo "$end - $start" | bc)" "$*" | tee -a "$OUT/times.txt"
}
t edit_stone          $RUNS/stone      edit $RUNS/stone --input $E/editing/stone_edit_1.png --mask $E/editing/stone_edit_1_mask.png --scale all --out $OUT/edit_stone
t edit_stone_r8       $RUNS/stone      edit $RUNS/stone --input $E/editing/stone_edit_1.png --mask $E/editing/stone_edit_1_mask.png --scale 1,2,3 --dilation 8 --blur 2 --out $OUT/edit_stone_r8
t edit_tree           $RUNS/tree       edit $RUNS/tree --input $E/editing/tree_edit_1.png --mask $E/editing/tree_edit_1_mask.png --scale all --out $OUT/edit_tree
t harmonize_scream    $RUNS/scream     harmonize $RUNS/scream --input $E/harmonization/scream_naive.jpg --mask $E/harmonization/scream_naive_mask.jpg --scale all --out $OUT/harmonize_scream
t harmonize_street    $RUNS/street     harmonize $RUNS/street --input $E/harmonization/street_naive.jpg --mask $E/harmonization/street_naive_mask.jpg --scale all --out $OUT/harmonize_street
t paint_aurora        $RUNS/aurora     paint $RUNS/aurora --paint $E/paint_to_image/aurora_paint.png --scale all --out $OUT/paint_aurora
t paint_aurora_quant  $RUNS/aurora     paint $RUNS/aurora --paint $E/paint_to_image/aurora_paint.png --scale all --quantize --out $OUT/paint_aurora_quant
t paint_aurora_shape  $RUNS/aurora     paint $RUNS/aurora --paint $E/paint_to_image/aurora_paint.png --scale N-1,N-2 --keep-shape --out $OUT/paint_aurora_shape
t upscale_lr          $RUNS/lr_sr      upscale $RUNS/lr_sr --factor 4 --out $OUT/upscale_lr
t upscale_lr_orig     $RUNS/lr_sr      upscale $RUNS/lr_sr --input $E/super_resolution/LR.png --factor 4 --out $OUT/upscale_lr_orig
t animate_gif         $RUNS/lightning1 animate $RUNS/lightning1 --start-scale N --beta 0.9 --frames 100 --fps 10 --out $OUT/animate/lightning_N.gif
t animate_mp4         $RUNS/lightning1 animate $RUNS/lightning1 --start-scale N-1 --beta 0.9 --frames 100 --fps 10 --out $OUT/animate/lightning_N-1.mp4
t transfer_scream     $RUNS/scream     transfer $RUNS/scream --input $E/harmonization/street.jpg --scale all --keep-shape --out $OUT/transfer_scream
