"""The one inference path: uint8 images -> canvas -> network -> decoder -> people in image pixels.

Used by evaluate, predict, export (the SavedModel serves exactly `Predictor`) and benchmark, so the
numbers they report come from the same graph. Every image becomes a square input_size canvas, so
images of any size run through one compiled function without retracing (only the final mask
resampling depends on the original size).
"""

import dataclasses
import os

import tensorflow as tf

from cf_tf import config as cf_config
from cf_tf.data.augment import inference_canvas
from cf_tf.model.centerfocus import build_model
from cf_tf.postprocess.decode import decode_batch


class Predictor(tf.Module):
    """Callable on uint8 images [B, H, W, 3] (one size per batch); returns decode_image's dict, batched."""

    def __init__(self, model, data_cfg, decode_cfg):
        super().__init__(name="centerfocus_predictor")
        self.model = model
        self.input_size = data_cfg.input_size
        self.decode_cfg = decode_cfg

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8, name="images")])
    def __call__(self, images):
        shape = tf.shape(images)
        canvas, scale = inference_canvas(images, self.input_size)
        outputs = self.model(canvas, training=False)
        outputs = {k: tf.cast(v, tf.float32) for k, v in outputs.items()}
        scales = tf.fill([shape[0]], scale)
        return decode_batch(outputs, scales, shape[1], shape[2], self.input_size, self.decode_cfg)


def restore_model(model_dir):
    """(model with the latest checkpoint's weights, ModelConfig, DataConfig) from a training folder."""
    model_cfg, data_cfg = cf_config.load_run_config(model_dir)
    latest = tf.train.latest_checkpoint(os.path.join(model_dir, "checkpoints"))
    if latest is None:
        raise FileNotFoundError(f"{model_dir}/checkpoints holds no checkpoint")
    # the checkpoint holds every weight: no need to fetch pretrained backbone weights again
    model = build_model(dataclasses.replace(model_cfg, backbone_weights="none"))
    tf.train.Checkpoint(model=model).restore(latest).expect_partial()
    return model, model_cfg, data_cfg
