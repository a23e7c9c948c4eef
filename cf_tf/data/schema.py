"""The TFRecord schema: one tf.train.Example per image (encode in Python, decode in graph mode).

Feature                  Type            Meaning
image/encoded            bytes           the image file's bytes as found (JPEG or PNG, never re-encoded)
image/height, /width     int64           image size in pixels
image/id                 int64           COCO image id
person/keypoints         float [N*51]    17 x (x, y, v) per person, COCO pixel coordinates
person/iscrowd           int64 [N]       1 for crowd regions
person/area              float [N]       mask area in pixels (recomputed from the mask: OCHuman's
                                         `area` is the box area)
person/mask_png          bytes [N]       each person's full-image {0,1} mask as a 1-channel PNG

This module is the decoder half of the Model Garden decoder/parser split: `decode` turns serialized
bytes into tensors; cf_tf/data/parser.py turns those into training examples with targets.
"""

import cv2
import numpy as np
import tensorflow as tf

from cf_tf.constants import NUM_KEYPOINTS

FEATURES = {
    "image/encoded": tf.io.FixedLenFeature([], tf.string),
    "image/height": tf.io.FixedLenFeature([], tf.int64),
    "image/width": tf.io.FixedLenFeature([], tf.int64),
    "image/id": tf.io.FixedLenFeature([], tf.int64),
    "person/keypoints": tf.io.VarLenFeature(tf.float32),
    "person/iscrowd": tf.io.VarLenFeature(tf.int64),
    "person/area": tf.io.VarLenFeature(tf.float32),
    "person/mask_png": tf.io.VarLenFeature(tf.string),
}


def _bytes(values):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))


def _ints(values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=values))


def _floats(values):
    return tf.train.Feature(float_list=tf.train.FloatList(value=values))


def encode_mask_png(mask):
    ok, buf = cv2.imencode(".png", mask.astype(np.uint8))
    if not ok:
        raise ValueError("could not PNG-encode a mask")
    return buf.tobytes()


def encode_example(image_bytes, height, width, image_id, keypoints, iscrowd, masks):
    """Serialized tf.train.Example for one image.

    keypoints: float [N, 17, 3]; iscrowd: int [N]; masks: uint8 [N, H, W] of {0, 1}.
    """
    keypoints = np.asarray(keypoints, np.float32).reshape(-1, NUM_KEYPOINTS, 3)
    features = {
        "image/encoded": _bytes([image_bytes]),
        "image/height": _ints([height]),
        "image/width": _ints([width]),
        "image/id": _ints([image_id]),
        "person/keypoints": _floats(keypoints.reshape(-1).tolist()),
        "person/iscrowd": _ints([int(c) for c in iscrowd]),
        "person/area": _floats([float(m.sum()) for m in masks]),
        "person/mask_png": _bytes([encode_mask_png(m) for m in masks]),
    }
    return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString()


NON_FINITE = "non-finite keypoints in the record of image id"


def parse_example(serialized):
    """Serialized Example -> dict of tensors (graph mode).

    image uint8 [H, W, 3]; image_id int64 []; keypoints float32 [N, 17, 3]; iscrowd int32 [N];
    area float32 [N]; masks uint8 [N, H, W] of {0, 1}.
    """
    f = tf.io.parse_single_example(serialized, FEATURES)
    height = tf.cast(f["image/height"], tf.int32)
    width = tf.cast(f["image/width"], tf.int32)
    image = tf.io.decode_image(f["image/encoded"], channels=3, expand_animations=False)
    image = tf.ensure_shape(image, [None, None, 3])
    pngs = tf.sparse.to_dense(f["person/mask_png"], default_value="")
    masks = tf.cond(  # map_fn cannot stack zero masks of unknown shape: images with nobody
        tf.size(pngs) > 0,
        lambda: tf.map_fn(lambda s: tf.io.decode_png(s, channels=1)[..., 0], pngs,
                          fn_output_signature=tf.TensorSpec([None, None], tf.uint8)),
        lambda: tf.zeros([0, height, width], tf.uint8))
    masks = tf.reshape(masks, [-1, height, width])
    keypoints = tf.reshape(tf.sparse.to_dense(f["person/keypoints"]), [-1, NUM_KEYPOINTS, 3])
    # records written before the converter checked annotations can hold NaN keypoints: say so here, not
    # as a NaN loss many steps later
    finite = tf.debugging.Assert(tf.reduce_all(tf.math.is_finite(keypoints)), [NON_FINITE, f["image/id"]])
    with tf.control_dependencies([finite]):
        keypoints = tf.identity(keypoints)
    return {
        "image": image,
        "image_id": f["image/id"],
        "keypoints": keypoints,
        "iscrowd": tf.cast(tf.sparse.to_dense(f["person/iscrowd"]), tf.int32),
        "area": tf.sparse.to_dense(f["person/area"]),
        "masks": masks,
    }
