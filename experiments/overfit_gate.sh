#!/usr/bin/env bash
# One overfit-gate model by hand: the tiny model trains on the gate's 8 synthetic images with the
# augmentation VARIANT, then COCOeval and the head report score it on those images as they are. For one
# hypothesis at a time, before and after.
#   bash experiments/overfit_gate.sh DIR VARIANT [STEPS] [EXTRA TRAIN FLAGS...]
# VARIANT: all (all of the paper's augmentation: the flags' defaults) and shift (the paper's crop shift
# alone), the two gates tests/test_overfit.py asserts in make test, or none (no augmentation, measured
# here only: docs/RESULTS.md, "The overfit test on a slower CPU"). STEPS: 1500 for none, 3000
# for shift and all (the test's) unless given.
# Writes DIR/train.json (train's summary: recent_losses are the loss terms' means over the last 250
# steps), DIR/eval.json (with segm_errors), DIR/oracle.json (the oracle in the
# model's geometry), DIR/head_report.txt and, once, DIR/../gate_data (the images, shared by every run
# beside DIR). Rerun: training resumes.
set -euo pipefail
# one block, read whole before it runs: editing this file cannot change a run already started
{
cd "$(dirname "$0")/.."
DIR=$1
VARIANT=$2
STEPS=${3:-}
shift $(( $# < 3 ? $# : 3 ))
PY=${PY:-.venv/bin/python}
DATA=$(dirname "$DIR")/gate_data
# the variant's augmentation, from its one definition (cf_tf/flags.py GATE_AUGMENTATION), which also names
# the variants; an assignment, so that set -e stops on its failure
ARGS=$($PY -c 'import sys
from cf_tf.flags import GATE_AUGMENTATION, augmentation_args
if sys.argv[1] not in GATE_AUGMENTATION:
    print("VARIANT must be one of %s (got %s)" % (", ".join(GATE_AUGMENTATION), sys.argv[1]), file=sys.stderr)
    sys.exit(2)
print(*augmentation_args(GATE_AUGMENTATION[sys.argv[1]]))' "$VARIANT")
read -r -a AUG <<< "$ARGS"
[ -n "$STEPS" ] || STEPS=$([ "$VARIANT" = none ] && echo 1500 || echo 3000)
if [ ! -f "$DATA/synth-00000-of-00001.tfrecord" ]; then   # tests/conftest.py make_synth(num_images=8, seed=11)
  $PY -m data_prep.synth --output="$DATA/set" --num_images=8 --seed=11 --size=256
  $PY -m data_prep.coco_to_tfrecord --annotations="$DATA/set/person_keypoints.json" \
    --images="$DATA/set/images" --output="$DATA/synth" --num_shards=1
fi
SET=(--annotations="$DATA/set/person_keypoints.json" --images="$DATA/set/images")
mkdir -p "$DIR"
$PY -m cf_tf.train --flagfile=experiments/tiny.flags --train_records="$DATA/synth-*" --batch_size=4 \
  --input_size=257 --crop_size=257 --train_steps="$STEPS" --checkpoint_every="$STEPS" \
  --model_dir="$DIR" "${AUG[@]}" "$@" | tail -1 > "$DIR/train.json"
$PY -m cf_tf.evaluate --model_dir="$DIR" "${SET[@]}" --output_dir="$DIR/eval" --segm_errors | tail -1 > "$DIR/eval.json"
# the oracle of the targets this model trained on (its geometry and input size)
$PY -m cf_tf.evaluate --oracle --model_dir="$DIR" "${SET[@]}" | tail -1 > "$DIR/oracle.json"
$PY -m cf_tf.evaluate --model_dir="$DIR" "${SET[@]}" --output_dir="$DIR/eval" --head_report \
  | head -n -1 > "$DIR/head_report.txt"
$PY - "$DIR/eval.json" "$DIR/oracle.json" <<'EOF'
import json, sys
from cf_tf.segm_errors import format_errors
model, oracle = (json.load(open(p)) for p in sys.argv[1:])
print(" ".join(f"{t} {model[t]['AP']:.3f} ({model[t]['AP'] / oracle[t]['AP']:.2f} of {oracle[t]['AP']:.3f})"
               for t in ("keypoints", "segm")))
print(format_errors(model["segm_errors"]))
EOF
exit
}
