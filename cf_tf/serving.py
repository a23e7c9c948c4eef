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

import os
import shutil
import tempfile

import tensorflow as tf



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
        first = tf.io.decode_image(image_bytes[0], channels=3, expand_animations=False)

        def decode(b):
            image = tf.io.decode_image(b, channels=3, expand_animations=False)
            tf.debugging.assert_equal(tf.shape(image), tf.shape(first),
                                      message="serve_bytes: all images of one call must have one size")
            return image

        images = tf.map_fn(decode, image_bytes, fn_output_signature=tf.TensorSpec([None, None, 3], tf.uint8))
        return self.predictor(images)


def export(predictor, output, overwrite=False):
    """Writes the SavedModel atomically; refuses to replace `output` unless overwrite."""
    output = os.path.abspath(output)
    if os.path.exists(output) and not overwrite:
        raise FileExistsError(f"{output} exists: pass --overwrite to replace it")
    parent = os.path.dirname(output)
    os.makedirs(parent, exist_ok=True)
    module = ServingModule(predictor)
    tmp = tempfile.mkdtemp(prefix=".export-", dir=parent)
    try:
        tf.saved_model.save(module, tmp, signatures={
            "serving_default": module.serve_images.get_concrete_function(),
            "serve_bytes": module.serve_bytes.get_concrete_function()})
        if os.path.exists(output):
            shutil.rmtree(output)
        os.replace(tmp, output)
    finally:
        if os.path.exists(tmp):
            shutil.rmtree(tmp)
    return output
