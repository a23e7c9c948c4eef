"""One affine transform for image, masks and keypoints (graph mode); flip with left/right swap.

Matrices are 3x3, float32, and map *source* continuous pixel coordinates (COCO convention, pixel
centres at +0.5, see cf_tf/constants.py) to *output* continuous coordinates. The warp op works in
pixel indices and wants the inverse map, so `warp` converts once, here.
"""

import math

import tensorflow as tf

from cf_tf.constants import FLIP_PERM


def _translate(tx, ty):
    return tf.stack([[1.0, 0.0, tx], [0.0, 1.0, ty], [0.0, 0.0, 1.0]])


def _scale(sx, sy):
    return tf.stack([[sx, 0.0, 0.0], [0.0, sy, 0.0], [0.0, 0.0, 1.0]])


def inference_affine(height, width, input_size):
    """Resize so the longest side is `input_size`, image at the top-left of the square canvas."""
    s = tf.cast(input_size, tf.float32) / tf.cast(tf.maximum(height, width), tf.float32)
    return _scale(s, s)


def inference_canvas(images, input_size):
    """Batch [B, H, W, 3] (one size) -> (float32 [B, S, S, 3] canvas, scale): longest side resized to
    S = input_size, image at the top-left, zeros elsewhere. The one inference resize of cf_tf."""
    shape = tf.shape(images)
    matrix = inference_affine(shape[1], shape[2], input_size)
    t = _index_transform(matrix)
    canvas = tf.raw_ops.ImageProjectiveTransformV3(
        images=tf.cast(images, tf.float32), transforms=t, output_shape=tf.stack([input_size, input_size]),
        fill_value=0.0, interpolation="BILINEAR", fill_mode="CONSTANT")
    return canvas, matrix[0, 0]


def random_affine(height, width, crop_size, cfg, seed):
    """(matrix, flipped) for a random scale / rotation / flip / crop; `seed` is a [2] int tensor.

    The base scale is the inference scale (longest side -> cfg.input_size), so people have the same
    size in training crops as at test time; the random scale multiplies it. The crop centre is drawn
    so that the crop stays over the image when the scaled image is larger than the crop, then
    shifted by up to cfg.max_shift of the crop side: with scale 1, no rotation, no flip and
    max_shift 0 every draw gives the same view of an image, centred (the overfit gate's setting).
    """
    seeds = tf.random.experimental.stateless_split(seed, 5)
    h, w = tf.cast(height, tf.float32), tf.cast(width, tf.float32)
    crop = tf.cast(crop_size, tf.float32)
    base = tf.cast(cfg.input_size, tf.float32) / tf.maximum(h, w)
    s = base * tf.random.stateless_uniform([], seeds[0], cfg.scale_min, cfg.scale_max)
    angle = tf.random.stateless_uniform([], seeds[1], -1.0, 1.0) * cfg.max_rotation * math.pi / 180.0
    flipped = tf.random.stateless_uniform([], seeds[2]) < cfg.flip_prob
    slack = tf.maximum(0.0, tf.stack([w, h]) * s - crop) / (2.0 * s) + cfg.max_shift * crop / s
    centre = tf.stack([w, h]) / 2.0 + tf.random.stateless_uniform([2], seeds[3], -1.0, 1.0) * slack
    c, si = tf.cos(angle), tf.sin(angle)
    rot = tf.stack([[c, -si, 0.0], [si, c, 0.0], [0.0, 0.0, 1.0]])
    flip = tf.where(flipped, tf.stack([[-1.0, 0.0, w], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]), tf.eye(3))
    matrix = (_translate(crop / 2.0, crop / 2.0) @ rot @ _scale(s, s)
              @ _translate(-centre[0], -centre[1]) @ flip)
    return matrix, flipped


def _index_transform(matrix):
    """The warp op's [1, 8] transform (output index -> source index) for a continuous-coordinate matrix."""
    inv = tf.linalg.inv(matrix)
    # index form: i_src = inv @ (i_out + 0.5) - 0.5
    t = _translate(-0.5, -0.5) @ inv @ _translate(0.5, 0.5)
    return tf.reshape(t / t[2, 2], [9])[:8][None]


def warp(images, matrix, out_height, out_width, interpolation="BILINEAR"):
    """Warps a [H, W, C] float image with `matrix` onto an [out_height, out_width, C] canvas (zeros)."""
    out = tf.raw_ops.ImageProjectiveTransformV3(
        images=images[None], transforms=_index_transform(matrix), output_shape=tf.stack([out_height, out_width]),
        fill_value=0.0, interpolation=interpolation, fill_mode="CONSTANT")
    return out[0]


def clip_keypoints(keypoints, out_height, out_width):
    """[N, 17, 3] keypoints with v = 0 where they lie outside an out_height x out_width canvas."""
    xy, v = keypoints[..., :2], keypoints[..., 2]
    inside = ((xy[..., 0] >= 0) & (xy[..., 1] >= 0)
              & (xy[..., 0] < tf.cast(out_width, tf.float32))
              & (xy[..., 1] < tf.cast(out_height, tf.float32)))
    return tf.concat([xy, tf.where(inside, v, tf.zeros_like(v))[..., None]], axis=-1)


def transform_keypoints(keypoints, matrix, out_height, out_width, flipped, clip=True):
    """Applies `matrix` to [N, 17, 3] keypoints; swaps left/right ids when flipped; v = 0 outside
    the canvas unless `clip` is False."""
    xy1 = tf.concat([keypoints[..., :2], tf.ones_like(keypoints[..., :1])], axis=-1)
    xy = tf.einsum("ij,nkj->nki", matrix, xy1)[..., :2]
    out = tf.concat([xy, keypoints[..., 2:3]], axis=-1)
    out = tf.cond(flipped, lambda: tf.gather(out, FLIP_PERM, axis=1), lambda: out)
    return clip_keypoints(out, out_height, out_width) if clip else out
