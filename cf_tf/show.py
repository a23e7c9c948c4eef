r"""Pictures of training examples and their targets, so a person can check them.

  python -m cf_tf.show --records=GLOB --output_dir=D [--num_examples=4] [--seed=0] [--model_dir=D | data flags]

For each augmented example, one PNG with five panels over the image: SKFM (max over keypoints),
KeyCentroid arrows (every other cell), BHM, SFM with the crowd/ignore regions in red, and
MaskCentroid (cells coloured by the direction of their offset, arrows to the anchors)
(cf_tf.visualize.draw_targets). With --model_dir, the targets and augmentation of that training run
(its cf_tf_config.json), else those of the data flags.
"""

import os
import sys

from cf_tf import cli
from cf_tf import flags as cf_flags
from cf_tf.config import CheckpointError, load_run_config
from cf_tf.data import pipeline
from cf_tf.files import WriteError, write_picture
from cf_tf.flags import FLAGS, flag
from cf_tf.visualize import draw_targets

SHOW = cf_flags.OUTPUT_DIR + cf_flags.SEED + cf_flags.MODEL_DIR + (
    flag("string", "records", None, "TFRecord glob to draw."),
    flag("integer", "num_examples", 4, "How many examples to draw."),
)


def main(argv):
    del argv
    f = FLAGS
    if not f.records or not f.output_dir:
        sys.exit("error: --records and --output_dir are required")
    cli.output_folder(f.output_dir, "--output_dir")
    if f.model_dir:
        cf_flags.refuse_present(cf_flags.GEOMETRY + cf_flags.DATA, f"the data settings are {f.model_dir}'s (cf_tf_config.json)")
        try:
            _, cfg = load_run_config(f.model_dir)
        except (FileNotFoundError, CheckpointError) as e:
            sys.exit(f"error: {e}")
    else:
        cfg = cf_flags.data_config()
    try:
        ds = pipeline.train_dataset(f.records, cfg, batch_size=1, seed=f.seed, repeat=False)
    except pipeline.RecordsNotFoundError as e:
        sys.exit(f"error: {e}")
    os.makedirs(f.output_dir, exist_ok=True)
    for i, (image, targets) in enumerate(ds.take(f.num_examples)):
        picture = draw_targets(image[0].numpy(), {k: v[0].numpy() for k, v in targets.items()}, cfg.geometry)
        path = os.path.join(f.output_dir, f"targets_{i:03d}.png")
        try:
            write_picture(path, picture)
        except WriteError as e:
            sys.exit(f"error: {e}")
        print(path)


if __name__ == "__main__":
    cf_flags.define(SHOW, cf_flags.GEOMETRY, cf_flags.DATA)
    cli.run(main)
