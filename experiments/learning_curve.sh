#!/usr/bin/env bash
# Learning curve of experiments/tiny.flags: one run of TOTAL steps (cosine over all of them),
# COCOeval on the synthetic val set at every EVERY steps. Needs `make tfrecords` first.
#   bash experiments/learning_curve.sh [MODEL_DIR=runs/curve] [TOTAL=28000] [EVERY=3500]
# Run it again after an interruption: training resumes from its last checkpoint and checkpoints
# already scored are skipped; SCORE_ONLY=1 scores the checkpoints saved so far without training.
# Writes MODEL_DIR/curve.tsv (step, keypoints AP, segm AP).
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-runs/curve}
TOTAL=${2:-28000}
EVERY=${3:-3500}
PY=${PY:-.venv/bin/python}
VAL=data/synth_val
KEEP=$(( TOTAL / EVERY + 1 ))
if [ -z "${SCORE_ONLY:-}" ]; then
  $PY -m cf_tf.train --flagfile=experiments/tiny.flags --model_dir="$DIR" --train_steps="$TOTAL" \
    --checkpoint_every="$EVERY" --keep_checkpoints="$KEEP"
fi
touch "$DIR/curve.tsv"
for index in "$DIR"/checkpoints/ckpt-*.index; do
  step=${index##*/ckpt-}; step=${step%.index}
  grep -q "^$step	" "$DIR/curve.tsv" && continue
  # a folder whose only checkpoint is this one, so evaluate scores exactly this step
  one="$DIR/at_$step"
  rm -rf "$one"; mkdir -p "$one/checkpoints"
  cp "$DIR/cf_tf_config.json" "$one/"
  ln -s "$(realpath "$DIR/checkpoints")/ckpt-$step".* "$one/checkpoints/"
  printf 'model_checkpoint_path: "ckpt-%s"\n' "$step" > "$one/checkpoints/checkpoint"
  line=$($PY -m cf_tf.evaluate --model_dir="$one" --annotations=$VAL/person_keypoints.json \
    --images=$VAL/images --output_dir="$one/eval" | tail -1)
  ap=$($PY -c 'import json,sys; r=json.loads(sys.argv[1]); print(r["keypoints"]["AP"], r["segm"]["AP"], sep="\t")' "$line")
  printf '%s\t%s\n' "$step" "$ap" >> "$DIR/curve.tsv"
  rm -rf "$one"
done
sort -n "$DIR/curve.tsv" -o "$DIR/curve.tsv"
cat "$DIR/curve.tsv"
