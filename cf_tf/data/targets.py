"""Training targets, built in graph mode and vectorised over people (SPEC "Targets").

Given keypoints [N, 17, 3] and soft masks [H, W, N] already in crop coordinates:

- SKFM (strong keypoint feature map, paper 3.1): 1 inside the disk D_R(q_jk) of any person k.
- KeyCentroid (paper 3.2): inside the disk, (q_jk - p) / R to the *nearest* person's keypoint j.
- mid-range offsets: for directed edge a->b, inside D_R(q_ak) with a and b labelled,
  (q_bk - p) / mid_scale (nearest q_ak wins).
- BHM (body heat map, paper 3.2, Eq. 2): max over people and keypoints of max(0, 1 - |p - q| / R).
- SFM (semantic feature map): the fraction of each cell covered by the union of the non-crowd
  person masks (soft labels for the BCE), so the grid keeps what it can of outlines finer than a
  cell and the decoder can resample it to image pixels before the 0.5 threshold.
- MaskCentroid (paper 3.3): on each cell a person covers, (C_k - p) / mask_scale to its owner's
  anchor C_k (right shoulder if labelled, paper Fig. 5; else mean keypoint; else mask mean, paper
  Eq. 3), from the keypoints labelled anywhere, not only inside the crop (docs/DESIGN.md). A cell
  that is at least half inside some masks belongs to the smallest of them; a cell less than half
  inside any belongs to the one covering most of it. Its loss weighs `maskcentroid_border` more (added
  to 1) on the cells within BORDER_CELLS of a foreground cell another person owns (`mc_emphasis`):
  where a smooth field must switch between two anchors, and where misassigned pixels gather.
- loss weights: crowd regions and people with a mask but no labelled keypoint are ignored by the
  keypoint losses; crowd regions are ignored by the segmentation losses.

Pose maps live on the pose-stride grid, segmentation maps on the seg-stride grid; both use the
cell-centre rule of cf_tf/constants.py.
"""

import tensorflow as tf

from cf_tf.constants import (ANCHOR_KEYPOINT, BORDER_CELLS, DIRECTED_EDGES, FAR, NUM_EDGES, NUM_KEYPOINTS,
                             SFM_THRESHOLD, grid_centres)


def sample_masks(masks, stride):
    """[H, W, N] soft masks -> [ceil(H/s), ceil(W/s), N]: mean over the (s+1)x(s+1) box centred on
    each cell's pixel s*i, counting only pixels inside the image.

    Pooled with stride s, so only the cells are computed, not every pixel then a subsample.
    """
    shape = tf.shape(masks)
    cells = (shape[:2] + stride - 1) // stride
    half = stride // 2
    # zero padding, then divide by the pooled count of real pixels: the border boxes are partial
    pad = [[half, stride], [half, stride], [0, 0]]
    sums = tf.nn.avg_pool2d(tf.pad(masks, pad)[None], 2 * half + 1, stride, "VALID")[0]
    counts = tf.nn.avg_pool2d(tf.pad(tf.ones_like(masks[..., :1]), pad)[None], 2 * half + 1, stride, "VALID")[0]
    return (sums / counts)[: cells[0], : cells[1]]


def anchors(keypoints, masks_seg, centres_seg, rule):
    """MaskCentroid anchor C_k [N, 2] of each person (paper Fig. 5 and Eq. 3).

    masks_seg: [Hs, Ws, N] {0, 1} membership on the grid whose cell centres are `centres_seg`.
    """
    labelled = keypoints[..., 2] > 0
    lab = tf.cast(labelled, tf.float32)
    n_lab = tf.reduce_sum(lab, axis=1)
    mean_kp = tf.reduce_sum(keypoints[..., :2] * lab[..., None], axis=1) / tf.maximum(n_lab, 1.0)[:, None]
    m = tf.transpose(masks_seg, [2, 0, 1])  # [N, H, W]
    area = tf.reduce_sum(m, axis=[1, 2])
    mask_mean = tf.einsum("nhw,hwc->nc", m, centres_seg) / tf.maximum(area, 1e-6)[:, None]
    if rule == "mask_mean":
        return mask_mean
    fallback = tf.where((n_lab > 0)[:, None], mean_kp, mask_mean)
    if rule == "mean_keypoints":
        return fallback
    return tf.where(labelled[:, ANCHOR_KEYPOINT, None], keypoints[:, ANCHOR_KEYPOINT, :2], fallback)


