"""Per-output losses, each normalised over the pixels where its target is defined (SPEC "Targets").

One term per output of cf_tf/outputs.py: sigmoid BCE for the logit outputs (SKFM, BHM, SFM, paper
3.1-3.3), L1 for the offsets (KeyCentroid, mid-range, MaskCentroid, paper 3.2, Eq. 4), each averaged
over its weight map. Every loss is returned as (sum, count) so that a distributed step can add both
over replicas before dividing: the loss of a batch split over replicas then equals the loss of the
whole batch on one device.
"""

import dataclasses

import tensorflow as tf

from cf_tf.outputs import OUTPUTS


def _check(weights):
    for k, v in dataclasses.asdict(weights).items():
        if v < 0:
            raise ValueError(f"loss weight {k} must be >= 0, got {v}")


# Weight of each term in the total loss, one field per output of the table, its default the table's.
LossWeights = dataclasses.make_dataclass(
    "LossWeights", [(o.name, float, dataclasses.field(default=o.loss_weight)) for o in OUTPUTS],
    frozen=True, namespace={"__post_init__": _check, "__module__": __name__})

TERMS = tuple(o.name for o in OUTPUTS)


def _bce(logits, target, weight):
    per_pixel = tf.nn.sigmoid_cross_entropy_with_logits(labels=target, logits=logits) * weight
    return tf.reduce_sum(per_pixel), tf.reduce_sum(weight * tf.ones_like(per_pixel))


def l1_sums(pred, target, weight, pairs):
    """(sum, count) of the L1 error of 2-vectors: pred/target [..., 2P], weight [..., P] (one per vector)."""
    shape = tf.concat([tf.shape(pred)[:-1], [pairs, 2]], 0)
    err = tf.reduce_sum(tf.abs(tf.reshape(pred - target, shape)), axis=-1)
    return tf.reduce_sum(err * weight), tf.reduce_sum(weight)


def l1_terms(outputs, targets, emphasised=True):
    """{name: (pred, target, weight, vectors per pixel)} of the offset outputs, weighted where each is
    defined: as the loss weighs them (Output.loss_weight_map), or every defined cell alike."""
    return {o.name: (outputs[o.name], targets[o.name], o.loss_weight_map(targets) if emphasised else o.weight(targets),
                     o.vectors) for o in OUTPUTS if o.kind == "offset"}


def loss_sums(outputs, targets):
    """{term: (sum, count)} for one (per-replica) batch; outputs and targets are [B, H, W, C] dicts."""
    outputs = {k: tf.cast(v, tf.float32) for k, v in outputs.items()}
    sums = {k: l1_sums(*term) for k, term in l1_terms(outputs, targets).items()}
    sums.update({o.name: _bce(outputs[o.name], targets[o.name], o.loss_weight_map(targets))
                 for o in OUTPUTS if o.kind == "logit"})
    return {k: sums[k] for k in TERMS}


def combine(sums, weights):
    """({term: mean loss}, weighted total) from {term: (sum, count)} (counts already all-reduced)."""
    terms = {k: s / tf.maximum(c, 1.0) for k, (s, c) in sums.items()}
    total = tf.add_n([getattr(weights, k) * terms[k] for k in TERMS])
    return terms, total
