"""MaskCentroid assignment (paper 3.3, Eq. 5), density clustering, IGO and resampling (graph mode).

Seg cells get embeddings e = p + MaskCentroid(p). Each decoded person contributes a centroid from
its own keypoints by the same anchor rule as the targets. Foreground embeddings (SFM >= 0.5, paper
A.1) not near any person's centroid (people with no decoded keypoints: COCO has many small ones) are
clustered by density: voted into a histogram, blurred, peaks. Every cell then goes to its nearest
centroid (Eq. 5) within `mask_max_distance`, and each instance's soft map (its cells' SFM
probability) is smoothed by instance-wise Gaussian optimisation (IGO) and resampled to the mask
pixels before the 0.5 threshold (`instance_masks`): outlines finer than a cell survive, as in
Panoptic-DeepLab's upsampling before grouping. The mean of that resampled map over a mask (its
maskness, SOLOv2's mask score) scores the mask.
"""

import numpy as np
import tensorflow as tf

from cf_tf.constants import (ANCHOR_KEYPOINT, CLUSTER_BLUR_SIGMA, CLUSTER_PEAK_WINDOW, CLUSTER_REFINE_BINS,
                             CUBIC_A, FAR, cell_centres, grid_size)
from cf_tf.postprocess.ops import blur, gaussian_kernels

SNAP_STEPS = 2


def _keys_weights(d, where):
    """Keys' bicubic kernel (a = CUBIC_A) at tap distances d >= 0, for numpy (where=np.where) or
    TensorFlow (where=tf.where) arrays."""
    a = CUBIC_A
    return where(d <= 1.0, ((a + 2.0) * d - (a + 3.0)) * d * d + 1.0,
                 where(d < 2.0, (((d - 5.0) * d + 8.0) * d - 4.0) * a, 0.0))


def _cubic_gain():
    """Largest sum of |weight| over one axis's 4 bicubic taps, so a resampled value is at most this
    squared times the largest value it reads; 1 % over, for the float rounding of the sums."""
    t = np.linspace(0.0, 1.0, 1001)[:, None]
    return 1.01 * float(np.abs(_keys_weights(np.abs(t - np.array([-1.0, 0.0, 1.0, 2.0])), np.where)).sum(1).max())


_CUBIC_GAIN = _cubic_gain()


def embeddings(sfm_prob, maskcentroid, cfg):
    """(foreground [Hs, Ws] bool, embeddings [Hs, Ws, 2] in input pixels)."""
    shape = tf.shape(sfm_prob)
    centres = cell_centres(shape[0], shape[1], cfg.geometry.seg_stride)
    return sfm_prob[..., 0] >= cfg.sfm_threshold, centres + cfg.geometry.mask_scale * maskcentroid


def person_centroids(keypoints, valid, cfg):
    """Anchor [P, 2] of each decoded person (keypoints [P, 17, 3]), by cfg.geometry.anchor_rule."""
    good = keypoints[..., 2] >= cfg.anchor_min_score
    w = tf.cast(good, tf.float32)
    mean_good = tf.reduce_sum(keypoints[..., :2] * w[..., None], 1) / tf.maximum(tf.reduce_sum(w, 1), 1.0)[:, None]
    mean_all = tf.reduce_mean(keypoints[..., :2], 1)
    fallback = tf.where(tf.reduce_any(good, 1)[:, None], mean_good, mean_all)
    if cfg.geometry.anchor_rule == "right_shoulder":
        anchor = tf.where(good[:, ANCHOR_KEYPOINT, None], keypoints[:, ANCHOR_KEYPOINT, :2], fallback)
    else:   # mean_keypoints, and mask_mean (a person's mask is not known before assignment)
        anchor = fallback
    return tf.where(valid[:, None], anchor, 0.0)


def snap_centroids(centroids, valid, fg, emb, cfg):
    """Each valid centroid moved to the mean of the foreground embeddings within anchor_snap_radius
    of it that are nearer to it than to any other centroid (SNAP_STEPS mean-shift steps; unchanged
    where there are none). A person's embeddings gather at its true anchor, so an anchor decoded a
    few pixels off no longer loses its cells to a neighbour, and neighbours are not pulled together."""
    if cfg.anchor_snap_radius <= 0:
        return centroids
    pts = tf.boolean_mask(emb, fg)
    for _ in range(SNAP_STEPS):
        _, near = _own_near(pts, centroids, valid, cfg.anchor_snap_radius)
        mean, count = _mean_of_near(pts, near)
        centroids = tf.where((count > 0)[:, None], mean, centroids)
    return centroids


