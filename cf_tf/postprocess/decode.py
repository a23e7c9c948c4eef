"""The composed decoder: network outputs -> people with keypoints, scores, masks and boxes.

One function used by evaluate, export and predict (SPEC "Decoding" steps 1-8), in four stages that
the benchmark times one by one: prepare_maps (KeyCentroid voting -> PGO), find_people (peaks -> BHM
rescoring -> PoseSeg grouping -> OKS-NMS), assign_cells (MaskCentroid assignment + density
clustering), to_image (IGO -> resampling to mask pixels).
TensorFlow ops only; with mask_clustering='dbscan' it must run eagerly (scikit-learn reference).
"""

import tensorflow as tf

from cf_tf.constants import NUM_KEYPOINTS
from cf_tf.postprocess import hough, maskcentroid, poseseg

OUTPUT_KEYS = ("keypoints", "scores", "mask_scores", "masks", "boxes", "num_people")
_INVALID_KEY = 10.0   # sorts after every valid person (assign_cells)


def prepare_maps(outputs, canvas_size, cfg):
    """Probabilities and PGO Hough maps from one image's raw outputs (logits / offsets)."""
    skfm = tf.sigmoid(outputs["skfm"])
    votes = hough.vote(skfm, outputs["keycentroid"], canvas_size, cfg)
    return {
        "pgo": hough.pgo(votes, cfg),
        "bhm_prob": tf.sigmoid(outputs["bhm"]),
        "keycentroid": outputs["keycentroid"],
        "mid_offsets": outputs["mid_offsets"],
        "sfm_prob": tf.sigmoid(outputs["sfm"]),
        "maskcentroid": outputs["maskcentroid"],
    }


def find_people(maps, canvas_size, cfg):
    """Hough peaks -> PoseSeg grouping -> OKS-NMS: (keypoints [P, 17, 3], scores [P], valid [P])."""
    cand_xy, cand_score = hough.peaks(maps["pgo"], cfg)
    return poseseg.group(cand_xy, cand_score, maps, canvas_size, cfg)


def assign_cells(maps, kps, kp_scores, kp_valid, canvas_size, cfg, cluster_fn=None):
    """MaskCentroid assignment (Eq. 5) of every seg cell, with the mask-only people found by density
    clustering; keeps max_people. Returns owner [Hs, Ws] (row of the kept people, -1: nobody),
    keypoints [P, 17, 3], scores [P], valid [P] (P = max_people)."""
    cap = cfg.max_people
    sfm_prob = maps["sfm_prob"]
    fg, emb = maskcentroid.embeddings(sfm_prob, maps["maskcentroid"], cfg)
    centroids = maskcentroid.snap_centroids(maskcentroid.person_centroids(kps, kp_valid, cfg), kp_valid,
                                             fg, emb, cfg)
    radii = maskcentroid.claim_radii(centroids, kp_valid, fg, emb, cfg)
    free = maskcentroid.unclaimed(fg, emb, centroids, radii, kp_valid)
    cluster_fn = cluster_fn or (lambda e, f: maskcentroid.cluster_centroids(e, f, canvas_size, cfg))
    cl_xy, cl_valid = cluster_fn(emb, free)
    all_valid = tf.concat([kp_valid, cl_valid], 0)
    # every cell gets an owner, so the soft maps hold the outline between foreground cells too
    owner = maskcentroid.assign(tf.ones_like(fg), emb, tf.concat([centroids, cl_xy], 0), all_valid, cfg)
    instance = tf.where(fg, owner, -1)

    # mask-only people: score from their SFM probability; dropped if no cell was assigned to them
    ids = tf.range(2 * cap)
    member = tf.cast(tf.equal(instance[..., None], ids), tf.float32)
    count = tf.reduce_sum(member, [0, 1])
    mean_prob = tf.reduce_sum(member * sfm_prob, [0, 1]) / tf.maximum(count, 1.0)
    is_cluster = ids >= cap
    all_valid &= ~is_cluster | (count > 0)
    all_scores = tf.where(is_cluster, cfg.mask_only_score * mean_prob, tf.concat([kp_scores, tf.zeros([cap])], 0))
    all_kps = tf.concat([kps, tf.zeros([cap, NUM_KEYPOINTS, 3])], 0)

    # keep max_people by one ascending sort key: keypoint people in [-1, -0.5), in their order (already
    # by score); then mask-only people in [1, 2], by score (<= 1); invalid rows last
    key = tf.where(is_cluster, 2.0 - all_scores, -1.0 + tf.cast(ids, tf.float32) / (2 * cap))
    pick = tf.argsort(tf.where(all_valid, key, _INVALID_KEY))[:cap]
    valid = tf.gather(all_valid, pick)
    remap = tf.tensor_scatter_nd_update(-tf.ones([2 * cap], tf.int32), pick[:, None],
                                        tf.where(valid, tf.range(cap), -1))
    owner = tf.where(owner >= 0, tf.gather(remap, tf.maximum(owner, 0)), -1)
    return owner, tf.gather(all_kps, pick), tf.where(valid, tf.gather(all_scores, pick), 0.0), valid


