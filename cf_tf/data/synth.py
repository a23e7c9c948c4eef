r"""A synthetic COCO-format people dataset, deterministic by seed.

The library half of `python -m data_prep.synth` (generate writes DIR/images/000000.jpg ... and
DIR/person_keypoints.json, real COCO person-keypoints JSON); grid_of_figures gives the benchmark and
the tests crowds of a known size.

Each image holds several articulated figures (head, neck, torso, upper/lower arms and legs as filled
shapes with human proportions) with random poses, facing (front/back), scales, in-plane rotations,
clothing colours and stripes, over a textured background with distractor shapes. Front and back show
as on real people (a face and a V neckline in front, hair behind): without them a figure's left and
right could not be told from its pixels. Figures are composited back to front, so they overlap and
occlude one another; limbs cross other people.
Annotations are what COCO has: 17 keypoints with v=2 visible, v=1 occluded by another figure, v=0
outside the image; each figure's *visible* mask as compressed RLE; area; bbox; and, in some images,
an `iscrowd=1` region covering a dense cluster of tiny figures (no keypoints).
"""

import os

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from cf_tf.constants import KEYPOINT_NAMES, NUM_KEYPOINTS, PERSON_CATEGORY_ID, SKELETON_EDGES
from cf_tf.files import write_json, write_picture
from cf_tf.progress import Progress


K = {n: i for i, n in enumerate(KEYPOINT_NAMES)}
CROWD_LABEL = 255


def _rot(angle):
    return np.array([np.cos(angle), np.sin(angle)])


def random_pose(rng, height):
    """17 (x, y) keypoints of one figure of body `height` px around the origin, y down, and where
    its head, neck and pelvis are and which way it faces (+1 front, -1 back)."""
    h = height
    lean = rng.uniform(-0.35, 0.35)
    up = _rot(-np.pi / 2 + lean)               # pelvis -> neck
    facing = -1.0 if rng.random() < 0.3 else 1.0  # -1: seen from the back, left and right swap
    side = facing * np.array([-up[1], up[0]])      # towards the figure's left
    pelvis = np.zeros(2)
    neck = pelvis + up * 0.30 * h
    pts = np.zeros((NUM_KEYPOINTS, 2))
    head_dir = _rot(np.arctan2(up[1], up[0]) + rng.uniform(-0.4, 0.4))
    head = neck + head_dir * 0.11 * h
    hside = facing * np.array([-head_dir[1], head_dir[0]])
    pts[K["nose"]] = head + head_dir * 0.01 * h
    for s, sign in (("left", 1.0), ("right", -1.0)):
        pts[K[f"{s}_eye"]] = head + head_dir * 0.03 * h + sign * hside * 0.025 * h
        pts[K[f"{s}_ear"]] = head + sign * hside * 0.05 * h
        shoulder = neck + sign * side * rng.uniform(0.10, 0.12) * h
        hip = pelvis + sign * side * rng.uniform(0.07, 0.09) * h
        down = np.arctan2(-up[1], -up[0])
        a1 = down + sign * rng.uniform(-0.6, 2.6)
        elbow = shoulder + _rot(a1) * 0.17 * h
        wrist = elbow + _rot(a1 + sign * rng.uniform(-0.2, 2.4)) * 0.15 * h
        l1 = down + sign * rng.uniform(-0.35, 0.9)
        knee = hip + _rot(l1) * 0.24 * h
        ankle = knee + _rot(l1 - sign * rng.uniform(-0.1, 1.8)) * 0.23 * h
        for name, p in (("shoulder", shoulder), ("hip", hip), ("elbow", elbow),
                        ("wrist", wrist), ("knee", knee), ("ankle", ankle)):
            pts[K[f"{s}_{name}"]] = p
    return pts, head, neck, pelvis, facing


def _colour(rng, lo=20, hi=235):
    return tuple(int(c) for c in rng.integers(lo, hi, 3))