def _own_near(pts, centroids, valid, radius):
    """(distances [P, M] of the points pts [M, 2] to the valid centroids [P, 2], FAR to the others;
    which points lie within `radius` of a centroid and are nearest to it)."""
    d = tf.where(valid[:, None], tf.norm(pts[None] - centroids[:, None], axis=-1), FAR)
    return d, (d <= radius) & (d <= tf.reduce_min(d, 0, keepdims=True))


def _mean_of_near(pts, near):
    """(mean [K, 2] of the points pts [M, 2] that near [K, M] marks for each k, their count [K])."""
    near = tf.cast(near, tf.float32)
    count = tf.reduce_sum(near, 1)
    return tf.einsum("kn,nc->kc", near, pts) / tf.maximum(count, 1.0)[:, None], count


def claim_radii(centroids, valid, fg, emb, cfg):
    """Radius [P] within which each decoded person claims foreground embeddings (the rest are left
    to density clustering): claim_spread times the RMS distance to its centroid of the embeddings
    within anchor_snap_radius that are nearest to it, at least cluster_radius.

    A trained network's embeddings scatter around a person's anchor by a few pixels; a fixed 8 px
    radius let the scattered ones form mask-only fragments that split the person's mask (docs/DESIGN.md,
    "Claims by each person's spread"). Exact embeddings (the oracle) have no spread and keep the fixed
    radius, so small people beside big ones still stay apart. The RMS is taken within
    anchor_snap_radius, so it underestimates a network's heavy-tailed scatter (5 px median, 12 px at
    the 90th percentile): hence 5 spreads, not the 3 that would cover a Gaussian's."""
    d, near = _own_near(tf.boolean_mask(emb, fg), centroids, valid, cfg.anchor_snap_radius)
    near = tf.cast(near, tf.float32)
    rms = tf.sqrt(tf.reduce_sum(near * tf.square(tf.minimum(d, cfg.anchor_snap_radius)), 1)
                  / tf.maximum(tf.reduce_sum(near, 1), 1.0))
    return tf.maximum(cfg.cluster_radius, cfg.claim_spread * rms)


def unclaimed(fg, emb, centroids, radii, valid):
    """Foreground cells whose embedding is farther from every valid person centroid than its claim
    radius (radii [P], claim_radii)."""
    d = tf.norm(emb[:, :, None] - centroids[None, None], axis=-1)
    near = valid[None, None] & (d <= radii[None, None])
    return fg & ~tf.reduce_any(near, -1)


