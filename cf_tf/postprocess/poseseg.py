"""PoseSeg grouping (paper appendix A.1): a priority queue of keypoint candidates, greedy people.

Candidates of all keypoints are popped in score order. One within `nms_radius` of the same keypoint
of a person already found is dropped; otherwise it starts a new person, grown breadth-first along
the 32 directed skeleton edges: b = a + mid(a->b)(a), refined `refine_steps` times by
b = b + R * KeyCentroid_b(b) (offsets read at the nearest cell). Growth depends only on the seed, so
every candidate's skeleton is grown at once, vectorised (16 steps, whatever the number of people);
only the queue itself is sequential.
Then OKS-based NMS over people.
"""

import collections

import numpy as np
import tensorflow as tf

from cf_tf.constants import DIRECTED_EDGES, FAR, NUM_KEYPOINTS, OKS_SIGMAS
from cf_tf.postprocess.hough import keypoint_scores
from cf_tf.postprocess.ops import cell_target_reader, nearest_sample


def bfs_edge_order():
    """int32 [17, 16]: for each root keypoint, directed-edge ids in breadth-first order over the tree."""
    out = np.zeros((NUM_KEYPOINTS, NUM_KEYPOINTS - 1), np.int32)
    for root in range(NUM_KEYPOINTS):
        seen, queue, order = {root}, collections.deque([root]), []
        while queue:
            a = queue.popleft()
            for e, (src, dst) in enumerate(DIRECTED_EDGES):
                if src == a and dst not in seen:
                    seen.add(dst)
                    queue.append(dst)
                    order.append(e)
        out[root] = order
    return out


_ORDER = bfs_edge_order()
_SRC = np.array([a for a, _ in DIRECTED_EDGES], np.int32)
_DST = np.array([b for _, b in DIRECTED_EDGES], np.int32)


def snap_to_candidates(pb, b, cand_xy, cand_score, radius):
    """Each grown point pb [M, 2] of keypoint type b [M] moved onto the nearest Hough candidate of its
    type within `radius` px, if any: a candidate gathers the votes of its whole disk, while the
    refinement reads one cell's KeyCentroid, whose error it inherits."""
    cands = tf.gather(cand_xy, b)                                             # [M, K, 2]
    d = tf.where(tf.gather(cand_score, b) > 0, tf.norm(cands - pb[:, None], axis=-1), FAR)
    nearest = tf.argmin(d, -1, output_type=tf.int32)
    close = tf.reduce_min(d, -1) <= radius
    return tf.where(close[:, None], tf.gather(cands, nearest, batch_dims=1), pb)


def grow(seed_xy, seed_j, maps, canvas_size, cfg, cand_xy=None, cand_score=None):
    """Skeletons grown from every seed: (xy [M, 17, 2], score [M, 17])."""
    m = tf.shape(seed_xy)[0]
    rows = tf.range(m)
    xy = tf.scatter_nd(tf.stack([rows, seed_j], -1), seed_xy, [m, NUM_KEYPOINTS, 2])
    order = tf.gather(tf.constant(_ORDER), seed_j)                         # [M, 16]
    mid_target = cell_target_reader(maps["mid_offsets"], cfg.geometry.pose_stride, cfg.geometry.mid_scale)
    keypoint_target = cell_target_reader(maps["keycentroid"], cfg.geometry.pose_stride, cfg.geometry.radius)

    def step(i, xy):
        e = order[:, i]
        a, b = tf.gather(_SRC, e), tf.gather(_DST, e)
        pb = mid_target(tf.gather(xy, a, axis=1, batch_dims=1), e)
        for _ in range(cfg.refine_steps):
            pb = keypoint_target(pb, b)
        if cfg.candidate_snap_radius > 0:
            pb = snap_to_candidates(pb, b, cand_xy, cand_score, cfg.candidate_snap_radius)
        pb = tf.clip_by_value(pb, 0.0, float(canvas_size))
        return i + 1, tf.tensor_scatter_nd_update(xy, tf.stack([rows, b], -1), pb)

    # a graph loop, not a Python one: the unrolled steps made the graph several times larger, and
    # a SavedModel's first call pays for every node
    _, xy = tf.while_loop(lambda i, xy: i < NUM_KEYPOINTS - 1, step, [tf.constant(0), xy])
    flat = tf.reshape(xy, [-1, 2])
    ids = tf.tile(tf.range(NUM_KEYPOINTS), [m])
    score = keypoint_scores(maps["pgo"], maps["bhm_prob"], flat, ids, cfg)
    return xy, tf.reshape(score, [m, NUM_KEYPOINTS])


