"""MaskCentroid assignment (paper 3.3, Eq. 5), density clustering, IGO and upsampling (graph mode).

Foreground seg cells (SFM >= 0.5, paper A.1) get embeddings e = p + MaskCentroid(p). Each decoded
person contributes a centroid from its own keypoints by the same anchor rule as the targets.
Embeddings not near any person's centroid (people with no decoded keypoints: COCO has many small
ones) are clustered by density: voted into a histogram, blurred, peaks. Every foreground cell then
goes to its nearest centroid (Eq. 5) within `mask_max_distance`. The instance masks are smoothed by
instance-wise Gaussian optimisation (IGO) and resampled to the original image pixels.
"""

import tensorflow as tf

from cf_tf.keypoints import ANCHOR_KEYPOINT, cell_centres, grid_size
from cf_tf.postprocess.ops import blur, gaussian_kernels

_INF = 1e9


def embeddings(sfm_prob, maskcentroid, cfg):
    """(foreground [Hs, Ws] bool, embeddings [Hs, Ws, 2] in input pixels)."""
    shape = tf.shape(sfm_prob)
    centres = cell_centres(shape[0], shape[1], cfg.seg_stride)
    return sfm_prob[..., 0] >= cfg.sfm_threshold, centres + cfg.mask_scale * maskcentroid


def person_centroids(keypoints, valid, cfg):
    """Anchor [P, 2] of each decoded person (keypoints [P, 17, 3]), by cfg.anchor_rule."""
    good = keypoints[..., 2] >= cfg.anchor_min_score
    w = tf.cast(good, tf.float32)
    mean_good = tf.reduce_sum(keypoints[..., :2] * w[..., None], 1) / tf.maximum(tf.reduce_sum(w, 1), 1.0)[:, None]
    mean_all = tf.reduce_mean(keypoints[..., :2], 1)
    fallback = tf.where(tf.reduce_any(good, 1)[:, None], mean_good, mean_all)
    if cfg.anchor_rule == "right_shoulder":
        anchor = tf.where(good[:, ANCHOR_KEYPOINT, None], keypoints[:, ANCHOR_KEYPOINT, :2], fallback)
    else:   # mean_keypoints, and mask_mean (a person's mask is not known before assignment)
        anchor = fallback
    return tf.where(valid[:, None], anchor, 0.0)


def unclaimed(fg, emb, centroids, valid, cfg):
    """Foreground cells whose embedding is farther than cluster_radius from every person centroid."""
    d = tf.norm(emb[:, :, None] - centroids[None, None], axis=-1)
    d = tf.where(valid[None, None], d, _INF)
    return fg & (tf.reduce_min(d, -1) > cfg.cluster_radius)


