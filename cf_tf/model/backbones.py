"""Backbones returning the C2..C5 feature maps (strides 4, 8, 16, 32), by name from a registry.

resnet50 / resnet101 / resnet152 come from keras.applications (the paper uses ResNet); resnet_tiny
is a small network of the same bottleneck units for CPU tests and the demo, and resnet_small the same
with wider stages at strides 16 and 32 (256 and 512 channels for 192 and 256) of one unit more each:
2.6 times the parameters for about 10 % more time a training step (docs/RESULTS.md, "Capacity at the
demo's training time"). Adding a backbone is one function registered with `register_backbone`:
(preprocessed image, weights, antialias, antialias_stem) -> [C2, C3, C4, C5].
"""

import dataclasses
import functools
import os
from typing import Callable

import keras
from keras import layers

from cf_tf.model.blocks import BlurPool, CaffePreprocess, batch_norm, bottleneck


@dataclasses.dataclass(frozen=True)
class Backbone:
    features: Callable        # (preprocessed image, weights: None | "imagenet" | path, antialias, antialias_stem)
                              # -> [C2, C3, C4, C5]
    preprocess: Callable      # () -> the layer turning RGB 0..255 into what `features` expects


_REGISTRY = {}


def register_backbone(name, preprocess=CaffePreprocess):
    """Decorator: registers `features` under `name` (the --backbone value)."""
    def register(features):
        _REGISTRY[name] = Backbone(features, preprocess)
        return features
    return register


def names():
    """The registered backbone names (--backbone choices)."""
    return tuple(_REGISTRY)


def get(name):
    if name not in _REGISTRY:
        raise BackboneError(f"unknown backbone {name!r}; choose one of {', '.join(names())}")
    return _REGISTRY[name]

# resnet_tiny and resnet_small: (bottleneck filters, units) per stage C2..C5.
_TINY_STAGES = ((16, 1), (32, 2), (48, 2), (64, 1))
_SMALL_STAGES = ((16, 1), (32, 2), (64, 3), (128, 2))


class BackboneError(ValueError):
    """Unknown backbone, or weights that cannot be found or fetched."""


def _stage_outputs(model):
    """The last `convK_blockN_out` layer of each stage K = 2..5 of a keras.applications ResNet."""
    last = {}
    for layer in model.layers:
        if layer.name.endswith("_out") and layer.name.startswith("conv"):
            last[layer.name.split("_")[0]] = layer.output
    return [last[f"conv{k}"] for k in (2, 3, 4, 5)]


def _keras_resnet(name, application, image, weights, antialias=False, antialias_stem=False):
    if antialias or antialias_stem:
        raise BackboneError(f"{name} is keras.applications' network, as published: --antialias and "
                            f"--antialias_stem are resnet_tiny's and resnet_small's")
    if weights == "imagenet":
        try:
            base = application(include_top=False, weights="imagenet", input_tensor=image)
        except Exception as e:  # keras raises a bare Exception on a failed download
            raise BackboneError(
                f"could not load ImageNet weights for {name} ({type(e).__name__}: {e}). They are "
                f"downloaded once into ~/.keras/models/ ({name}_weights_tf_dim_ordering_tf_kernels_notop.h5): "
                f"run once with internet access, or copy that file there, or pass "
                f"--backbone_weights=PATH to a weights file, or --backbone_weights=none to train from scratch"
            ) from None
    else:
        if weights is not None and not os.path.isfile(weights):
            raise BackboneError(f"--backbone_weights={weights}: file not found")
        base = application(include_top=False, weights=weights, input_tensor=image)
    return _stage_outputs(base)


for _name, _application in (("resnet50", keras.applications.ResNet50), ("resnet101", keras.applications.ResNet101),
                            ("resnet152", keras.applications.ResNet152)):
    register_backbone(_name)(functools.partial(_keras_resnet, _name, _application))


def _tiny(image, weights, antialias=False, antialias_stem=False, stages=_TINY_STAGES):
    """resnet_tiny (or, with _SMALL_STAGES, resnet_small). With `antialias_stem` the stem's max-pool
    takes the max at stride 1 and BlurPool subsamples it (MaxBlurPool, Zhang 2019): a 3x3 max at
    stride 2 keeps or drops a fine detail by which of its windows it falls in, so a one-pixel shift
    changed every stride-4 feature built on it (docs/RESULTS.md, "Learning under augmentation"). The
    7x7 stem convolution stays strided: its learned kernel spans 7 pixels, and at stride 1 it would
    cost 4 times as much."""
    if weights is not None:
        raise BackboneError("resnet_tiny and resnet_small have no pretrained weights: use --backbone_weights=none")
    x = layers.ZeroPadding2D(3, name="tiny_stem_pad")(image)
    x = layers.Conv2D(32, 7, strides=2, use_bias=False, name="tiny_stem_conv")(x)
    x = batch_norm("tiny_stem_bn")(x)
    x = layers.ReLU(name="tiny_stem_relu")(x)
    x = layers.ZeroPadding2D(1, name="tiny_pool_pad")(x)
    if antialias_stem:
        x = BlurPool(name="tiny_pool_blur")(layers.MaxPooling2D(3, strides=1, name="tiny_pool")(x))
    else:
        x = layers.MaxPooling2D(3, strides=2, name="tiny_pool")(x)
    features = []
    for stage, (filters, units) in enumerate(stages, start=2):
        for u in range(units):
            stride = 2 if (u == 0 and stage > 2) else 1
            x = bottleneck(x, filters, stride, name=f"tiny_c{stage}_u{u}", antialias=antialias)
        features.append(x)
    return features


register_backbone("resnet_tiny")(_tiny)
register_backbone("resnet_small")(functools.partial(_tiny, stages=_SMALL_STAGES))
