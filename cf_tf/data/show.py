r"""Pictures of training examples and their targets, so a person can check them.

  python -m cf_tf.data.show --records=GLOB --output_dir=D [--num_examples=4] [--seed=0]

For each augmented example, one PNG with five panels over the image: SKFM (max over keypoints),
KeyCentroid arrows (every other cell), BHM, SFM with the crowd/ignore regions in red, and
MaskCentroid (cells coloured by the direction of their offset, arrows to the anchors).
"""

import os
import sys

import cv2
import numpy as np

from cf_tf import cli
from cf_tf import flags as cf_flags
from cf_tf.data import pipeline
from cf_tf.flags import FLAGS


def _overlay(image, heat, colour):
    """Image (uint8 BGR) with `heat` ([h, w] in [0, 1], any grid) blended in `colour` (one BGR colour,
    or a per-pixel colour image of the image's size)."""
    h, w = image.shape[:2]
    heat = cv2.resize(heat.astype(np.float32), (w, h), interpolation=cv2.INTER_NEAREST)[..., None]
    return (image * (1 - 0.6 * heat) + np.array(colour, np.float32) * 0.6 * heat).astype(np.uint8)


def _arrows(image, offsets, mask, stride, unit, step):
    out = image.copy()
    for r in range(0, offsets.shape[0], step):
        for c in range(0, offsets.shape[1], step):
            if mask[r, c] > 0.5:
                p = np.array([stride * c + 0.5, stride * r + 0.5])
                q = p + offsets[r, c] * unit
                cv2.arrowedLine(out, tuple(p.astype(int)), tuple(q.astype(int)), (0, 255, 255), 1, tipLength=0.15)
    return out


def render(image, targets, cfg):
    """One BGR picture of an example's targets: five labelled panels side by side."""
    base = cv2.cvtColor(np.clip(image, 0, 255).astype(np.uint8), cv2.COLOR_RGB2BGR)
    skfm = targets["skfm"].max(-1)
    kc = targets["keycentroid"].reshape(*skfm.shape, -1, 2)
    # one arrow per cell: the keypoint with the largest disk membership there
    j = targets["skfm"].argmax(-1)
    kc_one = np.take_along_axis(kc, j[..., None, None], axis=2)[:, :, 0]
    seg_ignore = 1.0 - targets["seg_weight"][..., 0]
    kp_ignore = 1.0 - targets["kp_weight"][..., 0]
    mc = targets["maskcentroid"]
    hue = ((np.arctan2(mc[..., 1], mc[..., 0]) + np.pi) / (2 * np.pi) * 179).astype(np.uint8)
    hsv = np.stack([hue, np.full_like(hue, 255), np.full_like(hue, 255)], -1)
    colour = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
    h, w = base.shape[:2]
    colour = cv2.resize(colour, (w, h), interpolation=cv2.INTER_NEAREST)
    mc_panel = _overlay(base, targets["sfm"][..., 0], colour)
    panels = [
        ("SKFM", _overlay(_overlay(base, skfm, (0, 255, 0)), kp_ignore, (0, 0, 255))),
        ("KeyCentroid", _arrows(base, kc_one, skfm, cfg.pose_stride, cfg.radius, 2)),
        ("BHM", _overlay(base, targets["bhm"][..., 0], (255, 0, 255))),
        ("SFM", _overlay(_overlay(base, targets["sfm"][..., 0], (255, 128, 0)), seg_ignore, (0, 0, 255))),
        ("MaskCentroid", _arrows(mc_panel, mc, targets["sfm"][..., 0], cfg.seg_stride, cfg.mask_scale, 6)),
    ]
    for name, p in panels:
        cv2.putText(p, name, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return np.concatenate([p for _, p in panels], axis=1)


def main(argv):
    del argv
    f = FLAGS
    if not f.records or not f.output_dir:
        sys.exit("error: --records and --output_dir are required")
    cfg = cf_flags.data_config()
    try:
        ds = pipeline.train_dataset(f.records, cfg, batch_size=1, seed=f.seed, repeat=False)
    except pipeline.RecordsNotFoundError as e:
        sys.exit(f"error: {e}")
    os.makedirs(f.output_dir, exist_ok=True)
    for i, (image, targets) in enumerate(ds.take(f.num_examples)):
        picture = render(image[0].numpy(), {k: v[0].numpy() for k, v in targets.items()}, cfg)
        path = os.path.join(f.output_dir, f"targets_{i:03d}.png")
        cv2.imwrite(path, picture)
        print(path)


if __name__ == "__main__":
    cli.run(main)
