"""COCO evaluation of keypoints and masks (pycocotools COCOeval), for a model or for the oracle
(python -m cf_tf.evaluate): the runners that turn one annotated image into decoded people, the loop
that scores them, and the head report's loop.
"""

import contextlib
import io
import os

import tensorflow as tf
from pycocotools.coco import COCO

from cf_tf import coco as cf_coco
from cf_tf import head_report, images, segm_errors as cf_segm_errors
from cf_tf.constants import MAX_PIXELS
from cf_tf.data import annotations as coco_ann
from cf_tf.data import parser, schema
from cf_tf.data.tfrecords import convert_image
from cf_tf.files import WriteError, write_json
from cf_tf.oracle import ground_truth_people, perfect_outputs
from cf_tf.outputs import NAMES
from cf_tf.postprocess import dbscan_ref
from cf_tf.postprocess.decode import decode_image
from cf_tf.progress import Progress


class EvaluationError(RuntimeError):
    """Evaluation cannot run; the message says why."""


def read_image(path, width, height, max_pixels=MAX_PIXELS):
    """uint8 RGB [height, width, 3] of an evaluation image, in the frame its annotations describe
    (cf_tf/images.py); EvaluationError saying why it cannot be read."""
    if not os.path.isfile(path):
        raise EvaluationError(f"{path}: missing image file")
    with open(path, "rb") as f:
        data = f.read()
    try:
        images.check_pixels(data, path, max_pixels)
        return images.decode_in_annotation_frame(data, path, width, height)[0]
    except ValueError as e:
        raise EvaluationError(str(e)) from None


def features_with_targets(img, anns, image_dir, data_cfg, max_pixels=MAX_PIXELS):
    """An image's inference features with its targets (no augmentation, the inference resize)."""
    serialized, _ = convert_image((img, anns, image_dir), max_pixels)
    return parser.parse_inference(schema.parse_example(serialized), data_cfg, with_targets=True)


def perfect_assignment_runner(data_cfg, decode_cfg, max_pixels=MAX_PIXELS):
    """(image info, annotations, image dir) -> the ground-truth people (oracle.ground_truth_people)."""
    def run(img, anns, image_dir):
        out = ground_truth_people(features_with_targets(img, anns, image_dir, data_cfg, max_pixels), decode_cfg)
        return {k: v.numpy() for k, v in out.items()}

    return run


def oracle_runner(data_cfg, decode_cfg, model=None, perfect_heads=NAMES, max_pixels=MAX_PIXELS):
    """(image info, annotations, image dir) -> decoded numpy dict, from perfect outputs.

    With `model`, the model's outputs with only `perfect_heads` replaced by perfect ones: which head
    limits a trained model (e.g. perfect keycentroid + mid_offsets, the model's own maps elsewhere).
    """
    heads = frozenset(NAMES if model is None else perfect_heads)

    def decode(image, targets, scale, height, width, cluster_fn=None):
        outputs = perfect_outputs(targets)
        if model is not None:
            own = model(image[None], training=False)
            outputs = {k: v if k in heads else tf.cast(own[k][0], tf.float32) for k, v in outputs.items()}
        return decode_image(outputs, scale, height, width, data_cfg.input_size, decode_cfg, cluster_fn)

    compiled = tf.function(decode)

    def run(img, anns, image_dir):
        f = features_with_targets(img, anns, image_dir, data_cfg, max_pixels)
        args = (f["image"], f["targets"], f["scale"], f["height"], f["width"])
        if decode_cfg.mask_clustering == "dbscan":
            out = decode(*args, cluster_fn=lambda e, free: dbscan_ref.cluster_centroids(e, free, decode_cfg))
        else:
            out = compiled(*args)
        return {k: v.numpy() for k, v in out.items()}

    return run


def model_runner(predict_fn, max_pixels=MAX_PIXELS):
    def run(img, anns, image_dir):
        image = read_image(os.path.join(image_dir, img["file_name"]), img["width"], img["height"], max_pixels)
        return {k: v.numpy()[0] for k, v in predict_fn(tf.constant(image[None])).items()}

    return run


