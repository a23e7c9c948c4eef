"""Typed settings passed to the library. cf_tf/flags.py fills them from command-line flags.

The library never reads flags itself, so tests and notebooks build these directly.
Every length is in input pixels unless the name says otherwise.
"""

import dataclasses
import json
import os

import tensorflow as tf

from cf_tf.constants import (DISK_RADIUS, MASK_SCALE, MID_SCALE, POSE_STRIDES, RUN_CONFIG, SEG_STRIDES, SFM_THRESHOLD,
                             UPSAMPLING)
from cf_tf.files import write_json

ANCHOR_RULES = ("right_shoulder", "mean_keypoints", "mask_mean")


@dataclasses.dataclass(frozen=True)
class Geometry:
    """What the outputs mean, shared by the targets, the network and the decoder (one object, so they
    cannot disagree): the grids of the two heads, the disk radius R, the units of the offsets
    (cf_tf/outputs.py `unit`) and the MaskCentroid anchor rule."""
    pose_stride: int = 8          # output stride of SKFM / KeyCentroid / mid-range / BHM
    seg_stride: int = 4           # output stride of SFM / MaskCentroid
    radius: float = DISK_RADIUS   # keypoint disk radius R
    mid_scale: float = MID_SCALE  # unit of the mid-range offsets
    mask_scale: float = MASK_SCALE  # unit of the MaskCentroid offsets
    anchor_rule: str = "right_shoulder"  # MaskCentroid anchor: right_shoulder | mean_keypoints | mask_mean

    def __post_init__(self):
        if self.pose_stride not in POSE_STRIDES:
            raise ValueError(f"pose_stride must be one of {POSE_STRIDES}, got {self.pose_stride}")
        if self.seg_stride not in SEG_STRIDES:
            raise ValueError(f"seg_stride must be one of {SEG_STRIDES}, got {self.seg_stride}")
        if self.anchor_rule not in ANCHOR_RULES:
            raise ValueError(f"anchor_rule must be one of {ANCHOR_RULES}, got {self.anchor_rule!r}")
        if self.radius <= 0 or self.mid_scale <= 0 or self.mask_scale <= 0:
            raise ValueError("radius, mid_scale and mask_scale must be > 0")

    def stride(self, grid):
        """Input pixels per cell of the "pose" or "seg" grid (cf_tf/outputs.py `grid`)."""
        return self.pose_stride if grid == "pose" else self.seg_stride


