"""Pictures of decoded people: translucent masks, skeletons and keypoints, one colour per person."""

import cv2
import numpy as np

from cf_tf.keypoints import DRAW_EDGES


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