def oks(a_xy, b_xy, area):
    """Object keypoint similarity [P, P] between skeletons a_xy [P, 17, 2] and b_xy, area [P] of a."""
    d2 = tf.reduce_sum((a_xy[:, None] - b_xy[None]) ** 2, -1)              # [P, P, 17]
    var = (2.0 * OKS_SIGMAS) ** 2
    return tf.reduce_mean(tf.exp(-d2 / (2.0 * tf.maximum(area, 1.0)[:, None, None] * var)), -1)


def group(cand_xy, cand_score, maps, canvas_size, cfg):
    """People from candidates (xy [17, K, 2], score [17, K]).

    Returns keypoints [max_people, 17, 3] (x, y, score), scores [max_people], valid [max_people],
    best first; invalid rows are zero.
    """
    k = tf.shape(cand_score)[1]
    seed_xy = tf.reshape(cand_xy, [-1, 2])
    seed_j = tf.repeat(tf.range(NUM_KEYPOINTS), k)
    seed_score = keypoint_scores(maps["pgo"], maps["bhm_prob"], seed_xy, seed_j, cfg)
    seed_score = tf.where(tf.reshape(cand_score, [-1]) > 0, seed_score, 0.0)
    xy, score = grow(seed_xy, seed_j, maps, canvas_size, cfg, cand_xy, cand_score)
    order = tf.argsort(seed_score, direction="DESCENDING")
    m = tf.shape(order)[0]
    rank = tf.scatter_nd(order[:, None], tf.range(m), [m])                  # queue position of each seed
    n_valid = tf.reduce_sum(tf.cast(seed_score >= cfg.peak_threshold, tf.int32))
    cap = cfg.max_people
    # clash[p, c]: seed c lies within nms_radius of its own keypoint of the person grown from seed p
    clash = tf.norm(tf.gather(xy, seed_j, axis=1) - seed_xy[None], axis=-1) < cfg.nms_radius   # [M, M]

    def body(n, live, kept):
        # the queue's next seed that no person found so far clashes with starts the next person;
        # popping every seed in order and dropping the clashing ones finds the same people
        c = tf.argmin(tf.where(live, rank, m), output_type=tf.int32)
        return n + 1, live & ~clash[c], tf.where(tf.equal(tf.range(cap), n), c, kept)

    n, _, kept = tf.while_loop(lambda n, live, kept: (n < cap) & tf.reduce_any(live), body,
                               [tf.constant(0), rank < n_valid, tf.zeros([cap], tf.int32)])
    valid = tf.range(cap) < n
    kept_xy = tf.where(valid[:, None, None], tf.gather(xy, kept), 0.0)
    kp_score = tf.where(valid[:, None], tf.gather(score, kept), 0.0)
    kept_xy, kp_score, valid = merge_fragments(kept_xy, kp_score, valid, maps, cfg)
    person_score = tf.reduce_mean(kp_score, -1)
    valid &= person_score >= cfg.min_person_score
    return oks_nms(kept_xy, kp_score, person_score, valid, cfg)