@dataclasses.dataclass(frozen=True)
class DataConfig:
    crop_size: int = 401          # training crop side
    input_size: int = 641         # inference: longest side resized to this, padded to a square
    geometry: Geometry = Geometry()
    scale_min: float = 0.7        # random scale range (relative to fitting the image in the crop)
    scale_max: float = 1.3
    max_rotation: float = 30.0    # degrees, uniform in [-max, max]
    flip_prob: float = 0.5
    max_shift: float = 0.1        # random crop shift, fraction of the crop side (0 with scale 1: no augmentation)
    # extra weight of MaskCentroid's loss on its border cells (constants.BORDER_CELLS), added to 1;
    # 0: every cell alike, as the paper (not in the paper: docs/RESULTS.md, "MaskCentroid's border cells")
    maskcentroid_border: float = 0.0

    def __post_init__(self):
        if self.crop_size < 32 or self.input_size < 32:
            raise ValueError(f"crop_size and input_size must be >= 32 (got {self.crop_size}, {self.input_size})")
        if not 0 < self.scale_min <= self.scale_max:
            raise ValueError(f"need 0 < scale_min <= scale_max (got {self.scale_min}, {self.scale_max})")
        if not 0.0 <= self.flip_prob <= 1.0:
            raise ValueError(f"flip_prob must be in [0, 1], got {self.flip_prob}")
        if not 0.0 <= self.max_shift <= 1.0:
            raise ValueError(f"max_shift must be in [0, 1], got {self.max_shift}")
        if not self.maskcentroid_border >= 0.0:
            raise ValueError(f"maskcentroid_border must be >= 0, got {self.maskcentroid_border}")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    backbone: str = "resnet101"
    backbone_weights: str = "none"   # imagenet | none | PATH to a weights file
    geometry: Geometry = Geometry()   # the heads' strides
    fusion_width: int = 256           # channels of the fused P2..P5 maps and of the head units
    head_units: int = 2               # residual bottleneck units per head
    offset_kernel: int = 9            # KeyCentroid / mid-range output conv side, pose cells (9 spans R = 32 at stride 8)
    offset_separable: bool = False    # ... as a depthwise (2 per channel) then a 1x1 conv (heads.py)
    offset_expansion: int = 0         # ... separable after a 1x1 to this many maps per output channel (0: none)
    upsampling: str = "linear"        # fusion's top-down x2: linear | nearest (training folders from before: nearest)
    antialias: bool = False           # resnet_tiny's strided units low-pass first (blocks.bottleneck)
    antialias_stem: bool = False      # resnet_tiny's stem max-pool too (backbones; folders from before: off)

    def __post_init__(self):
        if self.upsampling not in UPSAMPLING:
            raise ValueError(f"upsampling must be one of {UPSAMPLING}, got {self.upsampling!r}")
        if self.offset_kernel < 1 or self.offset_kernel % 2 == 0:
            raise ValueError(f"offset_kernel must be an odd number >= 1, got {self.offset_kernel}")
        if self.offset_expansion < 0 or (self.offset_expansion and not self.offset_separable):
            raise ValueError(f"offset_expansion must be >= 0, and needs offset_separable "
                             f"(got {self.offset_expansion}, offset_separable={self.offset_separable})")
        if self.fusion_width < 8 or self.fusion_width % 4 or self.head_units < 0:
            raise ValueError(f"fusion_width must be a multiple of 4 >= 8 and head_units >= 0 "
                             f"(got {self.fusion_width}, {self.head_units})")


# The demo's small network (experiments/tiny.flags sets the same; a test checks they agree), which the
# benchmark times as resnet_tiny.
DEMO_MODEL = ModelConfig(backbone="resnet_tiny", fusion_width=64, head_units=1, antialias=True,
                         antialias_stem=True, offset_separable=True, offset_expansion=2)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    train_steps: int = 1000
    batch_size: int = 4              # global, split over replicas
    learning_rate: float = 1e-5
    lr_schedule: str = "constant"    # constant | cosine
    warmup_steps: int = 0
    mixed_precision: bool = False
    jit_compile: bool = False
    checkpoint_every: int = 500
    keep_checkpoints: int = 3
    summary_every: int = 50
    image_summary_every: int = 500
    shuffle_buffer: int = 256
    seed: int = 0
    init_from: str = ""           # a model folder whose weights a new run starts from ("": initialisers)
    train_minutes: float = 0.0    # > 0: end where this many minutes of the loop run out, at most train_steps

    def __post_init__(self):
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        if self.train_steps < 1 or self.batch_size < 1:
            raise ValueError(f"train_steps and batch_size must be >= 1 (got {self.train_steps}, {self.batch_size})")
        if self.lr_schedule not in ("constant", "cosine"):
            raise ValueError(f"lr_schedule must be constant or cosine, got {self.lr_schedule!r}")
        if not self.train_minutes >= 0:
            raise ValueError(f"train_minutes must be >= 0 (0: train_steps alone), got {self.train_minutes}")
        if min(self.warmup_steps, self.checkpoint_every - 1, self.keep_checkpoints - 1,
               self.summary_every - 1, self.image_summary_every - 1, self.shuffle_buffer - 1) < 0:
            raise ValueError("warmup_steps must be >= 0; checkpoint/summary intervals, "
                             "keep_checkpoints and shuffle_buffer must be >= 1")


CHECKPOINT_INDEX = "checkpoint"   # TensorFlow's index of a checkpoints folder


