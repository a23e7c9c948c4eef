"""The oracle (SPEC "Evaluation"): ground-truth targets turned into perfect network outputs.

Decoding these with the real decoder and scoring them like a model measures the ceiling of the
representation + decoder alone, with no training.
"""

import tensorflow as tf

from cf_tf.outputs import OUTPUTS
from cf_tf.postprocess import maskcentroid

_LOGIT = 12.0
_EPS = 1e-4


def perfect_outputs(targets):
    """Network outputs that a perfect model would give for `targets` (cf_tf/data/targets.py)."""
    def logits(t):
        return tf.where(t >= 0.5, _LOGIT, -_LOGIT)

    def soft_logits(t):   # the probability a perfect model gives is the target itself
        t = tf.clip_by_value(t, _EPS, 1.0 - _EPS)
        return tf.math.log(t / (1.0 - t))

    def perfect(out):
        t = targets[out.name]
        if out.kind == "offset":
            return t
        return soft_logits(t) if out.soft_target else logits(t)

    return {o.name: perfect(o) for o in OUTPUTS}


def ground_truth_people(features, decode_cfg):
    """The ground-truth people of parse_inference(..., with_targets=True) `features`, as the decoder
    returns people: each seg cell goes to its true owner (perfect assignment), and each person's
    soft map is resampled by the decoder's own resampler. Its segm AP is the ceiling set by the seg
    grid and the resampling; keypoints are the labelled ground truth with score 1, masks scored by
    their maskness as the decoder scores them.
    """
    targets, kps, scale = features["targets"], features["keypoints"], features["scale"]
    n = tf.shape(kps)[0]
    height, width, per_pixel = maskcentroid.mask_size(scale, features["height"], features["width"])
    # one spare instance keeps the resampler's per-instance maps non-empty on images with nobody
    masks, maskness, boxes = maskcentroid.instance_masks(targets["instance"], targets["sfm"][..., 0], n + 1,
                                                         scale / per_pixel, height, width, decode_cfg)
    labelled = kps[..., 2:] > 0
    keypoints = tf.where(labelled, tf.concat([kps[..., :2] / scale, tf.ones_like(kps[..., 2:])], -1), 0.0)
    return {"keypoints": keypoints, "scores": tf.ones([n]), "mask_scores": maskness[:n], "masks": masks[:n],
            "boxes": boxes[:n] / per_pixel, "num_people": n}
