"""The network's outputs, one entry each: the table every stage reads.

The heads build their convs from it (cf_tf/model/heads.py), the targets carry its names
(cf_tf/data/targets.py), the losses and their default weights come from it (cf_tf/losses.py), and so
do the oracle's perfect outputs (cf_tf/oracle.py), the TensorBoard images (cf_tf/training.py), the
head report (cf_tf/head_report.py), --perfect_heads, flip testing (cf_tf/postprocess/flip_test.py) and
the tests. Adding an output is one entry here plus its target and its decoding.
"""

import dataclasses
from typing import Callable, Optional

import tensorflow as tf

from cf_tf.constants import NUM_EDGES, NUM_KEYPOINTS, SFM_THRESHOLD


# What a horizontal mirror of the input does to an output's channels (Output.mirror).
MIRRORS = ("same", "keypoints", "edges", "none")


@dataclasses.dataclass(frozen=True)
class Output:
    name: str              # key of the model's output dict, of the targets and of the loss terms
    paper: str             # the paper's name for it
    channels: int
    grid: str              # "pose" (Geometry.pose_stride) or "seg" (Geometry.seg_stride)
    kind: str              # "logit": sigmoid BCE against a [0, 1] target; "offset": L1 of 2-vectors
    unit: Optional[str]    # offsets: the Geometry field holding the pixels of one unit
    weight: Callable       # targets -> the map the loss is averaged over (broadcasts to the output)
    loss_weight: float     # default weight in the total loss (SPEC "Losses")
    report: str            # head report: "auc" (pixel ROC AUC) or "l1" (mean L1 next to predicting 0)
    wide: bool = False     # output conv spans the keypoint disk (ModelConfig.offset_kernel), else 1x1
    soft_target: bool = False   # the oracle's perfect output is the target itself, not a 0/1 logit
    # what a horizontal mirror of the input does to the channels (cf_tf/postprocess/flip_test.py):
    # "same" (unchanged), "keypoints" (per keypoint: left and right swap), "edges" (per directed
    # edge: the mirrored edge's), "none" (no mirror image: the output is not flip-averaged)
    mirror: str = "same"
    # a target map that multiplies `weight` in the loss only, so the head report scores every cell alike
    emphasis: Optional[str] = None

    def __post_init__(self):
        if self.mirror not in MIRRORS:
            raise ValueError(f"{self.name}: mirror must be one of {MIRRORS}, got {self.mirror!r}")

    def loss_weight_map(self, targets):
        """The map the loss is averaged over: `weight`, times `emphasis` where the output has one."""
        w = self.weight(targets)
        return w * targets[self.emphasis] if self.emphasis else w

    @property
    def vectors(self):
        """2-vectors per cell of an offset output."""
        return self.channels // 2


def _maskcentroid_weight(t):
    # on the cells at least half covered: asking the head for its edge cells' owners too (soft SFM
    # weights) made the overfit gate's segm drop (docs/RESULTS.md, "Overfit gate")
    return tf.cast(t["sfm"] >= SFM_THRESHOLD, tf.float32) * t["seg_weight"]


OUTPUTS = (
    Output("skfm", "SKFM", NUM_KEYPOINTS, "pose", "logit", None, lambda t: t["kp_weight"], 4.0, "auc",
           mirror="keypoints"),
    Output("keycentroid", "KeyCentroid", 2 * NUM_KEYPOINTS, "pose", "offset", "radius",
           lambda t: t["skfm"] * t["kp_weight"], 1.0, "l1", wide=True, mirror="keypoints"),
    Output("mid_offsets", "mid-range offsets", 2 * NUM_EDGES, "pose", "offset", "mid_scale",
           lambda t: t["mid_weight"] * t["kp_weight"], 0.4, "l1", wide=True, mirror="edges"),
    Output("bhm", "BHM", 1, "pose", "logit", None, lambda t: t["kp_weight"], 1.0, "l1", soft_target=True),
    Output("sfm", "SFM", 1, "seg", "logit", None, lambda t: t["seg_weight"], 2.0, "auc", soft_target=True),
    # points at the anchor, by default the right shoulder (constants.ANCHOR_KEYPOINT): a left one in the mirror
    Output("maskcentroid", "MaskCentroid", 2, "seg", "offset", "mask_scale", _maskcentroid_weight, 1.0, "l1",
           mirror="none", emphasis="mc_emphasis"),
)
BY_NAME = {o.name: o for o in OUTPUTS}
NAMES = tuple(BY_NAME)
# Maps the targets add to the outputs' own: the losses' weight maps (above) and the seg cells' owner.
WEIGHT_KEYS = ("kp_weight", "mid_weight", "seg_weight", "mc_emphasis")


def of_grid(grid):
    """The outputs on one grid ("pose" or "seg"), in table order."""
    return tuple(o for o in OUTPUTS if o.grid == grid)