def cluster_centroids(emb, free, canvas_size, cfg):
    """Density clustering of the free embeddings: (centroids [max_people, 2], valid [max_people])."""
    bins = grid_size(canvas_size, cfg.cluster_bin)
    b = tf.cast(tf.floor(emb / cfg.cluster_bin), tf.int32)
    inside = free & (b[..., 0] >= 0) & (b[..., 1] >= 0) & (b[..., 0] < bins) & (b[..., 1] < bins)
    idx = tf.boolean_mask(tf.stack([b[..., 1], b[..., 0]], -1), inside)
    hist = tf.scatter_nd(idx, tf.ones(tf.shape(idx)[:1]), [bins, bins])[..., None]
    density = blur(hist, gaussian_kernels([1.0], peak_one=True))[..., 0]
    is_peak = tf.equal(density, tf.nn.max_pool2d(density[None, ..., None], 5, 1, "SAME")[0, ..., 0])
    score = tf.reshape(tf.where(is_peak & (density >= cfg.min_cluster_pixels), density, 0.0), [-1])
    value, index = tf.math.top_k(score, k=cfg.max_people)
    peak_xy = tf.stack([tf.cast(index % bins, tf.float32), tf.cast(index // bins, tf.float32)], -1)
    peak_xy = (peak_xy + 0.5) * cfg.cluster_bin
    # refine each peak to the mean of the free embeddings within 1.5 bins of it
    pts = tf.boolean_mask(emb, free)
    near = tf.cast(tf.norm(pts[None] - peak_xy[:, None], axis=-1) <= 1.5 * cfg.cluster_bin, tf.float32)
    count = tf.reduce_sum(near, 1)
    mean = tf.einsum("kn,nc->kc", near, pts) / tf.maximum(count, 1.0)[:, None]
    valid = value > 0
    return tf.where((valid & (count > 0))[:, None], mean, peak_xy), valid


def assign(fg, emb, centroids, valid, cfg):
    """Instance id [Hs, Ws] of each cell: nearest valid centroid within mask_max_distance, else -1."""
    d = tf.norm(emb[:, :, None] - centroids[None, None], axis=-1)
    d = tf.where(valid[None, None], d, _INF)
    nearest = tf.argmin(d, -1, output_type=tf.int32)
    ok = fg & (tf.reduce_min(d, -1) <= cfg.mask_max_distance)
    return tf.where(ok, nearest, -1)


def instance_masks(instance, n, scale, height, width, cfg):
    """uint8 [n, height, width] masks in original-image pixels from the seg-grid instance map.

    IGO blurs each instance's {0,1} map (sigma in seg cells). Each output pixel u samples the seg grid
    bilinearly at ((u + 0.5) * scale - 0.5) / seg_stride (the inverse of the cell-centre rule), cells
    outside the grid counting 0, and belongs to instance k where that value is >= 0.5. The instances'
    maps sum to <= 1, so only the best label of one of the 4 neighbouring cells can reach 0.5: those 4
    candidates are scored instead of resampling all n maps (4x4 reads per pixel instead of 4n).
    """
    soft = tf.cast(tf.equal(instance[..., None], tf.range(n)), tf.float32)            # [Hs, Ws, n]
    if cfg.igo_sigma > 0:
        soft = blur(soft, tf.tile(gaussian_kernels([cfg.igo_sigma]), [1, n]))
    best = tf.argmax(soft, -1, output_type=tf.int32)                                   # [Hs, Ws]
    shape = tf.shape(soft)

    def axis(size, cells):
        g = ((tf.cast(tf.range(size), tf.float32) + 0.5) * scale - 0.5) / cfg.seg_stride
        g0 = tf.floor(g)
        f = g - g0
        g0 = tf.cast(g0, tf.int32)
        idx = tf.stack([g0, g0 + 1])                                                   # [2, size]
        w = tf.stack([1.0 - f, f]) * tf.cast((idx >= 0) & (idx < cells), tf.float32)
        return tf.clip_by_value(idx, 0, cells - 1), w

    ys, wy = axis(height, shape[0])
    xs, wx = axis(width, shape[1])
    rows = tf.reshape(tf.tile(ys[:, None, :, None], [1, 2, 1, width]), [4, height, width])
    cols = tf.reshape(tf.tile(xs[None, :, None, :], [2, 1, height, 1]), [4, height, width])
    weights = tf.reshape(wy[:, None, :, None] * wx[None, :, None, :], [4, height, width])
    cells = tf.stack([rows, cols], -1)                                                  # [4, H, W, 2]
    candidates = tf.gather_nd(best, cells)                                              # [4, H, W]
    value = tf.stack([tf.reduce_sum(weights * tf.gather_nd(
        soft, tf.concat([cells, tf.broadcast_to(candidates[c][None, ..., None], [4, height, width, 1])], -1)), 0)
        for c in range(4)])                                                             # [4, H, W]
    pick = tf.argmax(value, 0, output_type=tf.int32)
    label = tf.gather(tf.transpose(candidates, [1, 2, 0]), pick[..., None], batch_dims=2)[..., 0]
    label = tf.where(tf.reduce_max(value, 0) >= 0.5, label, -1)
    return tf.cast(tf.equal(label[None], tf.range(n)[:, None, None]), tf.uint8)


def boxes_from_masks(masks):
    """[n, 4] (x0, y0, x1, y1) pixel boxes of uint8 masks [n, H, W]; zeros for empty masks."""
    rows = tf.reduce_any(masks > 0, 2)
    cols = tf.reduce_any(masks > 0, 1)

    def span(any_):
        size = tf.shape(any_)[1]
        idx = tf.range(size)
        lo = tf.reduce_min(tf.where(any_, idx, size), 1)
        hi = tf.reduce_max(tf.where(any_, idx + 1, 0), 1)
        return lo, hi

    x0, x1 = span(cols)
    y0, y1 = span(rows)
    box = tf.cast(tf.stack([x0, y0, x1, y1], -1), tf.float32)
    return tf.where(tf.reduce_any(rows, 1)[:, None], box, 0.0)