def to_image(owner, sfm_prob, keypoints, scores, valid, scale, height, width, cfg):
    """The kept people in original-image pixels: masks resampled from the seg grid (IGO, bilinear
    owner, bicubic threshold; maskcentroid.instance_masks), keypoints clipped to the image, boxes.

    A mask's score (the segm results' score) is the person's detection score times its maskness to
    cfg.maskness_power: the keypoint score for people with keypoints, mask_only_score for mask-only
    people (whose `scores` already hold their mean SFM probability, which maskness replaces)."""
    mask_h, mask_w, per_pixel = maskcentroid.mask_size(scale, height, width)
    masks, maskness, boxes = maskcentroid.instance_masks(owner, sfm_prob[..., 0], cfg.max_people,
                                                         scale / per_pixel, mask_h, mask_w, cfg)
    has_keypoints = tf.reduce_any(keypoints[..., 2] > 0, -1)
    detection = tf.where(has_keypoints, scores, cfg.mask_only_score)
    size = tf.cast(tf.stack([width, height]), tf.float32)   # the canvas pads beyond the image
    keypoints = tf.concat([tf.clip_by_value(keypoints[..., :2] / scale, 0.0, size), keypoints[..., 2:]], -1)
    return {
        "keypoints": tf.where(valid[:, None, None], keypoints, 0.0),
        "scores": scores,
        "mask_scores": tf.where(valid, detection * maskness ** cfg.maskness_power, 0.0),
        "masks": masks,
        "boxes": boxes / per_pixel,
        "num_people": tf.reduce_sum(tf.cast(valid, tf.int32)),
    }


def decode_image(outputs, scale, height, width, canvas_size, cfg, cluster_fn=None):
    """Decodes one image.

    outputs: unbatched raw network outputs; scale: canvas pixels per original pixel; height, width:
    original image size; canvas_size: the square network input side. cluster_fn overrides the
    graph-mode density clustering (the DBSCAN reference passes its own).
    Returns keypoints [N, 17, 3], scores [N], mask_scores [N] (the score of each mask: to_image),
    masks uint8 [N, h, w], boxes [N, 4], num_people int32
    (N = cfg.max_people; rows past num_people are zero), in original pixels, except that the masks
    of an image larger than the canvas come at the canvas's resolution (h, w = the image's size
    times canvas_size / its longest side; `mask_size`): resize them to the image (cf_tf/coco.py
    `full_size_mask`) so that their memory stays bounded.
    """
    maps = prepare_maps(outputs, canvas_size, cfg)
    kps, kp_scores, kp_valid = find_people(maps, canvas_size, cfg)
    owner, keypoints, scores, valid = assign_cells(maps, kps, kp_scores, kp_valid, canvas_size, cfg, cluster_fn)
    return to_image(owner, maps["sfm_prob"], keypoints, scores, valid, scale, height, width, cfg)


def decode_batch(outputs, scales, height, width, canvas_size, cfg):
    """decode_image over a batch of images that share one original size (graph mode)."""
    cap = cfg.max_people
    signature = {
        "keypoints": tf.TensorSpec([cap, NUM_KEYPOINTS, 3], tf.float32),
        "scores": tf.TensorSpec([cap], tf.float32),
        "mask_scores": tf.TensorSpec([cap], tf.float32),
        "masks": tf.TensorSpec([cap, None, None], tf.uint8),
        "boxes": tf.TensorSpec([cap, 4], tf.float32),
        "num_people": tf.TensorSpec([], tf.int32),
    }
    return tf.map_fn(lambda args: decode_image(args[0], args[1], height, width, canvas_size, cfg),
                     (outputs, scales), fn_output_signature=signature)
