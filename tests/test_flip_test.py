"""Flip testing (cf_tf/postprocess/flip_test.py): the outputs of a mirrored image, mirrored back by the
output table's rules, are the outputs of the image; the Predictor averages the two passes."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from cf_tf.config import DataConfig, DecodeConfig, Geometry
from cf_tf.constants import FLIP_PERM
from cf_tf.data import synth
from cf_tf.data.targets import build_targets
from cf_tf.inference import Predictor
from cf_tf.oracle import perfect_outputs
from cf_tf.outputs import BY_NAME, OUTPUTS
from cf_tf.postprocess import flip_test

SIZE = 257   # 16 x 16 + 1: both grids mirror onto themselves


def _weight(name, targets, shape):
    """The loss's weight of each channel of output `name` (an offset's weight covers both its axes)."""
    w = BY_NAME[name].weight(targets).numpy()
    if BY_NAME[name].kind == "offset" and w.shape[-1] > 1:
        w = np.repeat(w, 2, axis=-1)
    return np.broadcast_to(w, shape)


def _perfect(kps, masks, cfg):
    targets = build_targets(tf.constant(kps), tf.constant(np.moveaxis(masks, 0, -1)),
                            tf.zeros([len(kps)], tf.int32), SIZE, SIZE, cfg)
    return {k: v[None] for k, v in perfect_outputs(targets).items()}, targets


@pytest.mark.parametrize("pose_stride", [8, 16])
def test_mirrored_targets_mirror_back_onto_the_targets(pose_stride):
    """Perfect outputs of the mirrored figures (x -> SIZE - x, left and right swapped), mirrored back,
    equal those of the figures on every cell the losses weigh: each output's channels, cells and signs."""
    cfg = DataConfig(crop_size=SIZE, input_size=SIZE, geometry=Geometry(pose_stride=pose_stride))
    kps, masks = synth.grid_of_figures(4, SIZE, seed=3)
    mirrored_kps = kps[:, FLIP_PERM].copy()
    mirrored_kps[..., 0] = SIZE - mirrored_kps[..., 0]
    original, targets = _perfect(kps, masks, cfg)
    mirrored, _ = _perfect(mirrored_kps, masks[:, :, ::-1], cfg)
    back = flip_test.unmirror(mirrored)
    assert set(back) == {o.name for o in OUTPUTS if o.mirror != "none"} and "maskcentroid" not in back
    for name, value in back.items():
        weight = _weight(name, targets, value.shape[1:])
        assert weight.sum() > 0, name
        got, want = value[0].numpy()[weight > 0], original[name][0].numpy()[weight > 0]
        # a cell on a disk's rim may round either way once mirrored: all but a few cells agree exactly
        close = np.isclose(got, want, atol=1e-3)
        assert close.mean() > 0.98, (name, close.mean())
    # and without the mirror rules the channels would not line up (the check can fail)
    raw = tf.reverse(mirrored["keycentroid"], [2])[0].numpy()
    weight = _weight("keycentroid", targets, raw.shape)
    assert np.isclose(raw[weight > 0], original["keycentroid"][0].numpy()[weight > 0], atol=1e-3).mean() < 0.5


def test_average_keeps_the_first_pass_where_an_output_has_no_mirror():
    ones = {o.name: tf.ones([1, 3, 3, o.channels]) for o in OUTPUTS}
    zeros = {k: tf.zeros_like(v) for k, v in ones.items()}
    avg = flip_test.average(ones, zeros)
    assert float(tf.reduce_max(tf.abs(avg["maskcentroid"] - 1.0))) == 0.0
    assert float(tf.reduce_max(tf.abs(avg["sfm"] - 0.5))) == 0.0
    with pytest.raises(ValueError, match="mirror must be one of"):   # a misspelt rule is not "same"
        dataclasses.replace(BY_NAME["sfm"], mirror="keypoint")


class _MirrorProbe(tf.Module):
    """A stand-in network whose outputs are the perfect outputs of whichever canvas it is given."""

    def __init__(self, canvases, outputs):
        super().__init__()
        self.canvases, self.outputs = canvases, outputs

    def __call__(self, x, training=False):
        picks = tf.argmin(tf.reduce_sum(tf.abs(self.canvases[None] - x[:, None]), [2, 3, 4]), axis=1)
        return {k: tf.gather(v, picks) for k, v in self.outputs.items()}


def test_predictor_with_flip_test_decodes_the_people_of_both_passes():
    cfg = DataConfig(crop_size=SIZE, input_size=SIZE)
    kps, masks = synth.grid_of_figures(4, SIZE, seed=5)
    mirrored_kps = kps[:, FLIP_PERM].copy()
    mirrored_kps[..., 0] = SIZE - mirrored_kps[..., 0]
    original, _ = _perfect(kps, masks, cfg)
    mirrored, _ = _perfect(mirrored_kps, masks[:, :, ::-1], cfg)
    image = np.zeros((SIZE, SIZE, 3), np.uint8)
    image[:, : SIZE // 2] = 200   # the canvas and its mirror differ
    canvas = tf.cast(tf.constant(image[None]), tf.float32)
    probe = _MirrorProbe(tf.concat([canvas, tf.reverse(canvas, [2])], 0),
                         {k: tf.concat([original[k], mirrored[k]], 0) for k in original})
    plain = Predictor(probe, cfg, DecodeConfig.matching(cfg))(image[None])
    flipped = Predictor(probe, cfg, DecodeConfig.matching(cfg, flip_test=True))(image[None])
    assert int(plain["num_people"][0]) == int(flipped["num_people"][0]) == 4
    order = lambda out: np.argsort(out["keypoints"][0, :4, 0, 0].numpy())   # noqa: E731 (by nose x)
    a, b = plain["keypoints"][0].numpy()[order(plain)], flipped["keypoints"][0].numpy()[order(flipped)]
    np.testing.assert_allclose(a[..., :2], b[..., :2], atol=0.5)
    drawn = [out["masks"][0].numpy().sum((1, 2)) > 0 for out in (plain, flipped)]
    np.testing.assert_array_equal(*drawn)


def test_flip_test_refuses_an_input_size_whose_grids_do_not_mirror():
    decode = DecodeConfig.matching(DataConfig(), flip_test=True)
    with pytest.raises(ValueError, match="flip_test needs an input size of k x 8 \\+ 1"):
        Predictor(None, DataConfig(crop_size=256, input_size=256), decode)
    Predictor(None, DataConfig(crop_size=257, input_size=257), decode)   # 8 x 32 + 1
