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

    Raises AnnotationError naming the problem (and the image and annotation id): missing file, not
    JSON, missing sections, no person category with 17 keypoints, duplicate image or annotation ids,
    and person annotations whose keypoints, bbox, area or RLE are not what COCO allows
    (_annotation_problem).
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
    images = {}
    for img in data["images"]:
        if not isinstance(img, dict):
            raise AnnotationError(f"{path}: an image entry is not an object: {str(img)[:60]}")
        for key in ("id", "file_name", "height", "width"):
            if key not in img:
                raise AnnotationError(f"{path}: image entry {img.get('id', '?')} lacks '{key}'")
        if not all(_is_int(img[k]) and img[k] > 0 for k in ("height", "width")):
            raise AnnotationError(f"{path}: image {img['id']}: height and width must be positive integers "
                                  f"(got {img['height']!r}, {img['width']!r})")
        if img["id"] in images:
            raise AnnotationError(f"{path}: image id {img['id']} appears twice ({images[img['id']]['file_name']} "
                                  f"and {img['file_name']}): its people would be put on one of them")
        images[img["id"]] = img
    annotation_ids = set()
    for ann in data["annotations"]:
        if not isinstance(ann, dict):
            raise AnnotationError(f"{path}: an annotation entry is not an object: {str(ann)[:60]}")
        aid = ann.get("id", "?")
        if ann.get("category_id", cat_id) != cat_id:
            continue
        img = images.get(ann.get("image_id"))
        if img is None:
            raise AnnotationError(f"{path}: annotation {aid} refers to unknown image {ann.get('image_id')}")
        if "id" in ann:
            if aid in annotation_ids:
                raise AnnotationError(f"{path}: annotation id {aid} appears twice (image {img['id']})")
            annotation_ids.add(aid)
        problem = _annotation_problem(ann, img)
        if problem:
            raise AnnotationError(f"{path}: image {img['id']} ({img['file_name']}), annotation {aid}: {problem}")
    return data, cat_id


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)


def _annotation_problem(ann, img):
    """What makes one person annotation unusable, or None: the one rule of cf_tf (converter, evaluate
    and oracle all load through load_person_keypoints)."""
    kps = ann.get("keypoints", [0] * 3 * NUM_KEYPOINTS)
    if not isinstance(kps, list) or len(kps) != 3 * NUM_KEYPOINTS:
        return (f"{len(kps) if isinstance(kps, list) else repr(kps)[:40]} keypoint values, "
                f"expected {3 * NUM_KEYPOINTS}")
    if not all(_is_number(v) for v in kps):
        bad = next(v for v in kps if not _is_number(v))
        return f"keypoint value {bad!r} is not a finite number"
    for j in range(NUM_KEYPOINTS):
        x, y, v = kps[3 * j: 3 * j + 3]
        if v not in (0, 1, 2):
            return f"keypoint {j} has visibility {v!r}; COCO uses 0 (not labelled), 1 (occluded), 2 (visible)"
        if v > 0 and not (0 <= x <= img["width"] and 0 <= y <= img["height"]):
            return f"labelled keypoint {j} at ({x}, {y}) is outside the {img['width']}x{img['height']} image"
    for key, size in (("bbox", 4), ("area", None)):
        if key in ann:
            value = ann[key] if size else [ann[key]]
            if not isinstance(value, list) or len(value) != (size or 1) or not all(_is_number(v) for v in value):
                return f"{key} {str(ann[key])[:60]} is not {size or 1} finite number(s)"
            if (key == "bbox" and min(value[2:]) < 0) or (key == "area" and value[0] < 0):
                return f"{key} {ann[key]} is negative"
    if "segmentation" not in ann:
        return "no 'segmentation'"
    segm = ann["segmentation"]
    if isinstance(segm, dict) and isinstance(segm.get("counts"), list):
        counts = segm["counts"]
        if not all(_is_int(c) and c >= 0 for c in counts) or sum(counts) != img["height"] * img["width"]:
            return (f"uncompressed RLE counts add up to {sum(c for c in counts if _is_number(c))}, not the "
                    f"image's {img['height']} x {img['width']} pixels")
    return None


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
