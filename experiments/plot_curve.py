r"""Draws the learning curve written by experiments/learning_curve.sh as a PNG (OpenCV only).

  python experiments/plot_curve.py runs/curve/curve.tsv docs/learning_curve.png [BEFORE.tsv]

The TSV has one row per checkpoint: step, keypoints AP, segm AP (synthetic val). BEFORE.tsv, drawn
thin beside it, is an earlier curve of the same recipe (docs/learning_curve_before.tsv: the network
before anti-aliasing and linear upsampling).
"""

import os
import sys

import cv2
import numpy as np

W, H, MARGIN = 640, 400, 60
COLOURS = {"keypoints AP": (200, 80, 30), "segm AP": (40, 150, 40)}   # BGR


def read(path):
    rows = [line.split("\t") for line in open(path) if line.strip()]
    if not rows:
        raise SystemExit(f"error: {path} holds no checkpoint score")
    data = np.array(rows, np.float64)
    return data[:, 0], {"keypoints AP": data[:, 1], "segm AP": data[:, 2]}


def plot(steps, series, title, before=None):
    img = np.full((H, W, 3), 255, np.uint8)
    curves = [(steps, series, 2, "")] + ([(*before, 1, " (before)")] if before else [])
    x_max = max(max(c[0].max() for c in curves), 1.0)
    y_max = max(0.6, max(s.max() for c in curves for s in c[1].values()) * 1.1)

    def xy(step, ap):
        return (int(MARGIN + step / x_max * (W - 2 * MARGIN)), int(H - MARGIN - ap / y_max * (H - 2 * MARGIN)))

    cv2.rectangle(img, xy(0, 0), xy(x_max, y_max), (0, 0, 0), 1)
    for ap in np.arange(0.0, y_max + 1e-9, 0.1):
        cv2.line(img, xy(0, ap), xy(x_max, ap), (225, 225, 225), 1)
        cv2.putText(img, f"{ap:.1f}", (8, xy(0, ap)[1] + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
    cv2.line(img, xy(0, 0.5), xy(x_max, 0.5), (0, 0, 200), 1)   # the demo's goal
    # ticks every 5000 steps: two curves' own checkpoints (3500, 5000, ...) would print over each other
    for step in np.arange(0, x_max + 1, 5000):
        cv2.putText(img, f"{int(step)}", (xy(step, 0)[0] - 16, H - MARGIN + 16), cv2.FONT_HERSHEY_SIMPLEX, 0.35,
                    (0, 0, 0), 1)
    labels = 0
    for xs, curve, width, suffix in curves:
        for name, values in curve.items():
            points = [xy(s, v) for s, v in zip(xs, values)]
            for a, b in zip(points, points[1:]):
                cv2.line(img, a, b, COLOURS[name], width, cv2.LINE_AA)
            for p in points:
                cv2.circle(img, p, width + 1, COLOURS[name], -1, cv2.LINE_AA)
            cv2.putText(img, name + suffix, (MARGIN + 10, MARGIN + 18 + 18 * labels), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                        COLOURS[name], width)
            labels += 1
    cv2.putText(img, title, (MARGIN, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1)
    cv2.putText(img, "training step (batch 8)", (W // 2 - 80, H - 15), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1)
    return img


def main(argv):
    if len(argv) not in (3, 4):
        raise SystemExit(__doc__)
    steps, series = read(argv[1])
    img = plot(steps, series, "experiments/tiny.flags, synthetic val (100 images); red: AP 0.5",
               read(argv[3]) if len(argv) == 4 else None)
    tmp = argv[2] + ".tmp.png"
    if not cv2.imwrite(tmp, img):
        raise SystemExit(f"error: cannot write {argv[2]}")
    os.replace(tmp, argv[2])
    print(f"wrote {argv[2]}")


if __name__ == "__main__":
    main(sys.argv)
