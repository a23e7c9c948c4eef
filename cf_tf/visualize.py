"""Pictures of decoded people (translucent masks, skeletons and keypoints, one colour per person) and
of training targets (python -m cf_tf.show)."""

import cv2
import numpy as np

from cf_tf.constants import DRAW_EDGES


def colour(k):
    """A distinct BGR colour for person k (golden-ratio hues)."""
    hsv = np.uint8([[[int(k * 0.618 * 180) % 180, 200, 255]]])
    return tuple(int(c) for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0])


def draw(image_rgb, decoded, min_keypoint_score=0.1):
    """BGR uint8 picture of `decoded` (numpy dict of one image) over an RGB image."""
    out = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR).astype(np.float32)
    n = int(decoded["num_people"])
    for k in range(n):
        m = decoded["masks"][k] > 0
        out[m] = 0.55 * out[m] + 0.45 * np.array(colour(k), np.float32)
    out = out.astype(np.uint8)
    thick = max(1, int(round(max(image_rgb.shape[:2]) / 300)))
    for k in range(n):
        kps = decoded["keypoints"][k]
        ok = kps[:, 2] >= min_keypoint_score
        for a, b in DRAW_EDGES:
            if ok[a] and ok[b]:
                cv2.line(out, tuple(int(v) for v in kps[a, :2]), tuple(int(v) for v in kps[b, :2]),
                         colour(k), thick + 1, cv2.LINE_AA)
        for j in np.nonzero(ok)[0]:
            cv2.circle(out, tuple(int(v) for v in kps[j, :2]), thick + 2, (255, 255, 255), -1, cv2.LINE_AA)
            cv2.circle(out, tuple(int(v) for v in kps[j, :2]), thick + 1, colour(k), -1, cv2.LINE_AA)
    return out


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


def draw_targets(image, targets, geometry):
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
        ("KeyCentroid", _arrows(base, kc_one, skfm, geometry.pose_stride, geometry.radius, 2)),
        ("BHM", _overlay(base, targets["bhm"][..., 0], (255, 0, 255))),
        ("SFM", _overlay(_overlay(base, targets["sfm"][..., 0], (255, 128, 0)), seg_ignore, (0, 0, 255))),
        ("MaskCentroid", _arrows(mc_panel, mc, targets["sfm"][..., 0], geometry.seg_stride, geometry.mask_scale, 6)),
    ]
    for name, p in panels:
        cv2.putText(p, name, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return np.concatenate([p for _, p in panels], axis=1)