def _load(annotations, max_images):
    """(COCO dict, person category id, {image id: annotations}, the images to score)."""
    try:
        data, cat_id = coco_ann.load_person_keypoints(annotations)
    except coco_ann.AnnotationError as e:
        raise EvaluationError(str(e)) from None
    images = data["images"][:max_images] if max_images else data["images"]
    return data, cat_id, coco_ann.person_annotations_by_image(data, cat_id), images


def evaluate(annotations, image_dir, run, output_dir, max_images=0, log=print, segm_errors=False):
    """Runs `run` over every image, writes the results JSONs, returns the summary dict; with
    `segm_errors` the summary also splits the people's area by what their masks got wrong
    (cf_tf/segm_errors.py)."""
    data, cat_id, by_image, images = _load(annotations, max_images)
    kp_results, segm_results, done = [], [], []
    bar = Progress(len(images), "evaluate", unit="img")
    for img in images:
        try:
            decoded = run(img, by_image[img["id"]], image_dir)
        except Exception as e:  # one bad image must not end the evaluation: report it and go on
            log(f"skipped image {img['id']} ({img['file_name']}): {type(e).__name__}: {str(e)[:200]}")
            bar.update()
            continue
        kp, segm = cf_coco.results_for_image(img["id"], decoded, img["height"], img["width"], cat_id)
        kp_results += kp
        segm_results += segm
        done.append(img["id"])
        bar.update()
    bar.close()
    if not done:
        raise EvaluationError(f"none of the {len(images)} image(s) of {annotations} could be read from {image_dir}")
    created = not os.path.exists(output_dir)
    os.makedirs(output_dir, exist_ok=True)
    written = []
    try:   # both results files or neither: one alone would pass for a finished evaluation
        for name, results in (("keypoints", kp_results), ("segm", segm_results)):
            written.append(os.path.join(output_dir, f"{name}_results.json"))
            write_json(written[-1], results)
    except WriteError:
        for path in written[:-1]:
            os.remove(path)
        if created and not os.listdir(output_dir):
            os.rmdir(output_dir)
        raise
    gt = COCO()   # from the dataset already loaded and checked above, not a second read of the file
    gt.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):   # pycocotools prints progress chatter
        gt.createIndex()
    summary = {}
    for iou_type, results in (("keypoints", kp_results), ("segm", segm_results)):
        stats, table = cf_coco.evaluate(gt, results, iou_type, done)
        log(f"--- {iou_type} ({len(results)} results)\n{table}")
        summary[iou_type] = {k: None if v is None else round(v, 4) for k, v in stats.items()}
    if segm_errors:
        summary["segm_errors"] = cf_segm_errors.segm_errors(gt, segm_results, done)
        log(cf_segm_errors.format_errors(summary["segm_errors"]))
    summary["images"] = len(done)
    return summary


def run_head_report(model, data_cfg, annotations, image_dir, output_dir, max_images=0, log=print,
                    max_pixels=MAX_PIXELS):
    """cf_tf/head_report.py over the evaluation images; writes head_report.json, returns the report.
    An image that cannot be read is reported and skipped, as in evaluate()."""
    _, _, by_image, images = _load(annotations, max_images)
    forward = tf.function(lambda image: model(image[None], training=False))

    def pairs():
        bar = Progress(len(images), "head report", unit="img")
        for img in images:
            try:
                f = features_with_targets(img, by_image[img["id"]], image_dir, data_cfg, max_pixels)
            except Exception as e:  # one bad image must not end the report
                log(f"skipped image {img['id']} ({img['file_name']}): {type(e).__name__}: {str(e)[:200]}")
            else:
                yield {k: v[0] for k, v in forward(f["image"]).items()}, f["targets"]
            bar.update()
        bar.close()

    report = head_report.head_report(pairs(), data_cfg.geometry.radius, data_cfg.geometry.pose_stride)
    os.makedirs(output_dir, exist_ok=True)
    write_json(os.path.join(output_dir, "head_report.json"), report)
    return report
