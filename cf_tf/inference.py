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
from cf_tf import files
from cf_tf.config import CheckpointError
from cf_tf.constants import CHECKPOINTS
from cf_tf.data.augment import inference_canvas
from cf_tf.model.centerfocus import build_model
from cf_tf.postprocess import flip_test
from cf_tf.postprocess.decode import decode_batch

# What both serving signatures say to an empty batch (serve_images also to an empty image).
EMPTY_BATCH = "images must be uint8 [B, H, W, 3] with B, H, W >= 1 (got an empty batch or an empty image)"


class Predictor(tf.Module):
    """Callable on uint8 images [B, H, W, 3] (one size per batch); returns decode_image's dict, batched."""

    def __init__(self, model, data_cfg, decode_cfg):
        super().__init__(name="centerfocus_predictor")
        self.model = model
        self.input_size = data_cfg.input_size
        self.decode_cfg = decode_cfg
        if decode_cfg.flip_test:
            flip_test.check_input_size(self.input_size, decode_cfg.geometry)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8, name="images")])
    def __call__(self, images):
        shape = tf.shape(images)
        check = tf.debugging.assert_greater(tf.reduce_min(shape[:3]), 0, message=EMPTY_BATCH)
        with tf.control_dependencies([check]):   # before the network, whose own error would be cryptic
            images = tf.identity(images)
        canvas, scale = inference_canvas(images, self.input_size)
        if self.decode_cfg.flip_test:
            outputs = flip_test.run(self.model, canvas)
        else:
            outputs = {k: tf.cast(v, tf.float32) for k, v in self.model(canvas, training=False).items()}
        scales = tf.fill([shape[0]], scale)
        return decode_batch(outputs, scales, shape[1], shape[2], self.input_size, self.decode_cfg)


def restore_model(model_dir):
    """(model with the latest checkpoint's weights, ModelConfig, DataConfig) from a training folder.
    Raises FileNotFoundError (no checkpoint) or CheckpointError (corrupt, or another model's)."""
    model_cfg, data_cfg = cf_config.load_run_config(model_dir)
    latest = cf_config.latest_checkpoint(os.path.join(model_dir, CHECKPOINTS))
    if latest is None:
        raise FileNotFoundError(f"{model_dir}/checkpoints holds no checkpoint")
    # the checkpoint holds every weight: no need to fetch pretrained backbone weights again
    model = build_model(dataclasses.replace(model_cfg, backbone_weights="none"))
    try:
        tf.train.Checkpoint(model=model).restore(latest).expect_partial().assert_existing_objects_matched()
    except Exception as e:  # a damaged file fails in many ways (OpError, IndexError, ValueError, ...)
        raise CheckpointError(f"checkpoint {latest} is corrupt or not of the model in {model_dir}/"
                              f"{cf_config.RUN_CONFIG} ({type(e).__name__}: {str(e).strip().splitlines()[0][:200]})"
                              ) from None
    return model, model_cfg, data_cfg


def keep_model(model_dir, output):
    """Writes `output`, a model folder with only what evaluate, export and predict read from a training
    folder: cf_tf_config.json and checkpoints/ holding the latest checkpoint's model weights (no
    optimizer slots, no data position: about a fifth of the size), under the same step number.
    Refuses an output that exists (FileExistsError) or cannot be a folder (OutputPathError); built in
    a hidden folder beside it and renamed into place, so a failure leaves nothing. Returns its
    absolute path."""
    output = files.output_folder(output, "--output")
    if os.path.lexists(output):
        raise FileExistsError(f"{output} exists: choose another --output")
    model, model_cfg, data_cfg = restore_model(model_dir)
    step = int(cf_config.latest_checkpoint(os.path.join(model_dir, CHECKPOINTS)).rsplit("-", 1)[1])
    parent = os.path.dirname(output)
    os.makedirs(parent, exist_ok=True)
    tmp = files.staging_folder(parent, ".keep-")
    try:
        cf_config.save_run_config(tmp, model_cfg, data_cfg)
        tf.train.CheckpointManager(tf.train.Checkpoint(model=model), os.path.join(tmp, CHECKPOINTS),
                                   max_to_keep=1).save(checkpoint_number=step)
        os.rename(tmp, output)   # fails, rather than merges, if another process made `output` meanwhile
    except (OSError, tf.errors.OpError) as e:
        raise files.WriteError(f"could not write the model folder {output}: {files.describe_os_error(e)}") from None
    finally:
        files.remove_tree(tmp)
    return output


def serving_runtime():
    """Runtime settings of the inference commands (predict, evaluate, benchmark's serving rows).

    On a machine with no GPU, Grappler is turned off for this process: its rewrites do not make this
    graph faster on CPU, but they take a large share of every function's first call (docs/RESULTS.md,
    "Serving speed: the first call"). It is process-wide, so training never calls this (its step was not measured
    without Grappler); with a GPU, whose layout rewrites Grappler does, it stays on.
    """
    if not tf.config.list_physical_devices("GPU"):
        tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})


WARM_UP_SIDE = 32   # pixels of the blank image load_saved_model runs once


def load_saved_model(path, warm_up=True):
    """The SavedModel at `path` (cf_tf.export); FileNotFoundError or CheckpointError saying why not.

    warm_up: serving_default runs once on a blank image before this returns, as TF Serving runs its
    warm-up requests at load, so that the first real image is as fast as the rest: a function's first
    call builds its kernels and the network's primitives, which do not depend on the image's size
    (every image becomes the same canvas). It also proves the model runs.
    """
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{path}: SavedModel folder not found")
    if not os.path.isfile(os.path.join(path, "saved_model.pb")):
        raise CheckpointError(f"{path}: not a SavedModel (no saved_model.pb; write one with python -m cf_tf.export)")
    try:
        loaded = tf.saved_model.load(path)
    except Exception as e:  # a damaged SavedModel fails in many ways
        raise CheckpointError(f"{path}: SavedModel cannot be loaded ({type(e).__name__}: "
                              f"{str(e).strip().splitlines()[0][:200]})") from None
    if "serving_default" not in loaded.signatures:
        raise CheckpointError(f"{path}: no serving_default signature (not written by python -m cf_tf.export)")
    if warm_up:
        try:
            loaded.signatures["serving_default"](images=tf.zeros([1, WARM_UP_SIDE, WARM_UP_SIDE, 3], tf.uint8))
        except (tf.errors.OpError, TypeError, ValueError) as e:
            raise CheckpointError(f"{path}: SavedModel cannot run ({type(e).__name__}: "
                                  f"{str(e).strip().splitlines()[0][:200]})") from None
    return loaded