def _nearest(dist, radius):
    """dist [N, C, H, W] (inf where undefined) -> (nearest person [C, H, W], inside [C, H, W])."""
    return tf.argmin(dist, axis=0, output_type=tf.int32), tf.reduce_min(dist, axis=0) <= radius


def pose_targets(keypoints, valid, height, width, geometry):
    """SKFM, KeyCentroid, mid-range offsets (with their weight map) and BHM on the pose grid, from
    keypoints [N, 17, 3] and valid [N, 17] (labelled, not crowd)."""
    R = geometry.radius
    P = grid_centres(height, width, geometry.pose_stride)                 # [Hp, Wp, 2]
    q = keypoints[..., :2]                                                # [N, 17, 2]
    d = tf.norm(P[None, None] - q[:, :, None, None], axis=-1)             # [N, 17, Hp, Wp]
    d_kp = tf.where(valid[..., None, None], d, FAR)
    k_kp, in_disk = _nearest(d_kp, R)                                     # [17, Hp, Wp]
    q_near = tf.gather(tf.transpose(q, [1, 0, 2]), k_kp, batch_dims=1)   # [17, Hp, Wp, 2]
    disk = tf.cast(in_disk, tf.float32)
    kc = (q_near - P[None]) / R * disk[..., None]
    keycentroid = tf.reshape(tf.transpose(kc, [1, 2, 0, 3]), tf.concat([tf.shape(P)[:2], [2 * NUM_KEYPOINTS]], 0))
    bhm = tf.reduce_max(tf.where(valid[..., None, None], tf.nn.relu(1.0 - d / R), 0.0), axis=[0, 1])

    src, dst = [e[0] for e in DIRECTED_EDGES], [e[1] for e in DIRECTED_EDGES]
    edge_valid = tf.gather(valid, src, axis=1) & tf.gather(valid, dst, axis=1)   # [N, 32]
    d_edge = tf.where(edge_valid[..., None, None], tf.gather(d, src, axis=1), FAR)
    k_edge, in_edge = _nearest(d_edge, R)                                 # [32, Hp, Wp]
    q_dst = tf.gather(tf.transpose(tf.gather(q, dst, axis=1), [1, 0, 2]), k_edge, batch_dims=1)
    mid_w = tf.cast(in_edge, tf.float32)
    mid = (q_dst - P[None]) / geometry.mid_scale * mid_w[..., None]
    mid_offsets = tf.reshape(tf.transpose(mid, [1, 2, 0, 3]), tf.concat([tf.shape(P)[:2], [2 * NUM_EDGES]], 0))
    return {"skfm": tf.transpose(disk, [1, 2, 0]), "keycentroid": keycentroid, "mid_offsets": mid_offsets,
            "bhm": bhm[..., None], "mid_weight": tf.transpose(mid_w, [1, 2, 0])}


def keypoint_ignore_weight(keypoints, masks, crowd, stride):
    """kp_weight [Hp, Wp, 1]: 0 on crowds and on people with a mask but no labelled keypoint, whom the
    keypoint losses must not call background."""
    unlabelled = crowd | ~tf.reduce_any(keypoints[..., 2] > 0, axis=1)
    m_pose = sample_masks(masks, stride)                                  # [Hp, Wp, N]
    ignore_kp = tf.reduce_max(m_pose * tf.cast(unlabelled, tf.float32), axis=-1) >= 0.5
    return 1.0 - tf.cast(ignore_kp, tf.float32)[..., None]


def border_cells(owner, fg, people):
    """[Hs, Ws] bool: foreground cells with a foreground cell of another owner within BORDER_CELLS."""
    mine = tf.one_hot(owner, people) * tf.cast(fg, tf.float32)[..., None]          # [Hs, Ws, N]
    near = tf.nn.max_pool2d(mine[None], 2 * BORDER_CELLS + 1, 1, "SAME")[0]        # owners within reach
    return fg & (tf.reduce_sum(near * (1.0 - mine), axis=-1) > 0)


