"""The exported SavedModel: preprocessing, network, the whole decoder (python -m cf_tf.export).

Signatures (SPEC "Command line"):
  serving_default(images: uint8 [B, H, W, 3], any H, W)
  serve_bytes(image_bytes: string [B])   JPEG or PNG; the images of one call must share a size
both returning keypoints float32 [B, N, 17, 3] (x, y, score in input-image pixels), scores float32
[B, N], mask_scores float32 [B, N] (score times maskness: the score of a mask), masks uint8
[B, N, h, w], boxes float32 [B, N, 4] (x0, y0, x1, y1), num_people int32 [B].
Masks are at the image's size (h, w = H, W) when its longest side fits the canvas (--input_size), else
at the canvas's (h, w = H, W times input_size / max(H, W), rounded), so their memory is bounded
whatever the input: resize them to H x W with nearest-neighbour sampling of pixel centres
(cf_tf.coco.full_size_mask; cv2.INTER_NEAREST_EXACT).
Loading needs TensorFlow only: tf.saved_model.load(D).signatures["serving_default"](images=...).
The SavedModel is written to a temporary folder and renamed into place when complete.
"""

import dataclasses
import os
import tempfile

import tensorflow as tf

from cf_tf import files
from cf_tf.inference import EMPTY_BATCH


class ServingModule(tf.Module):
    """The exported object: a Predictor plus the two serving signatures."""

    def __init__(self, predictor):
        super().__init__(name="centerfocus_serving")
        self.predictor = predictor

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8, name="images")])
    def serve_images(self, images):
        return self.predictor(images)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")])
    def serve_bytes(self, image_bytes):
        check = tf.debugging.assert_positive(tf.size(image_bytes), message=EMPTY_BATCH)
        with tf.control_dependencies([check]):   # before image_bytes[0], whose own error is a slicing one
            image_bytes = tf.identity(image_bytes)
        first = tf.io.decode_image(image_bytes[0], channels=3, expand_animations=False)

        def decode(b):
            image = tf.io.decode_image(b, channels=3, expand_animations=False)
            tf.debugging.assert_equal(tf.shape(image), tf.shape(first),
                                      message="serve_bytes: all images of one call must have one size")
            return image

        images = tf.map_fn(decode, image_bytes, fn_output_signature=tf.TensorSpec([None, None, 3], tf.uint8))
        return self.predictor(images)


def check_output(output, overwrite=False):
    """The absolute `output` path if export may write it (see export), else OutputPathError or
    FileExistsError: called before any work, and again under the lock."""
    output = files.output_folder(output, "--output")
    if os.path.lexists(output):
        if not overwrite:
            raise FileExistsError(f"{output} exists: pass --overwrite to replace it")
        files.replaceable_export(output)
    return output


def export(predictor, output, overwrite=False, source=None):
    """Writes the SavedModel atomically and returns its absolute path.

    Refuses (cf_tf/files.py) an `output` that is a file or cannot be written, one that exists unless
    `overwrite`, and with `overwrite` anything but a SavedModel that export wrote, outside every
    training folder. The SavedModel is built in a hidden folder beside `output` and renamed into place
    only when complete, under a lock on `output`, so a failed or concurrent export leaves nothing
    half-written and never replaces another's. `source` (the training folder) and the decoder's
    settings are recorded in files.EXPORT_MARKER.
    """
    output = check_output(output, overwrite)
    parent = os.path.dirname(output)
    os.makedirs(parent, exist_ok=True)
    with files.path_lock(output, "export"):
        check_output(output, overwrite)
        module = ServingModule(predictor)
        tmp = files.staging_folder(parent, ".export-")
        old = None
        try:
            tf.saved_model.save(module, tmp, signatures={
                "serving_default": module.serve_images.get_concrete_function(),
                "serve_bytes": module.serve_bytes.get_concrete_function()})
            files.write_json(os.path.join(tmp, files.EXPORT_MARKER),
                             {"model_dir": os.path.abspath(source) if source else None,
                              "decoding": dataclasses.asdict(predictor.decode_cfg)})
            if os.path.lexists(output):   # moved aside first: a failed rename keeps the old SavedModel
                old = tempfile.mkdtemp(prefix=".export-old-", dir=parent)
                os.replace(output, os.path.join(old, "saved_model"))
            os.replace(tmp, output)
        except (OSError, tf.errors.OpError) as e:
            if old and not os.path.lexists(output):
                os.replace(os.path.join(old, "saved_model"), output)
            raise files.WriteError(f"could not write the SavedModel {output}: {files.describe_os_error(e)}") from None
        finally:
            files.remove_tree(tmp)
            if old:
                files.remove_tree(old)
    return output