class CheckpointError(ValueError):
    """A training folder's checkpoint or config, or a SavedModel, cannot be used; the message says why."""


def save_run_config(model_dir, model_cfg, data_cfg, stream=None):
    """Writes model_dir/cf_tf_config.json (atomically) so evaluate/export rebuild the same network:
    its geometry once, then the model's and the data's own settings, and the training stream's
    (`stream`: what the saved data position depends on, see saved_stream)."""
    if model_cfg.geometry != data_cfg.geometry:
        raise ValueError(f"the model and the data must share one geometry ({model_cfg.geometry} vs {data_cfg.geometry})")
    os.makedirs(model_dir, exist_ok=True)
    path = os.path.join(model_dir, RUN_CONFIG)

    def own(cfg):
        return {k: v for k, v in dataclasses.asdict(cfg).items() if k != "geometry"}

    saved = {"geometry": dataclasses.asdict(data_cfg.geometry), "model": own(model_cfg), "data": own(data_cfg)}
    write_json(path, {**saved, "stream": stream} if stream is not None else saved, indent=1)


def saved_stream(model_dir):
    """The training stream a run in model_dir last read (records, batch size, seed, shuffle buffer, data
    settings: the dict train saved), or None for a folder without one."""
    try:
        with open(os.path.join(model_dir, RUN_CONFIG)) as f:
            stream = json.load(f).get("stream")
    except (OSError, ValueError, AttributeError):
        return None
    return stream if isinstance(stream, dict) else None


def load_run_config(model_dir):
    """(ModelConfig, DataConfig) saved by training, sharing one Geometry; FileNotFoundError if model_dir
    has none. Folders written before the geometry had its own section (strides, R, units and anchor
    rule inside "model" and "data") load too."""
    path = os.path.join(model_dir, RUN_CONFIG)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} not found: is {model_dir} a cf_tf training folder?")
    try:
        with open(path) as f:
            saved = json.load(f)
        if not all(isinstance(saved.get(k), dict) for k in ("model", "data")):
            raise ValueError("no 'model' and 'data' sections")
    except (ValueError, AttributeError) as e:   # JSONDecodeError is a ValueError
        raise CheckpointError(f"{path} is damaged ({str(e)[:100]}): it is written by python -m cf_tf.train "
                              f"with the run's settings; train into another --model_dir") from None
    fields = {f.name for f in dataclasses.fields(Geometry)}
    model, data = dict(saved["model"]), dict(saved["data"])
    legacy = {k: data.pop(k) for k in fields if k in data}
    model.setdefault("upsampling", "nearest")   # folders from before the choice were trained with nearest
    for k in fields:
        model.pop(k, None)
    geometry = Geometry(**saved.get("geometry", legacy))
    return ModelConfig(geometry=geometry, **model), DataConfig(geometry=geometry, **data)


def latest_checkpoint(folder):
    """The newest checkpoint path in a checkpoints folder, None if it holds none; CheckpointError if
    its index file is damaged (TensorFlow says None, or raises, and a resumed run would start over)."""
    index = os.path.join(folder, CHECKPOINT_INDEX)
    if not os.path.isfile(index):
        return None
    try:
        latest = tf.train.latest_checkpoint(folder)
    except ValueError:
        latest = None
    if latest is None:
        saved = sorted((int(n[5:-6]) for n in os.listdir(folder) if n.startswith("ckpt-") and n.endswith(".index")
                        and n[5:-6].isdigit()), reverse=True)
        fix = (f"the newest checkpoint beside it is ckpt-{saved[0]}: write the line model_checkpoint_path: "
               f"\"ckpt-{saved[0]}\" into {index}" if saved else "no checkpoint is beside it: remove it")
        raise CheckpointError(f"{index} is damaged (TensorFlow's list of the checkpoints in {folder}); {fix}")
    return latest


