"""Decoder pieces on hand-made inputs: Hough peaks, OKS-NMS and PoseSeg fragment merging."""

import numpy as np
import pytest
import tensorflow as tf

from cf_tf.config import DecodeConfig
from cf_tf.postprocess import hough, poseseg

CFG = DecodeConfig(max_people=4, max_candidates=3, peak_threshold=0.1)


def test_peaks_are_local_maxima_above_threshold_with_subcell_position():
    scores = np.zeros((20, 20, 17), np.float32)
    scores[5, 7, 0] = 1.0
    scores[5, 8, 0] = 0.5            # the parabola through 0, 1, 0.5 peaks 1/6 cell to the right
    scores[12, 3, 0] = 0.6
    scores[12, 4, 0] = 0.3           # not a local maximum (its neighbour 0.6 is larger)
    scores[2, 2, 0] = 0.05           # below peak_threshold
    scores[10, 10, 4] = 0.8          # another keypoint's map
    xy, score = hough.peaks(tf.constant(scores), CFG)
    xy, score = xy.numpy(), score.numpy()
    assert xy.shape == (17, 3, 2) and score.shape == (17, 3)
    np.testing.assert_allclose(score[0], [1.0, 0.6, 0.0])
    stride = CFG.hough_stride
    np.testing.assert_allclose(xy[0, 0], [(7 + 1.0 / 6.0) * stride + 0.5, 5 * stride + 0.5], atol=1e-5)
    np.testing.assert_allclose(xy[0, 1], [(3 + 1.0 / 6.0) * stride + 0.5, 12 * stride + 0.5], atol=1e-5)
    np.testing.assert_allclose(score[4], [0.8, 0.0, 0.0])
    np.testing.assert_allclose(xy[4, 0], [10 * stride + 0.5, 10 * stride + 0.5])
    assert not score[1:4].any()


def _person(x0, y0, size=100.0):
    """A 17-keypoint skeleton spread over a size x size box at (x0, y0)."""
    rng = np.random.default_rng(int(x0 * 7 + y0))
    return np.stack([x0 + rng.uniform(0, size, 17), y0 + rng.uniform(0, size, 17)], -1).astype(np.float32)


def test_oks_nms_drops_a_near_duplicate_keeps_a_distinct_person_and_sorts_by_score():
    a = _person(0, 0)
    xy = np.stack([a + 1.0, _person(300, 300), a, np.zeros_like(a)])      # row 0 duplicates row 2
    kp_score = np.full((4, 17), 0.5, np.float32)
    person_score = np.array([0.6, 0.7, 0.9, 0.0], np.float32)
    valid = np.array([True, True, True, False])
    keypoints, scores, keep = poseseg.oks_nms(tf.constant(xy), tf.constant(kp_score), tf.constant(person_score),
                                              tf.constant(valid), CFG)
    np.testing.assert_array_equal(keep.numpy(), [True, True, False, False])
    np.testing.assert_allclose(scores.numpy(), [0.9, 0.7, 0.0, 0.0])
    np.testing.assert_allclose(keypoints.numpy()[0, :, :2], a)             # the best of the duplicates
    np.testing.assert_allclose(keypoints.numpy()[1, :, :2], xy[1])
    assert not keypoints.numpy()[2:].any()
    sim = poseseg.oks(tf.constant(xy[:3]), tf.constant(xy[:3]), tf.constant([1e4, 1e4, 1e4])).numpy()
    np.testing.assert_allclose(np.diag(sim), 1.0, rtol=1e-6)
    assert sim[0, 2] > CFG.oks_nms > sim[0, 1]


def _maps_pointing_at(anchors_by_box, size=64, stride=4):
    """Seg maps (SFM 1 everywhere) whose MaskCentroid embedding, in each box, points at its anchor."""
    cells = size // stride
    centres = (np.stack(np.meshgrid(np.arange(cells), np.arange(cells)), -1) * stride + 0.5).astype(np.float32)
    target = np.zeros((cells, cells, 2), np.float32)
    for (x0, y0, x1, y1), anchor in anchors_by_box:
        box = (centres[..., 0] >= x0) & (centres[..., 0] < x1) & (centres[..., 1] >= y0) & (centres[..., 1] < y1)
        target[box] = np.asarray(anchor, np.float32)
    mc = (target - centres) / CFG.geometry.mask_scale
    return {"maskcentroid": tf.constant(mc), "sfm_prob": tf.ones([cells, cells, 1])}


@pytest.mark.parametrize("same_person", [True, False])
def test_fragments_merge_only_when_their_anchors_agree(same_person):
    # fragment 0: head + right shoulder on the left; fragment 1: left arm on the right
    xy = np.zeros((4, 17, 2), np.float32)
    score = np.zeros((4, 17), np.float32)
    xy[0, [0, 6]] = [[10, 10], [12, 30]]
    score[0, [0, 6]] = 0.9
    xy[1, [5, 7, 9]] = [[50, 30], [52, 45], [54, 60]]
    score[1, [5, 7, 9]] = 0.8
    valid = np.array([True, True, False, False])
    anchor_right = (12.0, 30.0) if same_person else (52.0, 30.0)
    maps = _maps_pointing_at([((0, 0, 32, 64), (12.0, 30.0)), ((32, 0, 64, 64), anchor_right)])
    out_xy, out_score, out_valid = (t.numpy() for t in poseseg.merge_fragments(
        tf.constant(xy), tf.constant(score), tf.constant(valid), maps, CFG))
    if same_person:
        np.testing.assert_array_equal(out_valid, [True, False, False, False])
        np.testing.assert_allclose(out_xy[0, [0, 6, 5, 7, 9]], [[10, 10], [12, 30], [50, 30], [52, 45], [54, 60]])
        np.testing.assert_allclose(out_score[0, [0, 6, 5, 7, 9]], [0.9, 0.9, 0.8, 0.8, 0.8])
        assert not out_score[1].any()
    else:
        np.testing.assert_array_equal(out_valid, valid)
        np.testing.assert_allclose(out_score, score)