def merge_fragments(xy, score, valid, maps, cfg):
    """Joins skeleton fragments of one person, using the segmentation head (PoseSeg, paper A.1).

    The tree links the shoulders only through the nose, so a person whose nose is not found is
    grown as separate fragments. Each fragment's found keypoints carry MaskCentroid embeddings that
    point at its person's anchor; a later fragment whose anchor estimate lies within merge_radius of
    an earlier one's, and whose keypoints found by both lie within nms_radius, is merged into it.
    """
    cap = cfg.max_people
    found = (score >= cfg.anchor_min_score) & valid[:, None]                      # [P, 17]
    pts = tf.reshape(xy, [-1, 2])
    emb = cell_target_reader(maps["maskcentroid"], cfg.geometry.seg_stride, cfg.geometry.mask_scale)(
        pts, tf.zeros_like(pts[:, 0], tf.int32))
    on_mask = nearest_sample(maps["sfm_prob"], pts, cfg.geometry.seg_stride)[:, 0]
    use = tf.cast(found & tf.reshape(on_mask >= cfg.sfm_threshold, [cap, -1]), tf.float32)
    count = tf.reduce_sum(use, 1)
    anchor = tf.reduce_sum(tf.reshape(emb, [cap, -1, 2]) * use[..., None], 1) / tf.maximum(count, 1.0)[:, None]
    has_anchor = valid & (count > 0)
    rows = tf.range(cap)
    # fragment q can only merge into an earlier one whose anchor is close (anchors do not move, and
    # has_anchor only ever clears): only such q are visited, in order; most images have none
    close = tf.norm(anchor[:, None] - anchor[None], axis=-1) <= cfg.merge_radius          # [P, P]
    maybe = close & (rows[None] < rows[:, None]) & has_anchor[:, None] & has_anchor[None]
    visit = tf.cast(tf.where(tf.reduce_any(maybe, 1))[:, 0], tf.int32)

    def merge(v, xy, score, found, valid, has_anchor):
        q = visit[v]
        apart = tf.norm(xy - xy[q][None], axis=-1) > cfg.nms_radius
        compatible = ~tf.reduce_any(found & found[q][None] & apart, axis=1)
        ok = maybe[q] & has_anchor & has_anchor[q] & compatible
        into = tf.argmax(tf.cast(ok, tf.int32), output_type=tf.int32)
        do = tf.reduce_any(ok)
        take = (do & tf.equal(rows, into))[:, None] & found[q][None]                # [P, 17]
        gone = do & tf.equal(rows, q)
        return (v + 1, tf.where(take[..., None], xy[q][None], xy), tf.where(take, score[q][None], score),
                found | take, valid & ~gone, has_anchor & ~gone)

    _, xy, score, found, valid, has_anchor = tf.while_loop(
        lambda v, *_: v < tf.size(visit), merge, [tf.constant(0), xy, score, found, valid, has_anchor])
    return xy, tf.where(valid[:, None], score, 0.0), valid


def oks_nms(xy, kp_score, person_score, valid, cfg):
    """Greedy OKS-NMS; returns rows sorted by score with suppressed/invalid rows zeroed."""
    cap = cfg.max_people
    order = tf.argsort(tf.where(valid, person_score, -1.0), direction="DESCENDING")
    xy, kp_score = tf.gather(xy, order), tf.gather(kp_score, order)
    person_score, valid = tf.gather(person_score, order), tf.gather(valid, order)
    span = tf.reduce_max(xy, 1) - tf.reduce_min(xy, 1)
    area = span[:, 0] * span[:, 1]
    sim = oks(xy, xy, area)
    rows = tf.range(cap)
    # only a row that overlaps an earlier valid one can be suppressed (keep only ever clears): only
    # such rows are visited, in order
    overlaps = (sim > cfg.oks_nms) & (rows[:, None] < rows[None]) & valid[:, None]       # [earlier, later]
    visit = tf.cast(tf.where(tf.reduce_any(overlaps, 0))[:, 0], tf.int32)

    def suppress(v, keep):
        i = visit[v]
        suppressed = tf.reduce_any(overlaps[:, i] & keep)
        return v + 1, tf.tensor_scatter_nd_update(keep, [[i]], [keep[i] & ~suppressed])

    _, keep = tf.while_loop(lambda v, keep: v < tf.size(visit), suppress, [tf.constant(0), valid])
    order = tf.argsort(tf.cast(~keep, tf.int32), stable=True)   # kept rows first, still by score
    keep = tf.gather(keep, order)
    keypoints = tf.concat([tf.gather(xy, order), tf.gather(kp_score, order)[..., None]], -1)
    keypoints = tf.where(keep[:, None, None], keypoints, 0.0)
    return keypoints, tf.where(keep, tf.gather(person_score, order), 0.0), keep
