"""Reading and checking COCO-format person-keypoint annotation files (COCO 2017, OCHuman, own data).

Offline Python (pycocotools), shared by the TFRecord converter, the evaluator and the oracle.
"""

import collections
import json
import os

import numpy as np
from pycocotools import mask as mask_utils

from cf_tf.constants import NUM_KEYPOINTS


class AnnotationError(ValueError):
    """An annotation file or one of its entries is not what a COCO person-keypoint file holds."""


def load_person_keypoints(path):
    """Loads and checks a COCO person-keypoints JSON; returns (dataset dict, person category id).

    Raises AnnotationError naming the problem: missing file, not JSON, missing sections, no
    person category with 17 keypoints, or annotations with malformed keypoints.
    """
    if not os.path.isfile(path):
        raise AnnotationError(f"{path}: annotation file not found")
    try:
        with open(path) as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise AnnotationError(f"{path}: not a JSON file ({e})") from None
    if not isinstance(data, dict) or not all(
            isinstance(data.get(k), list) for k in ("images", "annotations", "categories")):
        raise AnnotationError(
            f"{path}: not a COCO annotation file (needs lists 'images', 'annotations', 'categories')")
    persons = [c for c in data["categories"]
               if isinstance(c, dict) and len(c.get("keypoints", ())) == NUM_KEYPOINTS]
    if not persons:
        raise AnnotationError(
            f"{path}: not a COCO person-keypoints file (no category with {NUM_KEYPOINTS} keypoints)")
    cat_id = persons[0]["id"]
    image_ids = set()
    for img in data["images"]:
        for key in ("id", "file_name", "height", "width"):
            if key not in img:
                raise AnnotationError(f"{path}: image entry {img.get('id', '?')} lacks '{key}'")
        image_ids.add(img["id"])
    for ann in data["annotations"]:
        aid = ann.get("id", "?")
        if ann.get("category_id", cat_id) != cat_id:
            continue
        if ann.get("image_id") not in image_ids:
            raise AnnotationError(f"{path}: annotation {aid} refers to unknown image {ann.get('image_id')}")
        kps = ann.get("keypoints", [0] * 3 * NUM_KEYPOINTS)
        if not isinstance(kps, list) or len(kps) != 3 * NUM_KEYPOINTS:
            raise AnnotationError(
                f"{path}: annotation {aid} has {len(kps) if isinstance(kps, list) else kps!r} "
                f"keypoint values, expected {3 * NUM_KEYPOINTS}")
        if "segmentation" not in ann:
            raise AnnotationError(f"{path}: annotation {aid} has no 'segmentation'")
    return data, cat_id


def person_annotations_by_image(data, cat_id):
    """{image_id: [person annotations]} for every image id (empty lists for negatives)."""
    by_image = collections.defaultdict(list)
    for ann in data["annotations"]:
        if ann.get("category_id", cat_id) == cat_id:
            by_image[ann["image_id"]].append(ann)
    return {img["id"]: by_image.get(img["id"], []) for img in data["images"]}


def annotation_mask(ann, height, width):
    """Decodes one annotation's segmentation to a uint8 {0,1} [H, W] mask.

    Polygons, uncompressed RLE and compressed RLE are all accepted. Returns (mask, degenerate):
    polygons with fewer than 3 points or zero area are dropped (COCO has some), and `degenerate`
    says that something was dropped so callers can count it.
    """
    segm = ann["segmentation"]
    degenerate = False
    if isinstance(segm, list):
        polys = [p for p in segm if isinstance(p, list) and len(p) >= 6]
        degenerate = len(polys) != len(segm)
        if not polys:
            return np.zeros((height, width), np.uint8), True
        rle = mask_utils.merge(mask_utils.frPyObjects(polys, height, width))
    elif isinstance(segm, dict) and "counts" in segm:
        size = segm.get("size", [height, width])
        if list(size) != [height, width]:
            raise AnnotationError(
                f"annotation {ann.get('id', '?')}: RLE size {size} disagrees with image {height}x{width}")
        rle = segm if not isinstance(segm["counts"], list) else mask_utils.frPyObjects(segm, height, width)
        if isinstance(rle["counts"], str):
            rle = dict(rle, counts=rle["counts"].encode("ascii"))
    else:
        raise AnnotationError(f"annotation {ann.get('id', '?')}: unknown segmentation {str(segm)[:60]}")
    mask = mask_utils.decode(rle).astype(np.uint8)
    if not mask.any():
        degenerate = True
    return mask, degenerate
