"""Every cf_tf command-line flag, defined once, grouped, with units and defaults in the help text.

Entry points import this module and turn flags into the typed configs of cf_tf/config.py; the
library itself never reads flags.
"""

from absl import flags

from cf_tf.config import ANCHOR_RULES, DataConfig

_D = DataConfig()

# --- data
flags.DEFINE_integer("crop_size", _D.crop_size, "Training crop side, input pixels.")
flags.DEFINE_integer("input_size", _D.input_size,
                     "Inference: longest image side is resized to this many pixels, then padded to a square.")
flags.DEFINE_integer("pose_stride", _D.pose_stride, "Output stride of the pose head (8 or 16).")
flags.DEFINE_integer("seg_stride", _D.seg_stride, "Output stride of the segmentation head (4 or 8).")
flags.DEFINE_float("disk_radius", _D.radius, "Keypoint disk radius R, input pixels (paper: 32).")
flags.DEFINE_float("mid_scale", _D.mid_scale, "Unit of the mid-range offsets, input pixels.")
flags.DEFINE_float("mask_scale", _D.mask_scale, "Unit of the MaskCentroid offsets, input pixels.")
flags.DEFINE_float("scale_min", _D.scale_min, "Augmentation: smallest random scale (1 = image fits the crop).")
flags.DEFINE_float("scale_max", _D.scale_max, "Augmentation: largest random scale.")
flags.DEFINE_float("max_rotation", _D.max_rotation, "Augmentation: rotation uniform in +-this, degrees.")
flags.DEFINE_float("flip_prob", _D.flip_prob, "Augmentation: probability of a horizontal flip.")
flags.DEFINE_enum("anchor_rule", _D.anchor_rule, ANCHOR_RULES,
                  "MaskCentroid anchor: right_shoulder (paper Fig. 5, falls back to the mean keypoint, "
                  "then the mask mean), mean_keypoints, or mask_mean (paper Eq. 3).")
flags.DEFINE_integer("seed", 0, "Random seed for data order and augmentation.")

FLAGS = flags.FLAGS


def data_config():
    """DataConfig from the flags; a bad value exits with a message naming the flag."""
    try:
        return DataConfig(
            crop_size=FLAGS.crop_size, input_size=FLAGS.input_size, pose_stride=FLAGS.pose_stride,
            seg_stride=FLAGS.seg_stride, radius=FLAGS.disk_radius, mid_scale=FLAGS.mid_scale,
            mask_scale=FLAGS.mask_scale, scale_min=FLAGS.scale_min, scale_max=FLAGS.scale_max,
            max_rotation=FLAGS.max_rotation, flip_prob=FLAGS.flip_prob, anchor_rule=FLAGS.anchor_rule)
    except ValueError as e:
        raise SystemExit(f"error: bad flag value: {e}") from None
