r"""COCO evaluation of keypoints and masks (pycocotools COCOeval), for a model or for the oracle.

  python -m cf_tf.evaluate (--model_dir=D | --saved_model=D) --annotations=A.json --images=DIR [--output_dir=D]
  python -m cf_tf.evaluate --oracle --annotations=A.json --images=DIR
  python -m cf_tf.evaluate --oracle --model_dir=D --annotations=A.json --images=DIR
  python -m cf_tf.evaluate --oracle --perfect_assignment --annotations=A.json --images=DIR
  python -m cf_tf.evaluate --model_dir=D --perfect_heads=keycentroid,mid_offsets --annotations=A.json --images=DIR
  python -m cf_tf.evaluate --model_dir=D --head_report --annotations=A.json --images=DIR
  python -m cf_tf.evaluate --model_dir=D --segm_errors --annotations=A.json --images=DIR

Writes keypoints_results.json and segm_results.json (COCO results format, RLE masks, real scores)
to --output_dir, prints the standard COCOeval tables and ends with one JSON line:
{"keypoints": {"AP": .., "AP50": .., "AP75": .., "APM": .., "APL": .., "AR": ..}, "segm": {...}, "images": N}.

--oracle builds targets from the ground truth with the training code (no augmentation, the inference
resize), turns them into perfect network outputs and decodes them with the same decoder: the
ceiling of representation + decoder; with --model_dir it takes that training folder's geometry and
input size (the ceiling of the model it trained). --perfect_assignment outputs the ground-truth
people instead, every seg cell with its true owner, through the decoder's mask resampling: the
ceiling of segm set by the seg grid alone. --perfect_heads does the same for some outputs of a trained
model only: how much each head costs it. --head_report scores each raw output against its target
(cf_tf/head_report.py) and writes head_report.json instead of decoding. --segm_errors adds to the
summary where the masks lose: each person's area split into background drawn in, a neighbour drawn
in, in no mask and in another's mask (cf_tf/segm_errors.py). An image that cannot be
read is reported and skipped.
"""

import json
import os
import sys

from cf_tf import cli
from cf_tf.files import WriteError
from cf_tf import flags as cf_flags
from cf_tf import head_report
from cf_tf.config import load_run_config
from cf_tf.evaluation import (EvaluationError, evaluate, model_runner, oracle_runner, perfect_assignment_runner,
                              run_head_report)
from cf_tf.flags import FLAGS, flag
from cf_tf.inference import CheckpointError, Predictor, load_saved_model, restore_model, serving_runtime
from cf_tf.outputs import NAMES

EVALUATE = cf_flags.MODEL_DIR + cf_flags.SAVED_MODEL + cf_flags.OUTPUT_DIR + cf_flags.PIXEL_LIMIT + (
    flag("string", "annotations", None, "COCO-format person-keypoints JSON of the evaluation set."),
    flag("string", "images", None, "Folder of the evaluation images."),
    flag("bool", "oracle", False, "Score perfect outputs built from the ground truth (no model; with "
         "--model_dir, in that folder's geometry and input size)."),
    flag("bool", "perfect_assignment", False, "With --oracle: output the ground-truth people, each seg cell given "
         "to its true owner and resampled by the decoder: the resolution ceiling of segm (its keypoints AP is 1 "
         "by construction)."),
    flag("list", "perfect_heads", [], f"With --model_dir: replace these model outputs ({', '.join(NAMES)}) by "
         f"perfect ones from the ground truth, to see which head limits the model. Default: none."),
    flag("bool", "head_report", False, "With --model_dir: score each raw output against its target (heat-map AUC, "
         "offset L1 next to predicting 0) instead of decoding; writes head_report.json."),
    flag("bool", "segm_errors", False, "Also split each person's area by what its best mask got wrong (background "
         "or a neighbour drawn in, left in no mask or in another's), as shares of the people's area."),
    flag("integer", "max_images", 0, "Only the first N images (0 = all)."),
)


