#!/usr/bin/env bash
# The GPU figures of one machine in one run (cf_tf/device_check.py says which): on a machine with a
# GPU, `make install` (with tensorflow[and-cuda]) then
#   bash experiments/device_check.sh [OUTPUT=device_check.json] [--quick]
# --quick checks on any CPU, in a few minutes, that every row runs (make test does).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-device_check.json}
shift $(( $# > 0 ? 1 : 0 ))
${PY:-.venv/bin/python} -m cf_tf.device_check --output="$OUT" "$@"
