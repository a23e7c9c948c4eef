"""COCO results JSON (keypoints and RLE masks with real scores) and COCOeval for both tasks."""

import contextlib
import io

import cv2
import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.cocoeval import COCOeval

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


def results_for_image(image_id, decoded, height, width, category_id=1):
    """(keypoint results, segm results) for one decoded image (numpy arrays of decode_image) of
    height x width pixels.

    People found only by mask clustering (all keypoint scores 0) go to segm results only.
    """
    kp_results, segm_results = [], []
    for k in range(int(decoded["num_people"])):
        score = float(decoded["scores"][k])
        kps = decoded["keypoints"][k]
        if kps[:, 2].max() > 0:
            flat = np.concatenate([kps[:, :2], np.ones((len(kps), 1))], 1).reshape(-1)
            kp_results.append({"image_id": int(image_id), "category_id": category_id,
                               "keypoints": [round(float(v), 2) for v in flat], "score": score})
        if decoded["masks"][k].any():
            segm_results.append({"image_id": int(image_id), "category_id": category_id,
                                 "segmentation": encode_rle(full_size_mask(decoded["masks"][k], height, width)),
                                 "score": score})
    return kp_results, segm_results


def evaluate(coco_gt, results, iou_type, image_ids):
    """COCOeval stats as {AP, AP50, AP75, APM, APL, AR} and the printed table; zeros if no result."""
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
