r"""A trained model to keep or share: a training folder's latest weights without what only training needs.

  python -m cf_tf.keep --model_dir=runs/curve --output=models/synthetic_tiny

--output is a new model folder (cf_tf_config.json + checkpoints/ with the model weights alone) that
evaluate, export and predict take as --model_dir; it cannot resume training (no optimizer state), but a
new run can start from its weights (`python -m cf_tf.train --init_from=...`).
"""

import sys

from cf_tf import cli
from cf_tf import flags as cf_flags
from cf_tf.files import OutputPathError, WriteError
from cf_tf.flags import FLAGS
from cf_tf.inference import CheckpointError, keep_model

KEEP = cf_flags.MODEL_DIR + (cf_flags.flag("string", "output", None, "The model folder to write (must not exist)."),)


def main(argv):
    del argv
    if not FLAGS.model_dir or not FLAGS.output:
        sys.exit("error: --model_dir and --output are required")
    with cli.exit_on_interrupt(f"interrupted: nothing written to {FLAGS.output}"):
        try:
            path = keep_model(FLAGS.model_dir, FLAGS.output)
        except (FileNotFoundError, FileExistsError, CheckpointError, OutputPathError, WriteError) as e:
            sys.exit(f"error: {e}")
    print(f"model folder written to {path}")


if __name__ == "__main__":
    cf_flags.define(KEEP)
    cli.run(main)
