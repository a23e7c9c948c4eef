"""The parser half of the input pipeline: decoded tensors -> model input (+ targets), graph mode.

`parse_train` applies the random affine (cf_tf/data/augment.py) and builds targets;
`parse_inference` applies the deterministic inference resize (longest side -> input_size, top-left
on a square canvas, so every image has one shape and compiled functions never retrace) and, for the
oracle, the same targets without augmentation.
"""

import tensorflow as tf

from cf_tf.data import augment
from cf_tf.data.targets import build_targets


def warp_annotations(decoded, matrix, flipped, size, clip=True):
    """(keypoints [N, 17, 3], soft masks [size, size, N]) of a decoded example under `matrix`;
    keypoints outside the canvas get v = 0 unless `clip` is False."""
    masks = tf.transpose(tf.cast(decoded["masks"], tf.float32), [1, 2, 0])   # [H, W, N]
    # The warp op needs at least one channel; a zero person keeps images with nobody working.
    masks = tf.concat([masks, tf.zeros(tf.concat([tf.shape(masks)[:2], [1]], 0))], axis=-1)
    masks = augment.warp(masks, matrix, size, size)[..., :-1]
    keypoints = augment.transform_keypoints(decoded["keypoints"], matrix, size, size, flipped, clip)
    return keypoints, masks


def parse_train(decoded, seed, cfg):
    """(augmented float32 image [crop, crop, 3] in 0..255, targets dict)."""
    shape = tf.shape(decoded["image"])
    matrix, flipped = augment.random_affine(shape[0], shape[1], cfg.crop_size, cfg, seed)
    image = augment.warp(tf.cast(decoded["image"], tf.float32), matrix, cfg.crop_size, cfg.crop_size)
    whole, masks = warp_annotations(decoded, matrix, flipped, cfg.crop_size, clip=False)
    keypoints = augment.clip_keypoints(whole, cfg.crop_size, cfg.crop_size)
    # the MaskCentroid anchor is the person's own, wherever the crop falls (docs/DESIGN.md)
    targets = build_targets(keypoints, masks, decoded["iscrowd"], cfg.crop_size, cfg.crop_size, cfg,
                            anchor_keypoints=whole)
    targets.pop("instance")
    return image, targets


def parse_inference(decoded, cfg, with_targets=False):
    """Inference input: {"image": float32 [S, S, 3], "scale", "image_id", "height", "width"} (+ targets)."""
    shape = tf.shape(decoded["image"])
    canvas, scale = augment.inference_canvas(decoded["image"][None], cfg.input_size)
    features = {"image": canvas[0], "scale": scale, "image_id": decoded["image_id"],
                "height": shape[0], "width": shape[1]}
    if with_targets:
        matrix = augment.inference_affine(shape[0], shape[1], cfg.input_size)
        keypoints, masks = warp_annotations(decoded, matrix, tf.constant(False), cfg.input_size)
        features["targets"] = build_targets(keypoints, masks, decoded["iscrowd"],
                                            cfg.input_size, cfg.input_size, cfg)
        features["keypoints"] = keypoints
    return features
