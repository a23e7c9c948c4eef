"""Per-output losses, each normalised over the pixels where its target is defined (SPEC "Targets").

Sigmoid BCE for SKFM, BHM and SFM (paper 3.1-3.3); L1 for KeyCentroid, mid-range and MaskCentroid
(paper 3.2, Eq. 4). Every loss is returned as (sum, count) so that a distributed step can add both
over replicas before dividing: the loss of a batch split over replicas then equals the loss of the
whole batch on one device.
"""

import dataclasses

import tensorflow as tf

from cf_tf.keypoints import NUM_EDGES, NUM_KEYPOINTS


@dataclasses.dataclass(frozen=True)
class LossWeights:
    """Weight of each term in the total loss (SPEC defaults)."""
    skfm: float = 4.0
    keycentroid: float = 1.0
    mid_offsets: float = 0.4
    bhm: float = 1.0
    sfm: float = 2.0
    maskcentroid: float = 1.0

    def __post_init__(self):
        for k, v in dataclasses.asdict(self).items():
            if v < 0:
                raise ValueError(f"loss weight {k} must be >= 0, got {v}")


TERMS = tuple(f.name for f in dataclasses.fields(LossWeights))


def _bce(logits, target, weight):
    per_pixel = tf.nn.sigmoid_cross_entropy_with_logits(labels=target, logits=logits) * weight
    return tf.reduce_sum(per_pixel), tf.reduce_sum(weight * tf.ones_like(per_pixel))


def l1_sums(pred, target, weight, pairs):
    """(sum, count) of the L1 error of 2-vectors: pred/target [..., 2P], weight [..., P] (one per vector)."""
    shape = tf.concat([tf.shape(pred)[:-1], [pairs, 2]], 0)
    err = tf.reduce_sum(tf.abs(tf.reshape(pred - target, shape)), axis=-1)
    return tf.reduce_sum(err * weight), tf.reduce_sum(weight)


def l1_terms(outputs, targets):
    """{term: (pred, target, weight, vectors per pixel)} of the L1 terms, weighted where each is defined."""
    kp_w = targets["kp_weight"]
    return {
        "keycentroid": (outputs["keycentroid"], targets["keycentroid"], targets["skfm"] * kp_w, NUM_KEYPOINTS),
        "mid_offsets": (outputs["mid_offsets"], targets["mid_offsets"], targets["mid_weight"] * kp_w, NUM_EDGES),
        # on the cells at least half covered: asking the head for its edge cells' owners too (soft SFM
        # weights) made the overfit gate's segm drop (README "Overfit gate")
        "maskcentroid": (outputs["maskcentroid"], targets["maskcentroid"],
                         tf.cast(targets["sfm"] >= 0.5, tf.float32) * targets["seg_weight"], 1),
    }


def loss_sums(outputs, targets):
    """{term: (sum, count)} for one (per-replica) batch; outputs and targets are [B, H, W, C] dicts."""
    kp_w = targets["kp_weight"]
    seg_w = targets["seg_weight"]
    outputs = {k: tf.cast(v, tf.float32) for k, v in outputs.items()}
    sums = {k: l1_sums(*term) for k, term in l1_terms(outputs, targets).items()}
    sums.update(skfm=_bce(outputs["skfm"], targets["skfm"], kp_w), bhm=_bce(outputs["bhm"], targets["bhm"], kp_w),
                sfm=_bce(outputs["sfm"], targets["sfm"], seg_w))
    return {k: sums[k] for k in TERMS}


def combine(sums, weights):
    """({term: mean loss}, weighted total) from {term: (sum, count)} (counts already all-reduced)."""
    terms = {k: s / tf.maximum(c, 1.0) for k, (s, c) in sums.items()}
    total = tf.add_n([getattr(weights, k) * terms[k] for k in TERMS])
    return terms, total
