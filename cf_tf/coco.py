"""COCO results JSON (keypoints and RLE masks with real scores) and COCOeval for both tasks."""

import contextlib
import io

import cv2
import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.cocoeval import COCOeval

from cf_tf.constants import PERSON_CATEGORY_ID

STAT_NAMES = ("AP", "AP50", "AP75", "APM", "APL", "AR")
# Indices into COCOeval.stats for each name: keypoints and segm order their stats differently.
_STAT_INDEX = {"keypoints": (0, 1, 2, 3, 4, 5), "segm": (0, 1, 2, 4, 5, 8)}


def encode_rle(mask):
    """COCO compressed RLE (JSON-ready) of a {0,1} mask [H, W]."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def full_size_mask(mask, height, width):
    """A decoded mask [h, w] at the image's own size [height, width].

    The decoder returns the masks of an image larger than its canvas at the canvas's resolution
    (cf_tf/postprocess/maskcentroid.py `mask_size`); pixel centres map onto pixel centres.
    """
    if mask.shape == (height, width):
        return mask
    return cv2.resize(mask, (width, height), interpolation=cv2.INTER_NEAREST_EXACT)


def person_results(image_id, decoded, height, width, category_id=PERSON_CATEGORY_ID):
    """One COCO result per decoded person (numpy arrays of decode_image) of a height x width image:
    score, bbox (x, y, w, h), keypoints as (x, y, score) triples when any keypoint was found (people
    found only by mask clustering have none), RLE segmentation and its mask_score when the mask is not
    empty."""
    results = []
    for k in range(int(decoded["num_people"])):
        x0, y0, x1, y1 = (float(v) for v in decoded["boxes"][k])
        entry = {"image_id": int(image_id), "category_id": category_id, "score": float(decoded["scores"][k]),
                 "mask_score": float(decoded["mask_scores"][k]), "bbox": [x0, y0, x1 - x0, y1 - y0]}
        kps = decoded["keypoints"][k]
        if kps[:, 2].max() > 0:
            entry["keypoints"] = [round(float(v), 2) for v in kps.reshape(-1)]
        if decoded["masks"][k].any():
            entry["segmentation"] = encode_rle(full_size_mask(decoded["masks"][k], height, width))
        results.append(entry)
    return results


def results_for_image(image_id, decoded, height, width, category_id=PERSON_CATEGORY_ID):
    """(keypoint results, segm results) for COCOeval from person_results; a mask is scored by its
    mask_score. They carry no bbox: given one, pycocotools' loadRes would take a result for a box and
    its area from the box."""
    people = person_results(image_id, decoded, height, width, category_id)
    return ([{k: p[k] for k in ("image_id", "category_id", "keypoints", "score")} for p in people if "keypoints" in p],
            [{"image_id": p["image_id"], "category_id": p["category_id"], "segmentation": p["segmentation"],
              "score": p["mask_score"]} for p in people if "segmentation" in p])


def _ground_truth_count(coco_gt, iou_type, image_ids):
    """People COCOeval scores in `image_ids`: not crowd, and for keypoints with a labelled keypoint."""
    anns = coco_gt.loadAnns(coco_gt.getAnnIds(imgIds=list(image_ids), iscrowd=False))
    return sum(1 for a in anns if iou_type != "keypoints" or a.get("num_keypoints", 0) > 0
               or any(v > 0 for v in a.get("keypoints", [])[2::3]))


def evaluate(coco_gt, results, iou_type, image_ids):
    """COCOeval stats as {AP, AP50, AP75, APM, APL, AR} and the printed table; zeros if no result,
    None for every stat if the images hold nobody to find (COCOeval's -1: undefined, not 0)."""
    if not _ground_truth_count(coco_gt, iou_type, image_ids):
        return {k: None for k in STAT_NAMES}, f"{iou_type}: no ground truth in these images: AP is undefined\n"
    if not results:
        return {k: 0.0 for k in STAT_NAMES}, f"{iou_type}: no detections\n"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        dt = coco_gt.loadRes(results)
        ev = COCOeval(coco_gt, dt, iou_type)
        ev.params.imgIds = sorted(image_ids)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    stats = {name: max(0.0, float(ev.stats[i])) for name, i in zip(STAT_NAMES, _STAT_INDEX[iou_type])}
    return stats, out.getvalue()