def _check_flags():
    """Exits with a message naming the flags when their combination cannot run."""
    if not FLAGS.annotations or not FLAGS.images:
        sys.exit("error: --annotations and --images are required")
    oracle_of_folder = FLAGS.oracle and FLAGS.model_dir and not FLAGS.saved_model
    if sum([bool(FLAGS.model_dir), bool(FLAGS.saved_model), FLAGS.oracle]) != 1 and not oracle_of_folder:
        sys.exit("error: give exactly one of --model_dir, --saved_model, --oracle (or --oracle with --model_dir: "
                 "the oracle in that training folder's geometry and input size)")
    if oracle_of_folder and (FLAGS.head_report or FLAGS.perfect_heads):
        sys.exit("error: --oracle with --model_dir reads no weights: --head_report and --perfect_heads need the "
                 "model alone (--model_dir without --oracle)")
    unknown = sorted(set(FLAGS.perfect_heads) - set(NAMES))
    if unknown:
        sys.exit(f"error: --perfect_heads: unknown output(s) {', '.join(unknown)}; choose from {', '.join(NAMES)}")
    if FLAGS.head_report and not FLAGS.model_dir:
        sys.exit("error: --head_report needs --model_dir (it reads the model's raw outputs)")
    if FLAGS.head_report and FLAGS.perfect_heads:
        sys.exit("error: --head_report scores the model's own outputs: leave out --perfect_heads")
    if FLAGS.head_report and FLAGS.segm_errors:
        sys.exit("error: --head_report does not decode masks: --segm_errors needs a decoding run")
    if FLAGS.flip_test and (FLAGS.oracle or FLAGS.head_report or FLAGS.perfect_heads):
        sys.exit("error: --flip_test averages a network's outputs with those of the mirrored image: it needs a "
                 "decoding run of --model_dir, not --oracle, --head_report or --perfect_heads")
    if FLAGS.perfect_assignment and not FLAGS.oracle:
        sys.exit("error: --perfect_assignment needs --oracle (it outputs the ground-truth people)")
    if FLAGS.perfect_heads and not FLAGS.model_dir:
        sys.exit("error: --perfect_heads needs --model_dir (a SavedModel's heads cannot be replaced)")
    if FLAGS.model_dir:
        cf_flags.refuse_present(cf_flags.GEOMETRY + cf_flags.INPUT_SIZE,
                                f"the network's geometry and input size are {FLAGS.model_dir}'s (cf_tf_config.json)")
    if FLAGS.saved_model:
        cf_flags.refuse_present(cf_flags.GEOMETRY + cf_flags.INPUT_SIZE + cf_flags.DECODING,
                                f"the input size and the decoder are built into {FLAGS.saved_model} "
                                f"(choose decoding flags at python -m cf_tf.export)")
    if not os.path.isdir(FLAGS.images):
        sys.exit(f"error: {FLAGS.images}: image folder not found")
    cli.output_folder(_output_dir(), "--output_dir")


def _head_report(model, data_cfg, output_dir):
    try:
        report = run_head_report(model, data_cfg, FLAGS.annotations, FLAGS.images, output_dir, FLAGS.max_images,
                                 max_pixels=FLAGS.max_pixels)
    except (EvaluationError, ValueError, WriteError) as e:
        sys.exit(f"error: {e}")
    print(head_report.format_report(report))
    print(json.dumps(report))


def _runner():
    """The per-image runner of the source the flags name (oracle, training folder or SavedModel), or
    None once the head report has been written instead."""
    if FLAGS.oracle:
        try:   # with --model_dir: that folder's geometry and input size (the same targets it trained on)
            data_cfg = load_run_config(FLAGS.model_dir)[1] if FLAGS.model_dir else cf_flags.inference_data_config()
        except (FileNotFoundError, CheckpointError) as e:
            sys.exit(f"error: {e}")
        runner = perfect_assignment_runner if FLAGS.perfect_assignment else oracle_runner
        return runner(data_cfg, cf_flags.decode_config(data_cfg), max_pixels=FLAGS.max_pixels)
    if FLAGS.saved_model:
        try:
            fn = load_saved_model(FLAGS.saved_model).signatures["serving_default"]
        except (FileNotFoundError, CheckpointError) as e:
            sys.exit(f"error: {e}")
        return model_runner(lambda images: fn(images=images), FLAGS.max_pixels)
    try:
        model, _, data_cfg = restore_model(FLAGS.model_dir)
    except (FileNotFoundError, CheckpointError) as e:
        sys.exit(f"error: {e}")
    decode_cfg = cf_flags.decode_config(data_cfg)
    if decode_cfg.mask_clustering == "dbscan":
        sys.exit("error: --mask_clustering=dbscan is the oracle's reference; models decode in graph mode")
    if FLAGS.head_report:
        _head_report(model, data_cfg, _output_dir())
        return None
    if FLAGS.perfect_heads:
        return oracle_runner(data_cfg, decode_cfg, model, FLAGS.perfect_heads, FLAGS.max_pixels)
    return model_runner(Predictor(model, data_cfg, decode_cfg), FLAGS.max_pixels)


def _output_dir():
    if FLAGS.output_dir:
        return FLAGS.output_dir
    if FLAGS.oracle:
        return os.path.join(FLAGS.model_dir, "oracle_eval") if FLAGS.model_dir else os.path.join("runs", "oracle", "eval")
    return os.path.join(FLAGS.model_dir or FLAGS.saved_model, "eval")


def main(argv):
    del argv
    _check_flags()
    serving_runtime()
    output_dir = _output_dir()
    with cli.exit_on_interrupt(f"interrupted: no results written to {output_dir}"):
        run = _runner()
        if run is None:
            return
        try:
            summary = evaluate(FLAGS.annotations, FLAGS.images, run, output_dir, FLAGS.max_images,
                               segm_errors=FLAGS.segm_errors)
        except (EvaluationError, WriteError) as e:
            sys.exit(f"error: {e}")
    print(f"results: {output_dir}/keypoints_results.json, {output_dir}/segm_results.json")
    print(json.dumps(summary))


if __name__ == "__main__":
    cf_flags.define(EVALUATE, cf_flags.GEOMETRY, cf_flags.INPUT_SIZE, cf_flags.DECODING)
    cli.run(main)
