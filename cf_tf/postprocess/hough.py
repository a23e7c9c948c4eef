"""KeyCentroid voting, point-wise Gaussian optimisation (PGO), peaks, BHM rescoring (paper 3.1-3.2).

Every pose cell p votes its SKFM probability for keypoint j into p + R * KeyCentroid_j(p) of a Hough
map with `hough_stride` px cells (bilinear splatting), normalised by the number of cells in a disk
(pi R^2 / stride^2), so a perfectly predicted keypoint gathers a vote mass of about 1.
PGO blurs each keypoint's map with its own Gaussian (HVK/LVK sigmas); the blur kernel has a peak of 1,
so a map value is the Gaussian-weighted vote mass around that point: a score in [0, ~1].
"""

import math

import tensorflow as tf

from cf_tf.constants import IS_HVK, NUM_KEYPOINTS, cell_centres, grid_size
from cf_tf.postprocess.ops import bilinear_sample, blur, gaussian_kernels


def vote(skfm_prob, keycentroid, canvas_size, cfg):
    """Hough maps [Hh, Wh, 17] from SKFM probabilities [Hp, Wp, 17] and KeyCentroid [Hp, Wp, 34]."""
    shape = tf.shape(skfm_prob)
    hh, wh = grid_size(canvas_size, cfg.hough_stride), grid_size(canvas_size, cfg.hough_stride)
    centres = cell_centres(shape[0], shape[1], cfg.geometry.pose_stride)[:, :, None, :]
    votes = centres + cfg.geometry.radius * tf.reshape(keycentroid, [shape[0], shape[1], NUM_KEYPOINTS, 2])
    g = (tf.reshape(votes, [-1, 2]) - 0.5) / float(cfg.hough_stride)
    w = tf.reshape(skfm_prob, [-1])
    j = tf.tile(tf.range(NUM_KEYPOINTS), [tf.shape(w)[0] // NUM_KEYPOINTS])
    g0 = tf.floor(g)
    f = g - g0
    g0 = tf.cast(g0, tf.int32)
    indices, weights = [], []
    for dy in (0, 1):
        for dx in (0, 1):
            x, y = g0[:, 0] + dx, g0[:, 1] + dy
            wx = f[:, 0] if dx else 1.0 - f[:, 0]
            wy = f[:, 1] if dy else 1.0 - f[:, 1]
            inside = (x >= 0) & (y >= 0) & (x < wh) & (y < hh)
            indices.append(tf.stack([tf.clip_by_value(y, 0, hh - 1), tf.clip_by_value(x, 0, wh - 1), j], -1))
            weights.append(tf.where(inside, w * wx * wy, 0.0))
    hough = tf.scatter_nd(tf.concat(indices, 0), tf.concat(weights, 0), [hh, wh, NUM_KEYPOINTS])
    return hough / (math.pi * cfg.geometry.radius ** 2 / cfg.geometry.pose_stride ** 2)


def pgo(hough, cfg):
    """Point-wise Gaussian optimisation: per-keypoint blur (sigma in pose-stride cells).

    With PGO off, a 3x3 sum gathers the mass that bilinear splatting spread over neighbours.
    """
    if not cfg.pgo:
        return blur(hough, tf.ones([3, NUM_KEYPOINTS]))
    to_cells = cfg.geometry.pose_stride / cfg.hough_stride
    sigmas = [(cfg.hvk_sigma if hvk else cfg.lvk_sigma) * to_cells for hvk in IS_HVK]
    return blur(hough, gaussian_kernels(sigmas, peak_one=True))


def peaks(scores, cfg):
    """Top-k local maxima per keypoint: (xy [17, K, 2] input pixels, score [17, K]); padded with 0."""
    is_peak = tf.equal(scores, tf.nn.max_pool2d(scores[None], 3, 1, "SAME")[0]) & (scores >= cfg.peak_threshold)
    shape = tf.shape(scores)
    flat = tf.transpose(tf.reshape(tf.where(is_peak, scores, 0.0), [-1, NUM_KEYPOINTS]))   # [17, Hh*Wh]
    k = tf.minimum(cfg.max_candidates, tf.shape(flat)[1])
    value, index = tf.math.top_k(flat, k=k)
    row, col = index // shape[1], index % shape[1]
    # sub-cell position: a parabola through the peak and its two neighbours, per axis
    padded = tf.pad(scores, [[1, 1], [1, 1], [0, 0]], mode="SYMMETRIC")
    jj = tf.broadcast_to(tf.range(NUM_KEYPOINTS)[:, None], tf.shape(row))

    def at(dr, dc):
        return tf.gather_nd(padded, tf.stack([row + 1 + dr, col + 1 + dc, jj], -1))

    def offset(lo, mid, hi):
        den = lo - 2.0 * mid + hi
        return tf.clip_by_value(tf.where(den < -1e-9, 0.5 * (lo - hi) / tf.minimum(den, -1e-9), 0.0), -0.5, 0.5)

    c = at(0, 0)
    dx, dy = offset(at(0, -1), c, at(0, 1)), offset(at(-1, 0), c, at(1, 0))
    xy = tf.stack([(tf.cast(col, tf.float32) + dx) * cfg.hough_stride + 0.5,
                   (tf.cast(row, tf.float32) + dy) * cfg.hough_stride + 0.5], -1)
    return xy, value


def keypoint_scores(scores, bhm_prob, xy, keypoint_ids, cfg):
    """Score of keypoint keypoint_ids[m] at xy[m]: the PGO map there, BHM-rescored (geometric mean)."""
    s = tf.gather(bilinear_sample(scores, xy, cfg.hough_stride), keypoint_ids, axis=1, batch_dims=1)
    s = tf.maximum(s, 0.0)
    if cfg.bhm_rescoring:
        s = tf.sqrt(s * bilinear_sample(bhm_prob, xy, cfg.geometry.pose_stride)[:, 0])
    return s