def draw_figure(image, labels, label, rng, height, centre, textured=True):
    """Draws one figure into `image` (colour) and `labels` (id map); returns its [17, 2] keypoints."""
    pts, head, neck, pelvis, facing = random_pose(rng, height)
    angle = rng.uniform(-0.5, 0.5)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    tf_ = lambda p: p @ rot.T + centre  # noqa: E731 (a one-line local transform)
    pts, head, neck, pelvis = tf_(pts), tf_(head), tf_(neck), tf_(pelvis)
    skin, shirt, pants = _colour(rng, 60, 250), _colour(rng), _colour(rng)
    limb = max(2, int(0.065 * height))
    leg = max(2, int(0.085 * height))
    ip = lambda p: (int(round(p[0] * 4)), int(round(p[1] * 4)))  # noqa: E731 (4x sub-pixel)
    parts = []
    for s in ("left", "right"):
        parts += [(s + "_hip", s + "_knee", leg, pants), (s + "_knee", s + "_ankle", leg, pants),
                  (s + "_shoulder", s + "_elbow", limb, shirt), (s + "_elbow", s + "_wrist", limb, skin)]
    order = rng.permutation(len(parts))  # which limbs are in front of the torso varies
    torso = np.array([pts[K["left_shoulder"]], pts[K["right_shoulder"]],
                      pts[K["right_hip"]], pts[K["left_hip"]]])
    hull = cv2.convexHull(np.round(torso * 4).astype(np.int32))
    neckline = np.zeros(labels.shape, np.uint8)

    def fill(draw):
        for target, value in ((image, None), (labels, label)):
            draw(target, value)

    def limb_fn(a, b, w, col):
        return lambda t, v: cv2.line(t, ip(pts[K[a]]), ip(pts[K[b]]), col if v is None else v,
                                     w, cv2.LINE_AA if v is None else cv2.LINE_8, shift=2)

    for i in order[: len(order) // 2]:
        fill(limb_fn(*parts[i]))
    fill(lambda t, v: cv2.fillConvexPoly(t, hull, shirt if v is None else v, shift=2))
    # Front or back must show, as on real people: left and right are undecidable otherwise.
    if facing > 0:  # a V neckline on the chest: the front shows on the torso too, not only on the face
        across = (pts[K["left_shoulder"]] - pts[K["right_shoulder"]]) * 0.25
        vee = np.round(np.array([neck + across, neck - across, neck + (pelvis - neck) * 0.3]) * 4).astype(np.int32)
        cv2.fillConvexPoly(image, vee, skin, cv2.LINE_AA, shift=2)
        cv2.fillConvexPoly(neckline, vee, 1, shift=2)
    fill(lambda t, v: cv2.line(t, ip(neck), ip(head), skin if v is None else v, limb, shift=2))
    fill(lambda t, v: cv2.circle(t, ip(head), int(0.075 * height * 4), skin if v is None else v, -1, shift=2))
    if facing > 0:  # a face: eyes and nose
        for name, r in (("left_eye", 0.014), ("right_eye", 0.014), ("nose", 0.01)):
            cv2.circle(image, ip(pts[K[name]]), max(4, int(r * height * 4)), _colour(rng, 0, 60), -1,
                       cv2.LINE_AA, shift=2)
    else:  # the back of the head: hair
        cv2.circle(image, ip(head), int(0.068 * height * 4), _colour(rng, 10, 120), -1, cv2.LINE_AA, shift=2)
    for i in order[len(order) // 2:]:
        fill(limb_fn(*parts[i]))
    if textured and rng.random() < 0.6:  # stripes on the shirt, clipped to the torso
        x0, y0, w, h = cv2.boundingRect(hull // 4)
        stripe = _colour(rng)
        for y in range(y0, y0 + h, max(3, int(height * 0.04))):
            a, b = (x0, y), (x0 + w, y + int(rng.integers(-3, 4)))
            seg = np.zeros(labels.shape, np.uint8)
            cv2.line(seg, a, b, 1, max(1, int(height * 0.012)))
            on = (seg > 0) & (labels == label) & (neckline == 0)
            image[on] = stripe
    return pts


def background(rng, size):
    """Smooth random colour field + distractor shapes + noise."""
    grid = rng.integers(0, 256, (4, 4, 3)).astype(np.uint8)
    img = cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC)
    for _ in range(rng.integers(3, 9)):
        col = _colour(rng, 0, 256)
        kind = rng.integers(3)
        c = tuple(int(v) for v in rng.integers(0, size, 2))
        if kind == 0:
            cv2.rectangle(img, c, tuple(int(v) for v in rng.integers(0, size, 2)), col, -1)
        elif kind == 1:
            cv2.ellipse(img, c, (int(rng.integers(5, size // 4)), int(rng.integers(5, size // 4))),
                        float(rng.uniform(0, 180)), 0, 360, col, -1)
        else:
            cv2.line(img, c, tuple(int(v) for v in rng.integers(0, size, 2)), col, int(rng.integers(2, 10)))
    return img


def make_image(rng, size, max_people):
    """One synthetic image: (uint8 [S, S, 3], list of (keypoints [17,3], mask, iscrowd))."""
    image = background(rng, size)
    labels = np.zeros((size, size), np.uint8)
    people = []
    has_crowd = rng.random() < 0.3
    if has_crowd:  # a dense cluster of tiny figures, drawn first (furthest away)
        cx, cy = rng.uniform(0.2, 0.8, 2) * size
        for _ in range(rng.integers(8, 20)):
            c = np.array([cx, cy]) + rng.normal(0, size * 0.08, 2)
            draw_figure(image, labels, CROWD_LABEL, rng, rng.uniform(0.06, 0.11) * size, c, False)
    n = int(rng.integers(1, max_people + 1))
    # Cluster the figures so that they overlap: centres near a few focal points.
    focus = rng.uniform(0.3, 0.7, 2) * size
    all_pts = []
    for label in range(1, n + 1):
        h = rng.uniform(0.3, 0.85) * size
        c = focus + rng.normal(0, size * 0.18, 2) + np.array([0, h * 0.05])
        all_pts.append(draw_figure(image, labels, label, rng, h, c))
    noise = rng.normal(0, 6, image.shape)
    image = np.clip(image.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    for label, pts in enumerate(all_pts, start=1):
        mask = (labels == label).astype(np.uint8)
        if mask.sum() < 20:
            continue
        kps = np.zeros((NUM_KEYPOINTS, 3), np.float32)
        kps[:, :2] = pts
        xi = np.floor(pts[:, 0]).astype(int)
        yi = np.floor(pts[:, 1]).astype(int)
        inside = (xi >= 0) & (yi >= 0) & (xi < size) & (yi < size)
        own = np.zeros(NUM_KEYPOINTS, bool)
        own[inside] = labels[yi[inside], xi[inside]] == label
        kps[:, 2] = np.where(inside, np.where(own, 2, 1), 0)
        kps[~inside, :2] = 0
        people.append((kps, mask, 0))
    if has_crowd:
        crowd = (labels == CROWD_LABEL).astype(np.uint8)
        if crowd.sum() > 0:
            people.append((np.zeros((NUM_KEYPOINTS, 3), np.float32), crowd, 1))
    return image, people


def grid_of_figures(n, size, seed=0):
    """n non-overlapping figures on a grid (for decoder checks and benchmarks, where every person
    must really be there): (keypoints float32 [n, 17, 3], all v=2; masks float32 [n, size, size])."""
    rng = np.random.default_rng(seed)
    cols = int(np.ceil(np.sqrt(n)))
    cell = size / cols
    image = np.zeros((size, size, 3), np.uint8)
    labels = np.zeros((size, size), np.uint8)
    kps = []
    for i in range(n):
        centre = np.array([(i % cols + 0.5) * cell, (i // cols + 0.5) * cell])
        pts = draw_figure(image, labels, i + 1, rng, 0.8 * cell, centre, textured=False)
        kps.append(np.concatenate([pts, np.full((NUM_KEYPOINTS, 1), 2.0)], 1))
    masks = np.stack([(labels == i + 1) for i in range(n)]).astype(np.float32)
    return np.array(kps, np.float32), masks


def _annotation(ann_id, image_id, kps, mask, iscrowd):
    rle = mask_utils.encode(np.asfortranarray(mask))
    rle["counts"] = rle["counts"].decode("ascii")
    x, y, w, h = mask_utils.toBbox(rle).tolist()
    return {"id": ann_id, "image_id": image_id, "category_id": PERSON_CATEGORY_ID, "iscrowd": int(iscrowd),
            "segmentation": rle, "area": float(mask.sum()), "bbox": [x, y, w, h],
            "num_keypoints": int((kps[:, 2] > 0).sum()),
            "keypoints": [round(float(v), 2) for v in kps.reshape(-1)]}


def generate(output, num_images, seed=0, size=256, max_people=6, progress=True):
    """Writes the dataset; returns the COCO dict. Deterministic in (num_images, seed, size, max_people)."""
    if num_images < 1 or size < 64 or max_people < 1:
        raise ValueError(f"need num_images >= 1, size >= 64, max_people >= 1 "
                         f"(got {num_images}, {size}, {max_people})")
    image_dir = os.path.join(output, "images")
    os.makedirs(image_dir, exist_ok=True)
    rng = np.random.default_rng(seed)
    images, anns = [], []
    bar = Progress(num_images, "synth", unit="img") if progress else None
    for i in range(num_images):
        image, people = make_image(rng, size, max_people)
        name = f"{i:06d}.jpg"
        write_picture(os.path.join(image_dir, name), image, [cv2.IMWRITE_JPEG_QUALITY, 92])
        images.append({"id": i + 1, "file_name": name, "height": size, "width": size})
        for kps, mask, crowd in people:
            anns.append(_annotation(len(anns) + 1, i + 1, kps, mask, crowd))
        if bar:
            bar.update()
    if bar:
        bar.close()
    coco = {
        "info": {"description": f"cf_tf synthetic people, seed {seed}"},
        "images": images, "annotations": anns,
        "categories": [{"id": PERSON_CATEGORY_ID, "name": "person", "supercategory": "person",
                        "keypoints": list(KEYPOINT_NAMES),
                        "skeleton": [[a + 1, b + 1] for a, b in SKELETON_EDGES]}],
    }
    path = os.path.join(output, "person_keypoints.json")
    write_json(path, coco)
    return coco
