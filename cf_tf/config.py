"""Typed settings passed to the library. cf_tf/flags.py fills them from command-line flags.

The library never reads flags itself, so tests and notebooks build these directly.
Every length is in input pixels unless the name says otherwise.
"""

import dataclasses

from cf_tf.keypoints import DISK_RADIUS, POSE_STRIDES, SEG_STRIDES


@dataclasses.dataclass(frozen=True)
class DataConfig:
    crop_size: int = 401          # training crop side
    input_size: int = 641         # inference: longest side resized to this, padded to a square
    pose_stride: int = 8          # output stride of SKFM / KeyCentroid / mid-range / BHM
    seg_stride: int = 4           # output stride of SFM / MaskCentroid
    radius: float = DISK_RADIUS   # keypoint disk radius R
    mid_scale: float = 64.0       # unit of the mid-range offsets
    mask_scale: float = 64.0      # unit of the MaskCentroid offsets
    scale_min: float = 0.7        # random scale range (relative to fitting the image in the crop)
    scale_max: float = 1.3
    max_rotation: float = 30.0    # degrees, uniform in [-max, max]
    flip_prob: float = 0.5
    anchor_rule: str = "right_shoulder"  # MaskCentroid anchor: right_shoulder | mean_keypoints | mask_mean

    def __post_init__(self):
        if self.pose_stride not in POSE_STRIDES:
            raise ValueError(f"pose_stride must be one of {POSE_STRIDES}, got {self.pose_stride}")
        if self.seg_stride not in SEG_STRIDES:
            raise ValueError(f"seg_stride must be one of {SEG_STRIDES}, got {self.seg_stride}")
        if self.crop_size < 32 or self.input_size < 32:
            raise ValueError(f"crop_size and input_size must be >= 32 (got {self.crop_size}, {self.input_size})")
        if not 0 < self.scale_min <= self.scale_max:
            raise ValueError(f"need 0 < scale_min <= scale_max (got {self.scale_min}, {self.scale_max})")
        if not 0.0 <= self.flip_prob <= 1.0:
            raise ValueError(f"flip_prob must be in [0, 1], got {self.flip_prob}")
        if self.anchor_rule not in ANCHOR_RULES:
            raise ValueError(f"anchor_rule must be one of {ANCHOR_RULES}, got {self.anchor_rule!r}")
        if self.radius <= 0 or self.mid_scale <= 0 or self.mask_scale <= 0:
            raise ValueError("radius, mid_scale and mask_scale must be > 0")


ANCHOR_RULES = ("right_shoulder", "mean_keypoints", "mask_mean")
