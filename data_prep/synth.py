r"""A synthetic COCO-format people dataset, deterministic by seed (cf_tf/data/synth.py).

  python -m data_prep.synth --output=DIR --num_images=N [--seed=S] [--size=256]

writes DIR/images/000000.jpg ... and DIR/person_keypoints.json (real COCO person-keypoints JSON).
"""

import sys

from absl import flags

from cf_tf import cli
from cf_tf.data.synth import generate


def define_flags():
    """Flags of this tool; defined only when it runs as a program, so importing it is free."""
    flags.DEFINE_string("output", None, "Output folder (images/ and person_keypoints.json are written in it).")
    flags.DEFINE_integer("num_images", 100, "Number of images to generate (>= 1).")
    flags.DEFINE_integer("seed", 0, "Random seed; the same seed gives the same dataset.")
    flags.DEFINE_integer("size", 256, "Image side in pixels (square images, >= 64).")
    flags.DEFINE_integer("max_people", 6, "Most figures per image (>= 1); each image has 1..max_people.")


def main(argv):
    del argv
    f = flags.FLAGS
    if not f.output:
        sys.exit("error: --output is required")
    try:
        coco = generate(f.output, f.num_images, f.seed, f.size, f.max_people)
    except ValueError as e:
        sys.exit(f"error: {e}")
    print(f"wrote {len(coco['images'])} images, {len(coco['annotations'])} annotations to {f.output}")


if __name__ == "__main__":
    define_flags()
    cli.run(main)
