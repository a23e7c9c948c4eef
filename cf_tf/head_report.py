"""How well each output of a trained model matches its target, before any decoding.

  python -m cf_tf.evaluate --model_dir=D --head_report --annotations=A.json --images=DIR

COCO AP says *that* a model is weak; this says *which head* is, against what an untrained head
would do. The heat maps (SKFM per keypoint, SFM) are scored by pixel ROC AUC (0.5 = chance); the
offset fields (KeyCentroid, mid-range, MaskCentroid) and the BHM by their mean L1 error on the pixels
where the loss is defined, next to the error of predicting zero. `keycentroid_near` is KeyCentroid on
the cells within one pose stride of their keypoint: where PoseSeg's refinement b += R * offset(b)
lands (SPEC "Decoding" 5), so an error there moves every grouped keypoint. `count` is how many
vectors (cells x keypoints or edges) an L1 is averaged over.
"""

import numpy as np
import tensorflow as tf
from sklearn.metrics import roc_auc_score

from cf_tf.keypoints import KEYPOINT_NAMES, NUM_KEYPOINTS
from cf_tf.losses import l1_sums, l1_terms

OFFSETS = ("keycentroid", "keycentroid_near", "mid_offsets", "bhm", "maskcentroid")


def _offset_terms(outputs, targets, radius, pose_stride):
    """{name: (pred, target, weight, vectors per pixel)} of the L1-scored maps of one image: the
    loss's own L1 terms, plus KeyCentroid near its keypoint and the BHM."""
    terms = l1_terms(outputs, targets)
    pred, kc_t, in_disk, vectors = terms["keycentroid"]
    dist = tf.norm(tf.reshape(kc_t, tf.concat([tf.shape(kc_t)[:-1], [NUM_KEYPOINTS, 2]], 0)), axis=-1) * radius
    terms["keycentroid_near"] = (pred, kc_t, in_disk * tf.cast(dist <= pose_stride, tf.float32), vectors)
    # BHM is a scalar map: score it as 2-vectors (bhm, 0) so l1_sums applies unchanged
    bhm = tf.concat([tf.sigmoid(outputs["bhm"]), tf.zeros_like(outputs["bhm"])], -1)
    bhm_t = tf.concat([targets["bhm"], tf.zeros_like(targets["bhm"])], -1)
    terms["bhm"] = (bhm, bhm_t, targets["kp_weight"], 1)
    return terms


def _auc(scores, labels, weights):
    keep = weights > 0
    labels = labels[keep] >= 0.5
    if labels.all() or not labels.any():
        return None   # AUC needs both classes
    return float(roc_auc_score(labels, scores[keep], sample_weight=weights[keep]))


def head_report(pairs, radius, pose_stride):
    """The report dict from (outputs, targets) pairs, one per image: [H, W, C] maps, outputs as the
    model gives them (logits for SKFM, BHM, SFM)."""
    sums = {k: np.zeros(3) for k in OFFSETS}   # model error sum, zero-predictor error sum, count
    heat = {"skfm": [], "sfm": []}
    images = 0
    for outputs, targets in pairs:
        outputs = {k: tf.cast(v, tf.float32) for k, v in outputs.items()}
        for name, (pred, target, weight, pairs_per_pixel) in _offset_terms(outputs, targets, radius,
                                                                            pose_stride).items():
            err, count = l1_sums(pred, target, weight, pairs_per_pixel)
            zero, _ = l1_sums(tf.zeros_like(pred), target, weight, pairs_per_pixel)
            sums[name] += [float(err), float(zero), float(count)]
        heat["skfm"].append([x.numpy().reshape(-1, NUM_KEYPOINTS) for x in
                             (tf.sigmoid(outputs["skfm"]), targets["skfm"],
                              tf.broadcast_to(targets["kp_weight"], tf.shape(targets["skfm"])))])
        heat["sfm"].append([x.numpy().reshape(-1) for x in
                            (tf.sigmoid(outputs["sfm"]), targets["sfm"], targets["seg_weight"])])
        images += 1
    if not images:
        raise ValueError("head report: no image to score")
    skfm = [np.concatenate(parts) for parts in zip(*heat["skfm"])]
    per_keypoint = {name: _auc(skfm[0][:, j], skfm[1][:, j], skfm[2][:, j])
                    for j, name in enumerate(KEYPOINT_NAMES)}
    scored = [v for v in per_keypoint.values() if v is not None]
    sfm = [np.concatenate(parts) for parts in zip(*heat["sfm"])]
    report = {"images": images,
              "skfm_auc": float(np.mean(scored)) if scored else None,
              "skfm_auc_per_keypoint": per_keypoint,
              "sfm_auc": _auc(*sfm)}
    for name, (err, zero, count) in sums.items():
        report[name] = {"l1": err / count if count else None, "zero_l1": zero / count if count else None,
                        "count": int(count)}
    return report


def format_report(report):
    """A small table: each head's score next to what an untrained head would get."""
    def f(v):
        return "  n/a" if v is None else f"{v:.3f}"

    lines = [f"{'output':18s} {'model':>7s} {'untrained':>9s}  measure",
             f"{'skfm':18s} {f(report['skfm_auc']):>7s} {'0.500':>9s}  pixel ROC AUC, mean over keypoints",
             f"{'sfm':18s} {f(report['sfm_auc']):>7s} {'0.500':>9s}  pixel ROC AUC"]
    units = {"keycentroid": "R", "keycentroid_near": "R", "mid_offsets": "mid_scale", "bhm": "heat",
             "maskcentroid": "mask_scale"}
    for name in OFFSETS:
        r = report[name]
        lines.append(f"{name:18s} {f(r['l1']):>7s} {f(r['zero_l1']):>9s}  mean L1 ({units[name]}), "
                     f"untrained = predicting 0, n={r['count']}")
    return "\n".join(lines)
