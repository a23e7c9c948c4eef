"""Pose and segmentation heads: residual bottleneck units (paper Fig. 2), then the output convs.

The pose head (pose stride) and the segmentation head (seg stride) make the outputs that
cf_tf/outputs.py lists for their grid, logits with a prior bias, offsets from 0. Outputs are float32
under mixed precision.

The KeyCentroid and mid-range output convs are `offset_kernel` cells wide (default 9 = 2R / stride
+ 1), the others 1x1. The KeyCentroid field of one keypoint, (q - p) / R over its disk, is a ramp
kernel convolved with the keypoint's sub-cell position, and the mid-range field of edge a->b is the
same ramp around q_a plus the constant limb vector q_b - q_a: a conv spanning the disk writes either
as one linear map of features that only need to say where the keypoint is. Behind a 1x1 conv the
head's few 3x3 layers must synthesise the ramp themselves, and on the overfit gate they did not
(docs/RESULTS.md, "What limited learning").

`separable` makes those two convs a depthwise conv of the same side, two kernels per input channel,
then a 1x1 conv: each output is still a sum of wide kernels over the features, 2 x width of them.
The exact fields need 98 such maps (a ramp in x and in y around each keypoint, a disk under each
limb vector); the full convs, half of resnet_tiny's multiply-adds, take fifteen times as many.
But two kernels on each of 64 features cannot give a limb's disk and its keypoint's ramps each
their own feature. `expansion` E puts a 1x1 conv first, to E maps per output channel, each with its
own depthwise kernel (a linear bottleneck inverted: wide where the kernels are), then the 1x1 to
the outputs: E x channels wide kernels, each on a feature of its own, for about the same
multiply-adds as two per head channel.
"""

import functools

import keras
from keras import layers

from cf_tf.model.blocks import bottleneck
from cf_tf.outputs import of_grid
# Logit bias start: sigmoid(-2.2) ~ 0.1, near the share of positive pixels, so early BCE is not swamped.
_PRIOR_BIAS = -2.2


def _head(x, outputs, units, name, offset_kernel=1, separable=False, expansion=0):
    width = x.shape[-1]
    for u in range(units):
        x = bottleneck(x, width // 4, name=f"{name}_u{u}")
    result = {}
    for out in outputs:
        bias = keras.initializers.Constant(_PRIOR_BIAS if out.kind == "logit" else 0.0)
        conv, inputs = layers.Conv2D, x
        if out.wide and separable:
            conv = functools.partial(layers.SeparableConv2D, depth_multiplier=1 if expansion else 2)
            if expansion:   # linear: the depthwise kernels and the last 1x1 are linear too
                inputs = layers.Conv2D(expansion * out.channels, 1, name=f"{out.name}_expand")(x)
        size = offset_kernel if out.wide else 1
        result[out.name] = conv(out.channels, size, padding="same", bias_initializer=bias, dtype="float32",
                                name=out.name)(inputs)
    return result


def pose_head(features, units, offset_kernel, separable=False, expansion=0):
    """SKFM, KeyCentroid, mid-range offsets and BHM from the pose-stride features."""
    return _head(features, of_grid("pose"), units, "pose", offset_kernel, separable, expansion)


def seg_head(features, units):
    """SFM and MaskCentroid from the seg-stride features (MaskCentroid spans a whole person: 1x1 conv)."""
    return _head(features, of_grid("seg"), units, "seg")