def cluster_centroids(emb, free, canvas_size, cfg):
    """Density clustering of the free embeddings: (centroids [max_people, 2], valid [max_people])."""
    bins = grid_size(canvas_size, cfg.cluster_bin)
    b = tf.cast(tf.floor(emb / cfg.cluster_bin), tf.int32)
    inside = free & (b[..., 0] >= 0) & (b[..., 1] >= 0) & (b[..., 0] < bins) & (b[..., 1] < bins)
    idx = tf.boolean_mask(tf.stack([b[..., 1], b[..., 0]], -1), inside)
    hist = tf.scatter_nd(idx, tf.ones(tf.shape(idx)[:1]), [bins, bins])[..., None]
    density = blur(hist, gaussian_kernels([CLUSTER_BLUR_SIGMA], peak_one=True))[..., 0]
    is_peak = tf.equal(density, tf.nn.max_pool2d(density[None, ..., None], CLUSTER_PEAK_WINDOW, 1, "SAME")[0, ..., 0])
    score = tf.reshape(tf.where(is_peak & (density >= cfg.min_cluster_pixels), density, 0.0), [-1])
    value, index = tf.math.top_k(score, k=cfg.max_people)
    peak_xy = tf.stack([tf.cast(index % bins, tf.float32), tf.cast(index // bins, tf.float32)], -1)
    peak_xy = (peak_xy + 0.5) * cfg.cluster_bin
    # refine each peak to the mean of the free embeddings within CLUSTER_REFINE_BINS of it
    pts = tf.boolean_mask(emb, free)
    mean, count = _mean_of_near(pts, tf.norm(pts[None] - peak_xy[:, None], axis=-1) <= CLUSTER_REFINE_BINS * cfg.cluster_bin)
    valid = value > 0
    return tf.where((valid & (count > 0))[:, None], mean, peak_xy), valid


def assign(cells, emb, centroids, valid, cfg):
    """Instance id [Hs, Ws] of each of `cells`: nearest valid centroid within mask_max_distance, else -1."""
    d = tf.norm(emb[:, :, None] - centroids[None, None], axis=-1)
    d = tf.where(valid[None, None], d, FAR)
    nearest = tf.argmin(d, -1, output_type=tf.int32)
    ok = cells & (tf.reduce_min(d, -1) <= cfg.mask_max_distance)
    return tf.where(ok, nearest, -1)


def mask_size(scale, height, width):
    """(mask height, mask width, mask pixels per image pixel) for an image of height x width seen at
    `scale` canvas pixels per image pixel: the image's own pixels when it fits the canvas, else the
    canvas's (so the mask output is bounded by the canvas whatever the input size)."""
    per_pixel = tf.minimum(scale, 1.0)

    def side(n):
        return tf.maximum(tf.cast(tf.round(tf.cast(n, tf.float32) * per_pixel), tf.int32), 1)

    return side(height), side(width), per_pixel


def _taps(size, cells, step, cfg, cubic):
    """Resampling taps of `size` mask pixels on a seg-grid axis of `cells` cells: (cell index [T, size]
    clipped into the grid, weight [T, size], 0 for cells outside it). Pixel u looks at grid coordinate
    ((u + 0.5) * step - 0.5) / seg_stride, the inverse of the cell-centre rule (step: canvas pixels
    per mask pixel). Bilinear: T = 2; bicubic (Keys kernel, a = CUBIC_A): T = 4."""
    g = ((tf.cast(tf.range(size), tf.float32) + 0.5) * step - 0.5) / cfg.geometry.seg_stride
    g0 = tf.floor(g)
    taps = g0[None] + (tf.range(-1.0, 3.0) if cubic else tf.range(0.0, 2.0))[:, None]
    d = tf.abs(g[None] - taps)
    w = _keys_weights(d, tf.where) if cubic else 1.0 - d
    idx = tf.cast(taps, tf.int32)
    w *= tf.cast((idx >= 0) & (idx < cells), tf.float32)
    return tf.clip_by_value(idx, 0, cells - 1), w


def _resample_at(soft, label, taps, points):
    """sum over taps of wy * wx * soft[row, col, label[..., m]] at each of the mask pixels `points`
    [M, 2] (y, x), for label [..., M]; taps: (rows, wy, cols, wx) of _taps along y and along x.

    All taps are gathered at once (one flat gather is much faster than gather_nd, and one op per tap
    made the graph, and so a SavedModel's first call, much larger); summed in tap order."""
    shape = tf.shape(soft)
    rows, wy, cols, wx = taps
    ty, tx = rows.shape[0], cols.shape[0]
    rows, wy = tf.gather(rows, points[:, 0], axis=1), tf.gather(wy, points[:, 0], axis=1)     # [Ty, M]
    cols, wx = tf.gather(cols, points[:, 1], axis=1), tf.gather(wx, points[:, 1], axis=1)     # [Tx, M]
    cell = rows[:, None, :] * shape[1] + cols[None, :, :]                                     # [Ty, Tx, M]
    label = label[..., None, None, :]
    terms = (wy[:, None, :] * wx[None, :, :]) * tf.gather(tf.reshape(soft, [-1]), cell * shape[2] + label)
    terms = tf.reshape(terms, tf.concat([tf.shape(label)[:-3], [ty * tx], tf.shape(terms)[-1:]], 0))
    value = terms[..., 0, :]
    for t in range(1, ty * tx):
        value += terms[..., t, :]
    return value


def instance_masks(instance, sfm_prob, n, step, height, width, cfg):
    """(uint8 masks [n, height, width], maskness [n], boxes [n, 4]) from the seg-grid instance map and
    the SFM probability [Hs, Ws]; boxes are (x0, y0, x1, y1) mask pixels, zeros for an empty mask.

    Instance k's soft map is the SFM probability of its cells, blurred by IGO (sigma in seg cells).
    Each mask pixel goes to the instance whose soft map, resampled bilinearly, is largest there (only
    the best label of one of the 4 neighbouring cells can be, so only those 4 candidates are scored),
    and is kept where that instance's map, resampled bicubically, is >= sfm_threshold. Bicubic keeps
    limbs and small people that a cell's coverage blurs below 0.5 (docs/RESULTS.md, "Masks at image
    resolution", has the perfect-assignment AP of both).

    Maskness (SOLOv2's mask score) is the mean of that resampled map over the mask's pixels (0 for an
    empty mask): near 1 where the outline was sure, lower where it was drawn from partly covered
    cells, as for people a few cells wide, whose masks match their outline least.

    Only the pixels whose result is not known beforehand are resampled: the candidates of most
    pixels agree, and a pixel whose bicubic taps all read low soft maps stays empty; the outputs are
    those of resampling every pixel.
    """
    soft = tf.cast(tf.equal(instance[..., None], tf.range(n)), tf.float32) * sfm_prob[..., None]
    if cfg.igo_sigma > 0:
        soft = blur(soft, tf.tile(gaussian_kernels([cfg.igo_sigma]), [1, n]))
    shape = tf.shape(soft)
    best = tf.reshape(tf.argmax(soft, -1, output_type=tf.int32), [-1])               # [Hs * Ws]
    bilinear = (*_taps(height, shape[0], step, cfg, cubic=False), *_taps(width, shape[1], step, cfg, cubic=False))
    rows, _, cols, _ = bilinear
    corners = [rows[i][:, None] * shape[1] + cols[j][None, :] for i in range(2) for j in range(2)]
    candidates = tf.stack([tf.gather(best, c) for c in corners])                      # [4, H, W]
    label = candidates[0]
    # a pixel whose bicubic taps (within 2 cells of its first bilinear tap) all read soft maps below
    # sfm_threshold / gain^2 cannot be kept, whoever owns it: neither its owner nor its value is needed
    peak = tf.nn.max_pool2d(tf.reduce_max(soft, -1)[None, ..., None], 5, 1, "SAME")
    possible = tf.gather(tf.reshape(peak, [-1]), corners[0]) * _CUBIC_GAIN ** 2 >= cfg.sfm_threshold
    contested = tf.where(tf.reduce_any(tf.not_equal(candidates, label), 0) & possible)   # [M, 2]
    choices = tf.stack([tf.gather_nd(c, contested) for c in tf.unstack(candidates)])   # [4, M]
    value = _resample_at(soft, choices, bilinear, contested)                           # [4, M]
    pick = tf.stack([tf.argmax(value, 0, output_type=tf.int32), tf.range(tf.shape(choices)[1])], -1)
    label = tf.tensor_scatter_nd_update(label, contested, tf.gather_nd(choices, pick))
    near = tf.where(possible)                                                          # [M, 2]
    bicubic = (*_taps(height, shape[0], step, cfg, cubic=True), *_taps(width, shape[1], step, cfg, cubic=True))
    near_label = tf.gather_nd(label, near)
    value = _resample_at(soft, near_label, bicubic, near)
    kept = value >= cfg.sfm_threshold
    points, label, value = tf.boolean_mask(near, kept), tf.boolean_mask(near_label, kept), tf.boolean_mask(value, kept)
    total = tf.math.unsorted_segment_sum(tf.minimum(value, 1.0), label, n)
    count = tf.math.unsorted_segment_sum(tf.ones_like(value), label, n)
    label_map = tf.tensor_scatter_nd_update(tf.fill([height, width], n), points, label)
    masks = tf.one_hot(label_map, n, on_value=tf.constant(1, tf.uint8), off_value=tf.constant(0, tf.uint8), axis=0)
    yx = tf.cast(points, tf.int32)
    lo = tf.math.unsorted_segment_min(yx, label, n)
    hi = tf.math.unsorted_segment_max(yx, label, n) + 1
    boxes = tf.cast(tf.stack([lo[:, 1], lo[:, 0], hi[:, 1], hi[:, 0]], -1), tf.float32)
    return masks, total / tf.maximum(count, 1.0), tf.where((count > 0)[:, None], boxes, 0.0)
