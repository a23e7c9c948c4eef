r"""COCO-format person keypoints + image folder -> sharded TFRecords (cf_tf/data/schema.py).

  python -m data_prep.coco_to_tfrecord --annotations=A.json --images=DIR --output=PREFIX \
      [--num_shards=8] [--workers=2] [--skip_empty]

writes PREFIX-00000-of-00008.tfrecord ... atomically: shards are written in a hidden folder beside
them and renamed only when every image converted; on any error or Ctrl-C nothing is left behind
(not even an output folder this run created) and the exit status is 1 with one line naming the
file, annotation or output at fault. The conversion itself is cf_tf/data/tfrecords.py.
"""

import os
import sys

from absl import flags

from cf_tf import cli
from cf_tf.data.tfrecords import ConversionError, convert


def define_flags():
    """Flags of this tool; defined only when it runs as a program, so importing it is free."""
    flags.DEFINE_string("annotations", None, "COCO-format person_keypoints JSON file.")
    flags.DEFINE_string("images", None, "Folder holding the images named by the JSON's file_name.")
    flags.DEFINE_string("output", None, "Output prefix; shards are PREFIX-00000-of-NNNNN.tfrecord.")
    flags.DEFINE_integer("num_shards", 8, "Number of output shards (>= 1).")
    flags.DEFINE_integer("workers", max(1, os.cpu_count() or 1), "Worker processes (>= 1; default: CPU count).")
    flags.DEFINE_bool("skip_empty", False, "Leave out images with no person annotation (default: keep negatives).")


def main(argv):
    del argv
    for name in ("annotations", "images", "output"):
        if not getattr(flags.FLAGS, name):
            sys.exit(f"error: --{name} is required")
    f = flags.FLAGS
    try:
        with cli.exit_on_interrupt("interrupted: nothing written", own_errors=(ConversionError,)):
            stats = convert(f.annotations, f.images, f.output, f.num_shards, f.workers, f.skip_empty)
    except ConversionError as e:
        sys.exit(f"error: {e}")
    print(f"wrote {stats['images']} images, {stats['people']} person annotations to "
          f"{f.output}-*-of-{f.num_shards:05d}.tfrecord")


if __name__ == "__main__":
    define_flags()
    cli.run(main)
