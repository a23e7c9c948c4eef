r"""Export one SavedModel that does everything: preprocessing, network, the whole decoder.

  python -m cf_tf.export --model_dir=D --output=SAVED_MODEL_DIR [--overwrite] [decoding flags]

The network, its input size and geometry are the training folder's (cf_tf_config.json); the decoding
flags choose the decoder built into the SavedModel. Signatures and outputs: cf_tf/serving.py.
"""

import sys

from cf_tf import cli
from cf_tf import flags as cf_flags
from cf_tf.files import FolderLockedError, OutputPathError, WriteError
from cf_tf.flags import FLAGS
from cf_tf.inference import CheckpointError, Predictor, restore_model
from cf_tf.serving import check_output, export

EXPORT = cf_flags.MODEL_DIR + (
    cf_flags.flag("string", "output", None, "The SavedModel folder to write."),
    cf_flags.flag("bool", "overwrite", False, "Replace --output if it is a SavedModel that cf_tf.export wrote "
                  "(never a training folder, anything in one, or a file)."),
)


def main(argv):
    del argv
    f = FLAGS
    if not f.model_dir or not f.output:
        sys.exit("error: --model_dir and --output are required")
    with cli.exit_on_interrupt(f"interrupted: nothing written to {f.output}"):
        try:
            check_output(f.output, f.overwrite)
            model, _, data_cfg = restore_model(f.model_dir)
            decode_cfg = cf_flags.decode_config(data_cfg)
            if decode_cfg.mask_clustering != "graph":
                sys.exit("error: only --mask_clustering=graph can be exported (dbscan is an eager reference)")
            path = export(Predictor(model, data_cfg, decode_cfg), f.output, f.overwrite, source=f.model_dir)
        except (FileNotFoundError, FileExistsError, CheckpointError, OutputPathError, WriteError,
                FolderLockedError) as e:
            sys.exit(f"error: {e}")
    print(f"SavedModel written to {path}")


if __name__ == "__main__":
    cf_flags.define(EXPORT, cf_flags.DECODING)
    cli.run(main)
