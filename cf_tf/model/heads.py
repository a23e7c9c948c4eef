"""Pose and segmentation heads: residual bottleneck units (paper Fig. 2), then the output convs.

Pose head (stride 8): SKFM logits (17), KeyCentroid offsets (34, units of R), mid-range offsets
(64, units of mid_scale), BHM logits (1). Segmentation head (stride 4): SFM logits (1),
MaskCentroid offsets (2, units of mask_scale). Outputs are float32 under mixed precision.

The KeyCentroid and mid-range output convs are `offset_kernel` cells wide (default 9 = 2R / stride
+ 1), the others 1x1. The KeyCentroid field of one keypoint, (q - p) / R over its disk, is a ramp
kernel convolved with the keypoint's sub-cell position, and the mid-range field of edge a->b is the
same ramp around q_a plus the constant limb vector q_b - q_a: a conv spanning the disk writes either
as one linear map of features that only need to say where the keypoint is. Behind a 1x1 conv the
head's few 3x3 layers must synthesise the ramp themselves, and on the overfit gate they did not
(README, "What limited learning").
"""

import keras
from keras import layers

from cf_tf.keypoints import NUM_EDGES, NUM_KEYPOINTS
from cf_tf.model.blocks import bottleneck

POSE_OUTPUTS = {"skfm": NUM_KEYPOINTS, "keycentroid": 2 * NUM_KEYPOINTS, "mid_offsets": 2 * NUM_EDGES, "bhm": 1}
SEG_OUTPUTS = {"sfm": 1, "maskcentroid": 2}
LOGIT_OUTPUTS = ("skfm", "bhm", "sfm")
# Outputs whose conv spans the keypoint disk (ModelConfig.offset_kernel).
WIDE_OUTPUTS = ("keycentroid", "mid_offsets")
# Logit bias start: sigmoid(-2.2) ~ 0.1, near the share of positive pixels, so early BCE is not swamped.
_PRIOR_BIAS = -2.2


def _head(x, outputs, units, name, offset_kernel=1):
    width = x.shape[-1]
    for u in range(units):
        x = bottleneck(x, width // 4, name=f"{name}_u{u}")
    result = {}
    for key, channels in outputs.items():
        bias = keras.initializers.Constant(_PRIOR_BIAS if key in LOGIT_OUTPUTS else 0.0)
        size = offset_kernel if key in WIDE_OUTPUTS else 1
        result[key] = layers.Conv2D(channels, size, padding="same", bias_initializer=bias, dtype="float32",
                                    name=key)(x)
    return result


def pose_head(features, units, offset_kernel):
    """SKFM, KeyCentroid, mid-range offsets and BHM from the pose-stride features."""
    return _head(features, POSE_OUTPUTS, units, "pose", offset_kernel)


def seg_head(features, units):
    """SFM and MaskCentroid from the seg-stride features (MaskCentroid spans a whole person: 1x1 conv)."""
    return _head(features, SEG_OUTPUTS, units, "seg")
