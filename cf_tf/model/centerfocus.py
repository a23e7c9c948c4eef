"""The CenterFocus network (paper Fig. 2): backbone -> fusion -> pose head + segmentation head.

A Keras functional model: input float32 RGB images [B, H, W, 3] in 0..255 (any H, W), outputs a dict
named skfm, keycentroid, mid_offsets, bhm (stride pose_stride) and sfm, maskcentroid (stride
seg_stride); each output has ceil(H / stride) x ceil(W / stride) cells.
"""

import keras

from cf_tf.model import backbones, fusion, heads
from cf_tf.outputs import NAMES


def build_model(cfg, input_shape=(None, None, 3)):
    """Builds the model from a cf_tf.config.ModelConfig."""
    images = keras.Input(shape=input_shape, name="images", dtype="float32")
    backbone = backbones.get(cfg.backbone)
    x = backbone.preprocess(name="preprocess")(images)
    weights = None if cfg.backbone_weights in ("none", "", None) else cfg.backbone_weights
    features = backbone.features(x, weights, cfg.antialias, cfg.antialias_stem)
    fused = fusion.fuse(features, cfg.fusion_width, cfg.upsampling)
    outputs = dict(heads.pose_head(fused[cfg.geometry.stride("pose")], cfg.head_units, cfg.offset_kernel,
                                   cfg.offset_separable, cfg.offset_expansion))
    outputs.update(heads.seg_head(fused[cfg.geometry.stride("seg")], cfg.head_units))
    return keras.Model(images, {k: outputs[k] for k in NAMES}, name=f"centerfocus_{cfg.backbone}")