def seg_targets(keypoints, masks, crowd, height, width, geometry, anchor_keypoints, border_weight):
    """SFM, MaskCentroid, seg_weight, mc_emphasis and the seg cells' owner `instance` on the seg grid."""
    stride = geometry.seg_stride
    S = grid_centres(height, width, stride)                               # [Hs, Ws, 2]
    m_seg = sample_masks(masks, stride)                                   # [Hs, Ws, N]
    person = tf.cast(~crowd, tf.float32)
    cover = m_seg * person                                                # [Hs, Ws, N], crowds 0
    member = cover >= SFM_THRESHOLD
    area = tf.reduce_sum(tf.cast(member, tf.float32), axis=[0, 1])        # [N]
    smallest = tf.argmin(tf.where(member, area, FAR), axis=-1, output_type=tf.int32)
    fg = tf.reduce_any(member, axis=-1)
    owner = tf.where(fg, smallest, tf.argmax(cover, axis=-1, output_type=tf.int32))
    covered = tf.reduce_max(cover, axis=-1) > 0
    union = tf.reduce_max(masks * person, axis=-1, keepdims=True)        # [H, W, 1]
    crowd_seg = tf.reduce_max(m_seg * tf.cast(crowd, tf.float32), axis=-1) >= 0.5
    C = anchors(anchor_keypoints, tf.cast(member, tf.float32), S, geometry.anchor_rule)   # [N, 2]
    maskcentroid = (tf.gather(C, owner) - S) / geometry.mask_scale * tf.cast(covered, tf.float32)[..., None]
    emphasis = tf.ones_like(maskcentroid[..., :1])                        # off (the paper's): no border computed
    if border_weight:
        emphasis += border_weight * tf.cast(border_cells(owner, fg, tf.shape(m_seg)[-1]), tf.float32)[..., None]
    return {"sfm": sample_masks(union, stride),                          # [Hs, Ws, 1] coverage
            "maskcentroid": maskcentroid,
            "seg_weight": 1.0 - tf.cast(crowd_seg & ~fg, tf.float32)[..., None],
            "mc_emphasis": emphasis,
            "instance": tf.where(covered, owner, -1)}


def build_targets(keypoints, masks, iscrowd, height, width, cfg, anchor_keypoints=None):
    """All targets for one example.

    keypoints: float32 [N, 17, 3] in crop pixels, v = 0 outside the crop; masks: float32 [H, W, N]
    in [0, 1]; iscrowd: int32 [N]; height, width: crop size; cfg: cf_tf.config.DataConfig;
    anchor_keypoints: the same keypoints with v as annotated, outside the crop too, for the
    MaskCentroid anchor (default: `keypoints`).
    Returns a dict keyed by the output table's names and WEIGHT_KEYS (cf_tf/outputs.py; channels
    last) and `instance` int32 [Hs, Ws] (index of the person owning each seg cell that any non-crowd
    mask touches, -1 for none) for the oracle and tests.
    """
    # A zero person keeps every reduction over people well defined on images with nobody.
    keypoints = tf.concat([keypoints, tf.zeros([1, NUM_KEYPOINTS, 3])], axis=0)
    anchor_keypoints = keypoints if anchor_keypoints is None else \
        tf.concat([anchor_keypoints, tf.zeros([1, NUM_KEYPOINTS, 3])], axis=0)
    masks = tf.concat([masks, tf.zeros(tf.concat([tf.shape(masks)[:2], [1]], 0))], axis=-1)
    crowd = tf.concat([iscrowd, [0]], axis=0) > 0
    valid = (keypoints[..., 2] > 0) & ~crowd[:, None]                     # [N, 17]
    geometry = cfg.geometry
    targets = pose_targets(keypoints, valid, height, width, geometry)
    targets["kp_weight"] = keypoint_ignore_weight(keypoints, masks, crowd, geometry.pose_stride)
    targets.update(seg_targets(keypoints, masks, crowd, height, width, geometry, anchor_keypoints,
                               cfg.maskcentroid_border))
    return targets
