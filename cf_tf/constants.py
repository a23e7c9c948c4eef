"""Every constant of cf_tf, in one place, with the grid geometry they define.

COCO person conventions (keypoint order, left/right flip pairs, the skeleton tree used by PoseSeg
grouping: 16 undirected edges, 32 directed; the HVK/LVK split used by PGO; COCO's OKS sigmas and the
person category), the paper's fixed numbers (R, strides, thresholds) and the decoder's fixed shapes.

Coordinate convention (used by targets, augmentation and decoding alike): points are (x, y)
in continuous pixel coordinates where the centre of pixel index (i, j) is (j + 0.5, i + 0.5),
as in COCO. Output grid cell (r, c) of a head with stride s covers input pixel (s*r, s*c), so its
centre is at (s*c + 0.5, s*r + 0.5). `grid_centres` below is the only implementation of that rule.
"""

import numpy as np
import tensorflow as tf

KEYPOINT_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
NUM_KEYPOINTS = len(KEYPOINT_NAMES)
_IDX = {n: i for i, n in enumerate(KEYPOINT_NAMES)}

# After a horizontal flip, keypoint j of the mirrored person is keypoint FLIP_PERM[j] of the original.
FLIP_PERM = tuple(
    _IDX[n.replace("left_", "right_")] if n.startswith("left_")
    else _IDX[n.replace("right_", "left_")] if n.startswith("right_")
    else _IDX[n]
    for n in KEYPOINT_NAMES
)

# The grouping tree (SPEC "Conventions"): every keypoint reachable from the nose.
SKELETON_EDGES = tuple((_IDX[a], _IDX[b]) for a, b in (
    ("nose", "left_eye"), ("left_eye", "left_ear"), ("nose", "right_eye"), ("right_eye", "right_ear"),
    ("nose", "left_shoulder"), ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
    ("left_shoulder", "left_hip"), ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
    ("nose", "right_shoulder"), ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
    ("right_shoulder", "right_hip"), ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
))
# Directed edges a->b: the 16 forward edges then the same 16 reversed. Mid-range channel 2e, 2e+1.
DIRECTED_EDGES = SKELETON_EDGES + tuple((b, a) for a, b in SKELETON_EDGES)
NUM_EDGES = len(DIRECTED_EDGES)

# Lines drawn in pictures: the grouping tree plus the torso/hip cross bars people expect to see.
DRAW_EDGES = SKELETON_EDGES + ((_IDX["left_shoulder"], _IDX["right_shoulder"]),
                               (_IDX["left_hip"], _IDX["right_hip"]))

# High-variance keypoints (paper 3.1): elbows, wrists, knees, ankles. The rest are LVK.
HVK = tuple(_IDX[n] for n in KEYPOINT_NAMES
            if n.split("_")[-1] in ("elbow", "wrist", "knee", "ankle"))
IS_HVK = tuple(j in HVK for j in range(NUM_KEYPOINTS))

# MaskCentroid anchor (paper Fig. 5): the right shoulder.
ANCHOR_KEYPOINT = _IDX["right_shoulder"]

# COCO OKS per-keypoint sigmas (pycocotools COCOeval defaults).
OKS_SIGMAS = np.array([.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62,
                       1.07, 1.07, .87, .87, .89, .89], dtype=np.float32) / 10.0

# Disk radius R of SKFM / KeyCentroid / BHM, in input pixels (paper 3.1: R = 32 for all experiments).
DISK_RADIUS = 32.0
# Strides allowed per head (SPEC "Network").
POSE_STRIDES = (4, 8, 16)
SEG_STRIDES = (4, 8)
# Top-down x2 upsampling of the fusion (ModelConfig.upsampling): between cells, or each cell repeated.
UPSAMPLING = ("linear", "nearest")
# Keys cubic kernel parameter of the decoder's mask resampling (OpenCV's INTER_CUBIC value).
CUBIC_A = -0.75
# Default units of the mid-range and MaskCentroid offsets, input pixels (SPEC "Targets").
MID_SCALE = 64.0
MASK_SCALE = 64.0
# A seg cell is foreground at SFM >= this (paper A.1), and at least this covered it belongs to a
# person's MaskCentroid loss and ownership (the targets' rule).
SFM_THRESHOLD = 0.5
# MaskCentroid's border cells (DataConfig.maskcentroid_border): those within this many seg cells
# (Chebyshev) of a foreground cell another person owns, where misassigned pixels gather.
BORDER_CELLS = 2
# COCO's category id of a person, written into every result.
PERSON_CATEGORY_ID = 1
# Density clustering of mask-only people: histogram blur sigma (bins), peak window (bins), and the
# radius (bins) of the embeddings averaged into each peak. A 3-bin window keeps two peaks 2 bins
# apart, as the DBSCAN reference (eps = CLUSTER_REFINE_BINS bins) keeps them: small people without
# keypoints stand that close in crowds, and a 5-bin window or a 1-bin blur merged them.
CLUSTER_BLUR_SIGMA = 0.5
CLUSTER_PEAK_WINDOW = 3
CLUSTER_REFINE_BINS = 1.5
# A training folder's run config (cf_tf/config.py) and checkpoints folder: what makes a folder one.
RUN_CONFIG = "cf_tf_config.json"
CHECKPOINTS = "checkpoints"
# Largest image predict and evaluate decode by default (--max_pixels): 50 MP, 150 MB of RGB pixels.
MAX_PIXELS = 50_000_000
# Distance standing for "none" in nearest-something searches (larger than any canvas).
FAR = 1e9


def grid_size(size, stride):
    """Number of output cells along an axis of `size` input pixels (ResNet 'same' convention)."""
    return (size + stride - 1) // stride


def cell_centres(rows, cols, stride):
    """float32 [rows, cols, 2] tensor of the (x, y) input-pixel centres of a grid's cells."""
    ys = tf.cast(tf.range(rows) * stride, tf.float32) + 0.5
    xs = tf.cast(tf.range(cols) * stride, tf.float32) + 0.5
    gx, gy = tf.meshgrid(xs, ys)
    return tf.stack([gx, gy], axis=-1)


def grid_centres(height, width, stride):
    """Cell centres of the output grid of an input of height x width pixels."""
    return cell_centres(grid_size(height, stride), grid_size(width, stride), stride)