@dataclasses.dataclass(frozen=True)
class DecodeConfig:
    """Knobs of the graph-mode decoder (SPEC "Decoding"); lengths in input pixels unless named."""
    geometry: Geometry = Geometry()    # of the outputs it decodes
    hough_stride: int = 2              # Hough map cell, input pixels
    pgo: bool = True                   # point-wise Gaussian optimisation (paper 3.1)
    # PGO sigmas, pose-stride cells: the low ends of the paper's ranges, which it finds better in crowds
    # (docs/RESULTS.md, "PGO sigmas and flip testing on trained models")
    hvk_sigma: float = 0.15            # elbows, wrists, knees, ankles (paper: [0.1, 0.5))
    lvk_sigma: float = 0.5             # the other keypoints (paper: [0.5, 1.0))
    peak_threshold: float = 0.05       # smallest Hough score of a candidate
    max_candidates: int = 40           # top-k candidates per keypoint
    bhm_rescoring: bool = True         # keypoint score = geometric mean with the BHM probability
    refine_steps: int = 2              # KeyCentroid refinements of each grown keypoint
    candidate_snap_radius: float = 8.0  # ... then moved onto the nearest Hough candidate this close (0 = off)
    nms_radius: float = 10.0           # a candidate this close to a found person's same keypoint is dropped
    oks_nms: float = 0.7               # people overlapping a better one with OKS above this are dropped
    merge_radius: float = 12.0         # fragments whose MaskCentroid anchors agree within this are one person
    max_people: int = 30
    min_person_score: float = 0.01
    sfm_threshold: float = SFM_THRESHOLD   # paper A.1
    anchor_min_score: float = 0.1      # a decoded keypoint counts for the anchor rule above this score
    anchor_snap_radius: float = 16.0   # decoded anchors move onto the embeddings gathered near them
    mask_clustering: str = "graph"     # graph (histogram peaks, in the SavedModel) | dbscan (eager reference)
    cluster_radius: float = 8.0        # embeddings this close to a person's centroid are that person's
    claim_spread: float = 5.0          # ... and those within this many RMS spreads of its embeddings (claim_radii)
    cluster_bin: int = 4               # histogram bin of the graph-mode clustering, input pixels
    min_cluster_pixels: float = 3.0    # seg cells a mask-only cluster needs (COCO people of 50 px have 3)
    mask_max_distance: float = 48.0    # pixels whose embedding is farther from every centroid stay unassigned
    mask_only_score: float = 0.5       # score of a mask-only person = this x its mean SFM probability
    igo_sigma: float = 0.1             # instance-wise Gaussian optimisation, seg-stride cells (0 = off)
    # mask score = detection score x maskness ** this: maskness spans a few tenths where the detection
    # score spans a factor of 3, so at SOLOv2's 1 the keypoints' confidence ranks the masks (docs/RESULTS.md,
    # "Ranking the masks: maskness to the 4th")
    maskness_power: float = 4.0
    flip_test: bool = False            # outputs averaged with the mirrored input's (postprocess/flip_test.py)

    def __post_init__(self):
        if self.hough_stride < 1 or self.max_candidates < 1 or self.max_people < 1 or self.refine_steps < 0:
            raise ValueError("hough_stride, max_candidates, max_people must be >= 1, refine_steps >= 0")
        if min(self.hvk_sigma, self.lvk_sigma, self.igo_sigma, self.nms_radius, self.cluster_radius,
               self.anchor_snap_radius, self.claim_spread) < 0:
            raise ValueError("sigmas and radii must be >= 0")
        if not self.maskness_power >= 0:
            raise ValueError(f"maskness_power must be >= 0, got {self.maskness_power}")
        if self.mask_clustering not in ("graph", "dbscan"):
            raise ValueError(f"mask_clustering must be graph or dbscan, got {self.mask_clustering!r}")

    @classmethod
    def matching(cls, data_cfg, **overrides):
        """The decoder for outputs built with `data_cfg`: the same Geometry."""
        return cls(geometry=data_cfg.geometry, **overrides)
