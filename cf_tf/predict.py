r"""Run an exported SavedModel on your images: COCO-results JSON + a picture per image.

  python -m cf_tf.predict --saved_model=SM --image=FILE_OR_DIR --output_dir=D [--min_score=0.1]

For each image FILE (its whole name, extension included, so a.jpg and a.png never share outputs),
D/FILE.json holds COCO results (category 1; keypoints, RLE segmentation, bbox, score; image_id from
the digits of the file name, else its index) and D/FILE.png the masks as translucent colours with
skeletons and keypoints, in the frame a viewer shows (a photo's EXIF orientation applied). D may not be the images' own folder, so no input is ever written over. A
file that cannot be decoded is reported and skipped; the run goes on, and exits non-zero if no
image could be read.
"""

import sys

from cf_tf import cli
from cf_tf import flags as cf_flags
from cf_tf.flags import FLAGS, flag
from cf_tf.inference import serving_runtime
from cf_tf.prediction import predict

PREDICT = cf_flags.SAVED_MODEL + cf_flags.OUTPUT_DIR + cf_flags.PIXEL_LIMIT + (
    flag("string", "image", None, "An image file, or a folder of images (.jpg, .jpeg, .png)."),
    flag("float", "min_score", 0.1, "People scoring below this (0..1) are left out."),
)


def main(argv):
    del argv
    if not FLAGS.saved_model or not FLAGS.image or not FLAGS.output_dir:
        sys.exit("error: --saved_model, --image and --output_dir are required")
    if not 0.0 <= FLAGS.min_score <= 1.0:
        sys.exit(f"error: --min_score must be in [0, 1], got {FLAGS.min_score}")
    cli.output_folder(FLAGS.output_dir, "--output_dir")
    serving_runtime()
    try:
        with cli.exit_on_interrupt(f"interrupted: the images done so far are in {FLAGS.output_dir}"):
            s = predict(FLAGS.saved_model, FLAGS.image, FLAGS.output_dir, FLAGS.min_score, FLAGS.max_pixels)
    except (FileNotFoundError, ValueError, OSError) as e:
        sys.exit(f"error: {e}")
    print(f"{s['images']} image(s), {s['people']} people, {len(s['failed'])} failed; "
          f"JSON and pictures in {FLAGS.output_dir}")
    if s["turned"]:
        print(f"{s['turned']} image(s) turned by their EXIF orientation: their people are in the frame a viewer shows")
    if not s["images"]:
        sys.exit(f"error: none of the {len(s['failed'])} image(s) could be read")


if __name__ == "__main__":
    cf_flags.define(PREDICT)
    cli.run(main)
