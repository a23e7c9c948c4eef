"""How well each output of a trained model matches its target, before any decoding.

  python -m cf_tf.evaluate --model_dir=D --head_report --annotations=A.json --images=DIR

COCO AP says *that* a model is weak; this says *which head* is, against what an untrained head
would do. The heat maps (SKFM per keypoint, SFM) are scored by pixel ROC AUC (0.5 = chance); the
offset fields (KeyCentroid, mid-range, MaskCentroid) and the BHM by their mean L1 error on the pixels
where the loss is defined, next to the error of predicting zero. `keycentroid_near` is KeyCentroid on
the cells within one pose stride of their keypoint: where PoseSeg's refinement b += R * offset(b)
lands (SPEC "Decoding" 5), so an error there moves every grouped keypoint. `sfm_edge` is the SFM
probability's L1 on the outline cells, whose soft target is strictly between background and person:
where a mask's outline is drawn, and where the AUC, ranking cells, hardly looks. `count` is how many
vectors (cells x keypoints or edges) an L1 is averaged over.
"""

import numpy as np
import tensorflow as tf
from sklearn.metrics import roc_auc_score

from cf_tf.constants import KEYPOINT_NAMES, NUM_KEYPOINTS
from cf_tf.losses import l1_sums, l1_terms
from cf_tf.outputs import BY_NAME, OUTPUTS

# the outputs scored by L1, in table order, with KeyCentroid near its keypoint after KeyCentroid,
# then the SFM's outline cells
OFFSETS = tuple(n for o in OUTPUTS if o.report == "l1"
                for n in ((o.name, "keycentroid_near") if o.name == "keycentroid" else (o.name,))) + ("sfm_edge",)
_AUC = tuple(o.name for o in OUTPUTS if o.report == "auc")
# an SFM cell is on an outline when its target coverage is within (EDGE, 1 - EDGE)
EDGE = 0.05
_UNITS = {"keycentroid_near": "radius", "sfm_edge": "coverage"}


def _as_vectors(x):
    """[..., C] -> [..., 2C] of (x, 0) pairs, so a scalar map is scored by l1_sums unchanged."""
    return tf.reshape(tf.stack([x, tf.zeros_like(x)], -1), tf.concat([tf.shape(x)[:-1], [-1]], 0))


def _offset_terms(outputs, targets, radius, pose_stride):
    """{name: (pred, target, weight, vectors per pixel)} of the L1-scored maps of one image: the
    loss's own L1 terms with every defined cell alike, plus KeyCentroid near its keypoint and the BHM."""
    terms = l1_terms(outputs, targets, emphasised=False)
    pred, kc_t, in_disk, vectors = terms["keycentroid"]
    dist = tf.norm(tf.reshape(kc_t, tf.concat([tf.shape(kc_t)[:-1], [NUM_KEYPOINTS, 2]], 0)), axis=-1) * radius
    terms["keycentroid_near"] = (pred, kc_t, in_disk * tf.cast(dist <= pose_stride, tf.float32), vectors)
    # logit maps scored by L1 (the BHM): their probabilities, one 2-vector (p, 0) per channel
    for out in OUTPUTS:
        if out.kind == "logit" and out.report == "l1":
            t = targets[out.name]
            terms[out.name] = (_as_vectors(tf.sigmoid(outputs[out.name])), _as_vectors(t),
                               tf.broadcast_to(out.weight(targets), tf.shape(t)), out.channels)
    t = targets["sfm"]
    outline = tf.cast((t > EDGE) & (t < 1.0 - EDGE), tf.float32) * tf.broadcast_to(BY_NAME["sfm"].weight(targets),
                                                                                   tf.shape(t))
    terms["sfm_edge"] = (_as_vectors(tf.sigmoid(outputs["sfm"])), _as_vectors(t), outline, 1)
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
    heat = {name: [] for name in _AUC}          # per image: probabilities, targets, weights [pixels, C]
    images = 0
    for outputs, targets in pairs:
        outputs = {k: tf.cast(v, tf.float32) for k, v in outputs.items()}
        for name, (pred, target, weight, pairs_per_pixel) in _offset_terms(outputs, targets, radius,
                                                                            pose_stride).items():
            err, count = l1_sums(pred, target, weight, pairs_per_pixel)
            zero, _ = l1_sums(tf.zeros_like(pred), target, weight, pairs_per_pixel)
            sums[name] += [float(err), float(zero), float(count)]
        for out in OUTPUTS:
            if out.report == "auc":
                t = targets[out.name]
                heat[out.name].append([x.numpy().reshape(-1, out.channels) for x in
                                       (tf.sigmoid(outputs[out.name]), t,
                                        tf.broadcast_to(out.weight(targets), tf.shape(t)))])
        images += 1
    if not images:
        raise ValueError("head report: no image to score")
    report = {"images": images}
    for name in _AUC:
        probs, labels, weights = (np.concatenate(parts) for parts in zip(*heat[name]))
        per_channel = [_auc(probs[:, j], labels[:, j], weights[:, j]) for j in range(probs.shape[1])]
        scored = [v for v in per_channel if v is not None]
        report[f"{name}_auc"] = float(np.mean(scored)) if scored else None
        if len(per_channel) == NUM_KEYPOINTS:
            report[f"{name}_auc_per_keypoint"] = dict(zip(KEYPOINT_NAMES, per_channel))
    for name, (err, zero, count) in sums.items():
        report[name] = {"l1": err / count if count else None, "zero_l1": zero / count if count else None,
                        "count": int(count)}
    return report


_UNIT_NAMES = {"radius": "R", None: "heat"}


def format_report(report):
    """A small table: each head's score next to what an untrained head would get."""
    def f(v):
        return "  n/a" if v is None else f"{v:.3f}"

    lines = [f"{'output':18s} {'model':>7s} {'untrained':>9s}  measure"]
    for name in _AUC:
        mean = ", mean over keypoints" if f"{name}_auc_per_keypoint" in report else ""
        lines.append(f"{name:18s} {f(report[f'{name}_auc']):>7s} {'0.500':>9s}  pixel ROC AUC{mean}")
    for name in OFFSETS:
        unit = BY_NAME[name].unit if name in BY_NAME else _UNITS[name]
        r = report[name]
        lines.append(f"{name:18s} {f(r['l1']):>7s} {f(r['zero_l1']):>9s}  mean L1 ({_UNIT_NAMES.get(unit, unit)}), "
                     f"untrained = predicting 0, n={r['count']}")
    return "\n".join(lines)
