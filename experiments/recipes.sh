#!/usr/bin/env bash
# The recipe table (docs/RESULTS.md, "Recipes at a fixed training time"): each recipe of
# experiments/tiny.flags trains from scratch for the same wall time on the demo's data, alone on the
# machine, with its cosine schedule ending at that time, then COCOeval scores it on synthetic val.
#   bash experiments/recipes.sh [DIR=runs/recipes] [MINUTES=10] [NAME...]
# Each recipe trains with --train_minutes=MINUTES (cf_tf/training.py: its steps/s over its first
# steps sets its last step, and its cosine ends there; the later steps may run faster or slower: the
# minutes column says what each recipe really trained). STEPS=N trains N steps instead, for a recipe
# whose step costs what tiny.flags' does (R, learning rate, loss weights), the fairest same time.
# Needs `make tfrecords`. Rerun after an interruption: finished recipes are skipped, an interrupted
# one resumes. Writes DIR/recipes.tsv: name, flags, steps, training minutes, images/s, keypoints AP,
# segm AP.
set -euo pipefail
{
cd "$(dirname "$0")/.."
DIR=${1:-runs/recipes}
MINUTES=${2:-10}
shift $(( $# < 2 ? $# : 2 ))
PY=${PY:-.venv/bin/python}
VAL=data/synth_val
# flags added to tiny.flags (R 16 since this table; radius32 is tiny.flags before it; from noflip on,
# tiny.flags without random scale and rotation)
declare -A RECIPES=(
  [base]=""
  [radius32]="--disk_radius=32"
  [radius32_lr4e-3]="--disk_radius=32 --learning_rate=4e-3"
  [radius32_batch16]="--disk_radius=32 --batch_size=16"
  [radius32_fusion96]="--disk_radius=32 --fusion_width=96"
  [radius12]="--disk_radius=12"
  [batch4]="--batch_size=4"
  [crop129]="--crop_size=129"
  [lr4e-3]="--learning_rate=4e-3"
  [crop257_batch4]="--crop_size=257 --batch_size=4"
  [fusion128]="--fusion_width=128"
  [small]="--backbone=resnet_small"
  [offsets2]="--loss_keycentroid=2 --loss_mid_offsets=0.8 --loss_maskcentroid=2"
  [pose4]="--pose_stride=4"
  [norot_noscale]="--max_rotation=0 --scale_min=1 --scale_max=1"
  [mild]="--max_rotation=15 --scale_min=0.85 --scale_max=1.15"
  [noflip]="--flip_prob=0"
  [heads3]="--head_units=3"
)
ORDER=(radius32 radius32_lr4e-3 radius32_batch16 radius32_fusion96 base batch4 radius12 crop129 lr4e-3
       crop257_batch4 fusion128 small offsets2 pose4
       norot_noscale mild noflip heads3)
[ $# -gt 0 ] && ORDER=("$@")
mkdir -p "$DIR"
touch "$DIR/recipes.tsv"
for name in "${ORDER[@]}"; do
  [ -n "${RECIPES[$name]+set}" ] || { echo "unknown recipe $name (known: ${!RECIPES[*]})" >&2; exit 2; }
  grep -q "^$name	" "$DIR/recipes.tsv" && continue
  read -r -a extra <<< "${RECIPES[$name]}"
  run="$DIR/$name"
  budget=(--train_minutes="$MINUTES" --train_steps=1000000)
  [ -n "${STEPS:-}" ] && budget=(--train_steps="$STEPS")
  $PY -m cf_tf.train --flagfile=experiments/tiny.flags --model_dir="$run/model" "${extra[@]}" \
    "${budget[@]}" | tail -1 > "$run/train.json"
  line=$($PY -m cf_tf.evaluate --model_dir="$run/model" --annotations=$VAL/person_keypoints.json \
    --images=$VAL/images --output_dir="$run/eval" | tail -1)
  # training minutes from its steps/s (a resumed run: the last part's rate)
  $PY - "$name" "${RECIPES[$name]:-tiny.flags}" "$run" "$line" >> "$DIR/recipes.tsv" <<'EOF'
import json, sys
name, flags, run, line = sys.argv[1:]
t, e = json.load(open(run + "/train.json")), json.loads(line)
batch = json.load(open(run + "/model/cf_tf_config.json"))["stream"]["batch_size"]
rate = t["steps_per_s"]
print(name, flags, t["step"], f"{t['step'] / rate / 60:.1f}", f"{rate * batch:.1f}", e["keypoints"]["AP"],
      e["segm"]["AP"], sep="\t")
EOF
done
column -t -s $'\t' "$DIR/recipes.tsv"
exit
}
