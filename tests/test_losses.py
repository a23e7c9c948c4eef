"""The per-output losses on hand-made maps whose values are known in closed form."""

import math

import numpy as np
import pytest
import tensorflow as tf

from cf_tf import losses
from cf_tf.outputs import OUTPUTS


def _maps(h=2, w=3, value=0.0):
    """Outputs and targets of one [1, h, w] image, every map `value`, every weight 1."""
    outputs = {o.name: tf.fill([1, h, w, o.channels], value) for o in OUTPUTS}
    targets = {o.name: tf.fill([1, h, w, o.channels], value) for o in OUTPUTS}
    targets.update(kp_weight=tf.ones([1, h, w, 1]), mid_weight=tf.ones([1, h, w, 32]),
                   seg_weight=tf.ones([1, h, w, 1]), mc_emphasis=tf.ones([1, h, w, 1]))
    return outputs, targets


def test_bce_of_zero_logits_is_log2_per_channel_over_weighted_pixels():
    outputs, targets = _maps()
    targets["kp_weight"] = tf.constant([[[[1.0], [1.0], [0.0]], [[1.0], [0.0], [0.0]]]])   # 3 of 6 cells
    s, c = losses.loss_sums(outputs, targets)["skfm"]
    assert float(c) == 3 * 17
    assert float(s) == pytest.approx(3 * 17 * math.log(2.0), rel=1e-6)
    # a soft target: BCE(logit 0, 0.25) is log 2 too, and a logit of +4 against 1 is log(1 + e^-4)
    outputs["sfm"] = tf.fill([1, 2, 3, 1], 4.0)
    targets["sfm"] = tf.ones([1, 2, 3, 1])
    s, c = losses.loss_sums(outputs, targets)["sfm"]
    assert (float(s), float(c)) == pytest.approx((6 * math.log1p(math.exp(-4.0)), 6.0), rel=1e-6)


def test_l1_counts_vectors_and_only_where_the_target_is_defined():
    outputs, targets = _maps()
    # KeyCentroid is scored inside the disks (SKFM = 1): one keypoint on one cell
    skfm = np.zeros((1, 2, 3, 17), np.float32)
    skfm[0, 1, 2, 5] = 1.0
    targets["skfm"] = tf.constant(skfm)
    kc = np.zeros((1, 2, 3, 34), np.float32)
    kc[0, 1, 2, 10:12] = (0.3, -0.2)      # keypoint 5's vector: |0.3| + |0.2|
    kc[0, 0, 0, 10:12] = (5.0, 5.0)       # outside the disk: ignored
    outputs["keycentroid"] = tf.constant(kc)
    s, c = losses.loss_sums(outputs, targets)["keycentroid"]
    assert (float(s), float(c)) == pytest.approx((0.5, 1.0))
    # MaskCentroid only on cells at least half covered by a person
    targets["sfm"] = tf.constant([[[[0.5], [0.49], [1.0]], [[0.0], [0.0], [0.0]]]])
    outputs["maskcentroid"] = tf.ones([1, 2, 3, 2])
    s, c = losses.loss_sums(outputs, targets)["maskcentroid"]
    assert (float(s), float(c)) == pytest.approx((4.0, 2.0))


def test_maskcentroid_emphasis_weighs_its_cells_in_the_loss_and_not_in_the_head_report():
    outputs, targets = _maps()
    targets["sfm"] = tf.constant([[[[1.0], [1.0], [0.0]], [[1.0], [0.0], [0.0]]]])     # 3 cells defined
    mc = np.zeros((1, 2, 3, 2), np.float32)
    mc[0, 0, 0] = (1.0, 0.0)              # an error of 1 on a defined cell
    mc[0, 0, 2] = (9.0, 9.0)              # on an undefined one
    outputs["maskcentroid"] = tf.constant(mc)
    # a border cell (emphasis 1 + 3) among them: its error of 1 counts 4 times, and so does its weight;
    # emphasis on an undefined cell (the 9s) changes nothing
    targets["mc_emphasis"] = tf.constant([[[[4.0], [1.0], [4.0]], [[1.0], [1.0], [1.0]]]])
    s, c = losses.loss_sums(outputs, targets)["maskcentroid"]
    assert (float(s), float(c)) == pytest.approx((4.0, 6.0))
    pred, target, weight, _ = losses.l1_terms(outputs, targets, emphasised=False)["maskcentroid"]
    assert tuple(float(v) for v in losses.l1_sums(pred, target, weight, 1)) == pytest.approx((1.0, 3.0))


def test_combine_divides_each_sum_by_its_count_and_weights_the_terms():
    sums = {o.name: (tf.constant(6.0), tf.constant(3.0)) for o in OUTPUTS}
    sums["bhm"] = (tf.constant(0.0), tf.constant(0.0))      # nothing defined: 0, not NaN
    weights = losses.LossWeights(skfm=1.0, keycentroid=0.0, mid_offsets=0.5, bhm=7.0, sfm=2.0, maskcentroid=1.0)
    terms, total = losses.combine(sums, weights)
    assert float(terms["skfm"]) == 2.0 and float(terms["bhm"]) == 0.0
    assert float(total) == pytest.approx(2.0 * (1.0 + 0.0 + 0.5 + 2.0 + 1.0))


def test_default_weights_are_the_tables():
    assert {k: getattr(losses.LossWeights(), k) for k in losses.TERMS} == {o.name: o.loss_weight for o in OUTPUTS}
    with pytest.raises(ValueError, match="sfm must be >= 0"):
        losses.LossWeights(sfm=-1.0)
