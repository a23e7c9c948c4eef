"""The oracle (SPEC "Evaluation"): ground-truth targets turned into perfect network outputs.

Decoding these with the real decoder and scoring them like a model measures the ceiling of the
representation + decoder alone, with no training.
"""

import tensorflow as tf

_LOGIT = 12.0


def perfect_outputs(targets):
    """Network outputs that a perfect model would give for `targets` (cf_tf/data/targets.py)."""
    def logits(t):
        return tf.where(t >= 0.5, _LOGIT, -_LOGIT)

    bhm = tf.clip_by_value(targets["bhm"], 1e-4, 1.0 - 1e-4)
    return {
        "skfm": logits(targets["skfm"]),
        "keycentroid": targets["keycentroid"],
        "mid_offsets": targets["mid_offsets"],
        "bhm": tf.math.log(bhm / (1.0 - bhm)),
        "sfm": logits(targets["sfm"]),
        "maskcentroid": targets["maskcentroid"],
    }
