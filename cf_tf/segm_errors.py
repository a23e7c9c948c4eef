"""Where segm loses: each person's area split by what its best mask got wrong.

  python -m cf_tf.evaluate --model_dir=D --segm_errors --annotations=A.json --images=DIR

COCO's segm AP says *that* masks are off; this says *how*, as a share of the people's area (pixels
of the image, after the decoder's resampling). Each non-crowd person is matched with the predicted
mask of best IoU in its image (no mask: an empty one), then:

- background drawn in: pixels of that mask in no person (the SFM's outline too wide);
- a neighbour drawn in: pixels of that mask in another person (the MaskCentroid assignment);
- in no mask: the person's pixels that no predicted mask holds (the SFM's outline too narrow);
- in another's mask: the person's pixels that a different predicted mask holds (the assignment).

The first and third are the SFM's edges, the second and fourth MaskCentroid's grouping; the oracle
on the overfit gate's images leaves about 1 % or less in each. Crowd regions count for none of them.
`outline_px` puts the SFM's two in pixels: their area over the length of the people's outlines (each
person's pixels with a 4-neighbour outside it; the image's border is not an outline), the mean
distance by which the outline is off, comparable across seg strides and person sizes. A person's
IoU falls with the share of its area on its outline (thin limbs, small people) at that rate.
"""

import numpy as np
from pycocotools import mask as mask_utils

KINDS = ("background_drawn_in", "neighbour_drawn_in", "in_no_mask", "in_another_mask")
_WORDS = {"background_drawn_in": "background drawn in", "neighbour_drawn_in": "a neighbour drawn in",
          "in_no_mask": "in no mask", "in_another_mask": "in another's mask"}


def segm_errors(coco_gt, segm_results, image_ids):
    """{people, median_iou, KIND: share of the people's area} over `image_ids` of the pycocotools
    COCO `coco_gt`, for `segm_results` in COCO results format (RLE masks); None for each figure
    when the images hold nobody to score."""
    by_image = {}
    for r in segm_results:
        by_image.setdefault(r["image_id"], []).append(r["segmentation"])
    area, outline, counts, ious = 0, 0, dict.fromkeys(KINDS, 0), []
    for image_id in image_ids:
        anns = coco_gt.loadAnns(coco_gt.getAnnIds(imgIds=[image_id]))
        people = [a for a in anns if not a.get("iscrowd")]
        if not people:
            continue
        gt = np.stack([coco_gt.annToMask(a) for a in people]).astype(bool)
        crowd = np.zeros(gt.shape[1:], bool)
        for a in anns:
            if a.get("iscrowd"):
                crowd |= coco_gt.annToMask(a).astype(bool)
        rles = by_image.get(image_id, [])
        dt = np.stack([mask_utils.decode(r) for r in rles]).astype(bool) if rles \
            else np.zeros((1,) + gt.shape[1:], bool)
        iou = mask_utils.iou(rles, [coco_gt.annToRLE(a) for a in people], [0] * len(people)) if rles \
            else np.zeros((1, len(people)))
        any_gt, any_dt = gt.any(0), dt.any(0)
        for j, g in enumerate(gt):
            best = int(np.argmax(iou[:, j]))
            d = dt[best]
            ious.append(float(iou[best, j]))
            area += int(g.sum())
            outline += _outline_length(g)
            drawn, missed = d & ~g & ~crowd, g & ~d
            counts["background_drawn_in"] += int((drawn & ~any_gt).sum())
            counts["neighbour_drawn_in"] += int((drawn & any_gt).sum())
            counts["in_no_mask"] += int((missed & ~any_dt).sum())
            counts["in_another_mask"] += int((missed & any_dt).sum())
    if not ious:
        return {"people": 0, "median_iou": None, "outline_px": None, **dict.fromkeys(KINDS)}
    edges = counts["background_drawn_in"] + counts["in_no_mask"]
    return {"people": len(ious), "median_iou": float(np.median(ious)), "outline_px": edges / max(outline, 1),
            **{k: v / max(area, 1) for k, v in counts.items()}}


def _outline_length(mask):
    """Pixels of `mask` with a 4-neighbour outside it, the image's border not counted as outside."""
    m = np.pad(mask, 1, mode="edge")
    inner = m[:-2, 1:-1] & m[2:, 1:-1] & m[1:-1, :-2] & m[1:-1, 2:]
    return int((mask & ~inner).sum())


def format_errors(errors):
    """One line per kind of error, as a share of the people's area."""
    if not errors["people"]:
        return "segm errors: no person in these images to score"
    lines = [f"segm errors of {errors['people']} people (median IoU of the best mask {errors['median_iou']:.3f}), "
             f"share of their area:"]
    lines += [f"  {_WORDS[k]:22s} {errors[k]:.3f}" for k in KINDS]
    lines.append(f"  outline off by {errors['outline_px']:.2f} px on average (background drawn in + in no mask, "
                 f"over the outlines' length)")
    return "\n".join(lines)
