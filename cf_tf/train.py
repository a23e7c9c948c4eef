r"""Train a model (cf_tf/training.py).

  python -m cf_tf.train --flagfile=experiments/r101.flags [--model_dir=D] [--train_records=GLOB] [--train_steps=N]
                        [--train_minutes=M]

Ends with one JSON line: step, first and last loss, each loss term's mean over the last
training.RECENT_STEPS steps (recent_losses, over recent_steps of them), steps/s, the last checkpoint.
"""

import json
import sys

from cf_tf import cli
from cf_tf import flags as cf_flags
from cf_tf.training import TrainingError, train


def main(argv):
    del argv
    f = cf_flags.FLAGS
    if not f.model_dir or not f.train_records:
        sys.exit("error: --model_dir and --train_records are required")
    cli.output_folder(f.model_dir, "--model_dir")
    data_cfg = cf_flags.data_config()
    model_cfg, weights, train_cfg = cf_flags.model_config(data_cfg.geometry), cf_flags.loss_weights(), cf_flags.train_config()
    try:
        with cli.exit_on_interrupt(f"error: interrupted before a checkpoint could be saved; {f.model_dir} "
                                   f"keeps its last checkpoint", own_errors=(TrainingError,)):
            result = train(f.model_dir, f.train_records, data_cfg, model_cfg, train_cfg, weights)
    except (ValueError, TrainingError) as e:
        sys.exit(f"error: {e}")
    print(json.dumps(result))


if __name__ == "__main__":
    cf_flags.define(cf_flags.GEOMETRY, cf_flags.DATA, cf_flags.MODEL, cf_flags.LOSSES, cf_flags.TRAINING)
    cli.run(main)
