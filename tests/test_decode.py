"""The graph-mode decoder on perfect (oracle) outputs: sub-pixel accuracy, crowds, DBSCAN agreement,
empty images."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from cf_tf.coco import full_size_mask
from cf_tf.config import DataConfig, DecodeConfig
from cf_tf.constants import DISK_RADIUS, KEYPOINT_NAMES, OKS_SIGMAS, grid_size
from cf_tf.data import pipeline, synth
from cf_tf.data.targets import build_targets
from cf_tf.oracle import perfect_outputs
from cf_tf.outputs import OUTPUTS
from cf_tf.postprocess import dbscan_ref, maskcentroid
from cf_tf.postprocess.decode import decode_image, prepare_maps

SIZE = 257
DATA = DataConfig(crop_size=SIZE, input_size=SIZE)
DECODE = DecodeConfig.matching(DATA)
J = {n: i for i, n in enumerate(KEYPOINT_NAMES)}


def _decode(keypoints, masks, crowd=None, cfg=DECODE, size=SIZE):
    kps = tf.constant(np.asarray(keypoints, np.float32).reshape(-1, 17, 3))
    m = tf.constant(np.stack(masks, -1).astype(np.float32) if len(masks) else np.zeros((size, size, 0), np.float32))
    crowd = tf.zeros([kps.shape[0]], tf.int32) if crowd is None else tf.constant(crowd, tf.int32)
    targets = build_targets(kps, m, crowd, size, size, DataConfig(crop_size=size, input_size=size))
    out = decode_image(perfect_outputs(targets), tf.constant(1.0), size, size, size, cfg)
    return {k: v.numpy() for k, v in out.items()}


def test_subpixel_keypoints_come_back_within_one_pixel():
    kp = np.zeros((17, 3), np.float32)
    truth = {"nose": (101.3, 60.7), "left_eye": (108.9, 52.2), "right_eye": (94.6, 53.4),
             "left_shoulder": (131.15, 101.85), "right_shoulder": (72.45, 99.35), "left_elbow": (140.7, 150.2)}
    for name, xy in truth.items():
        kp[J[name]] = (*xy, 2)
    mask = np.zeros((SIZE, SIZE), np.float32)
    mask[40:170, 60:150] = 1
    out = _decode([kp], [mask])
    assert out["num_people"] == 1
    for name, xy in truth.items():
        assert np.linalg.norm(out["keypoints"][0, J[name], :2] - xy) < 1.0, name
        assert out["keypoints"][0, J[name], 2] > 0.5


def _crowd(n, size=641, seed=0):
    kps, masks = synth.grid_of_figures(n, size, seed)
    return kps, list(masks)


def _oks(a, b, area):
    d2 = ((a[:, :2] - b[:, :2]) ** 2).sum(-1)
    return np.exp(-d2 / (2 * area * (2 * OKS_SIGMAS) ** 2)).mean()


def test_crowds_of_1_10_30_decode_every_person_without_retracing():
    data = DataConfig(crop_size=641, input_size=641)
    cfg = DecodeConfig.matching(data)

    @tf.function
    def decode(targets):
        return decode_image(perfect_outputs(targets), tf.constant(1.0), 641, 641, 641, cfg)

    for n in (1, 10, 30):
        kps, masks = _crowd(n)
        targets = build_targets(tf.constant(kps), tf.constant(np.stack(masks, -1)), tf.zeros([n], tf.int32),
                                641, 641, data)
        targets.pop("instance")
        out = {k: v.numpy() for k, v in decode(targets).items()}
        assert out["num_people"] == n
        for k in range(n):
            area = masks[k].sum()
            best = max(_oks(kps[k], out["keypoints"][p], area) for p in range(n))
            assert best > 0.9, (n, k, best)
            ious = [(masks[k] > 0) & (out["masks"][p] > 0) for p in range(n)]
            unions = [((masks[k] > 0) | (out["masks"][p] > 0)).sum() for p in range(n)]
            assert max(i.sum() / u for i, u in zip(ious, unions)) > 0.7
    assert decode.experimental_get_tracing_count() == 1


def test_empty_outputs_give_valid_empty_results():
    out = _decode(np.zeros((0, 17, 3)), [])
    assert out["num_people"] == 0
    assert out["keypoints"].shape == (DECODE.max_people, 17, 3) and not out["keypoints"].any()
    assert out["masks"].shape == (DECODE.max_people, SIZE, SIZE) and not out["masks"].any()
    assert out["masks"].dtype == np.uint8 and not out["boxes"].any() and not out["scores"].any()
    assert not out["mask_scores"].any()


@pytest.mark.parametrize("height,width,mask_shape", [
    (100, 200, (100, 200)),     # smaller than the 257 canvas (enlarged): masks at the image's pixels
    (4000, 2000, (257, 128)),   # larger: masks at the canvas's (bounded); 2000 * 257 / 4000 = 128.5, half to even
])
def test_masks_and_boxes_are_in_original_image_pixels(height, width, mask_shape):
    """Boxes and keypoints in image pixels; masks at the image's size, or for an image larger than the
    canvas at the canvas's, which coco.full_size_mask brings to the image's size."""
    kp = np.zeros((17, 3), np.float32)
    kp[J["right_shoulder"]] = (60.5, 40.5, 2)
    kp[J["nose"]] = (50.5, 20.5, 2)
    mask = np.zeros((SIZE, SIZE), np.float32)
    mask[10:100, 30:90] = 1
    targets = build_targets(tf.constant(kp[None]), tf.constant(mask[..., None]), tf.zeros([1], tf.int32),
                            SIZE, SIZE, DATA)
    scale = SIZE / max(height, width)
    out = decode_image(perfect_outputs(targets), tf.constant(scale), height, width, SIZE, DECODE)
    m = out["masks"].numpy()[0]
    assert m.shape == mask_shape
    full = full_size_mask(m, height, width)
    assert full.shape == (height, width)
    ys, xs = np.nonzero(full)
    np.testing.assert_allclose(out["boxes"].numpy()[0], [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1],
                               atol=max(1.0, 1 / scale) if m.shape != (height, width) else 0.0)
    np.testing.assert_allclose([xs.min(), xs.max() + 1, ys.min(), ys.max() + 1],
                               np.array([30, 90, 10, 100]) / scale, atol=4 / scale)
    np.testing.assert_allclose(out["keypoints"].numpy()[0, J["nose"], :2], np.array([50.5, 20.5]) / scale,
                               atol=1.0 / min(scale, 1.0))


def _iou(a, b):
    return ((a > 0) & (b > 0)).sum() / ((a > 0) | (b > 0)).sum()


@pytest.mark.parametrize("x0", [100, 102])   # aligned with the stride-4 cells, and half a cell off
def test_one_cell_wide_limb_comes_back_at_image_resolution(x0):
    """A 4 px (one seg cell) wide arm off a body, through targets -> oracle outputs -> decoder. Cells
    labelled whole would widen the arm to two cells when it straddles them (IoU about 0.5 there)."""
    kp = np.zeros((17, 3), np.float32)
    kp[J["right_shoulder"]] = (x0 - 20.5, 60.5, 2)
    kp[J["nose"]] = (x0 - 20.5, 40.5, 2)
    body = np.zeros((SIZE, SIZE), np.float32)
    body[50:150, x0 - 40:x0] = 1
    arm = np.zeros_like(body)
    arm[60:140, x0:x0 + 4] = 1
    out = _decode([kp], [body + arm])
    assert out["num_people"] == 1 and out["masks"].shape == (DECODE.max_people, SIZE, SIZE)
    got = out["masks"][0]
    assert _iou(got, body + arm) >= 0.9
    band = np.zeros_like(body, bool)
    band[55:145, x0:] = True                  # the arm and everything right of the body
    assert _iou(got * band, arm) >= 0.8


@pytest.mark.parametrize("keypoints", [True, False])
def test_20px_person_comes_back_at_image_resolution(keypoints):
    """A 20x20 px person, with keypoints or found by the mask clustering alone, next to a big one."""
    big = np.zeros((17, 3), np.float32)
    big[J["right_shoulder"]] = (60.5, 80.5, 2)
    big[J["nose"]] = (70.5, 50.5, 2)
    small = np.zeros((17, 3), np.float32)
    if keypoints:
        small[J["right_shoulder"]] = (187.5, 119.5, 2)
        small[J["nose"]] = (191.5, 113.5, 2)
    m_big = np.zeros((SIZE, SIZE), np.float32)
    m_big[40:200, 40:120] = 1
    m_small = np.zeros_like(m_big)
    m_small[111:131, 181:201] = 1
    out = _decode([big, small], [m_big, m_small])
    assert out["num_people"] == 2
    ious = [_iou(out["masks"][k], m_small) for k in range(2)]
    assert max(ious) >= 0.8, ious


def test_mask_scores_are_the_detection_score_times_a_power_of_maskness():
    """A mask's score (segm results) is its person's score times its maskness to maskness_power; maskness,
    the mean resampled soft map over the mask, is about 1 for a big person on whole cells, lower for a
    small one drawn from partly covered cells; mask-only people take mask_only_score as their detection
    score. The power changes the mask scores only, as maskness ** power."""
    big = np.zeros((17, 3), np.float32)
    big[J["right_shoulder"]] = (60.5, 80.5, 2)
    big[J["nose"]] = (70.5, 50.5, 2)
    m_big = np.zeros((SIZE, SIZE), np.float32)
    m_big[40:200, 40:120] = 1
    m_small = np.zeros_like(m_big)
    m_small[113:124, 183:194] = 1             # 11 x 11 px, no keypoints: found by the clustering
    by_power = {p: _decode([big, np.zeros((17, 3), np.float32)], [m_big, m_small],
                           cfg=dataclasses.replace(DECODE, maskness_power=p)) for p in (1.0, DECODE.maskness_power)}
    out = by_power[1.0]
    assert out["num_people"] == 2
    k_big = int(np.argmax(out["masks"].sum((1, 2))))
    k_small = 1 - k_big
    detection = np.array([out["scores"][k_big] if k == k_big else DECODE.mask_only_score for k in range(2)])
    maskness = out["mask_scores"][:2] / detection
    assert maskness[k_big] > 0.95 and 0.5 < maskness[k_small] < 0.85, maskness
    assert out["keypoints"][k_small, :, 2].max() == 0 and out["keypoints"][k_big, :, 2].max() > 0
    assert not out["mask_scores"][2:].any()
    powered = by_power[DECODE.maskness_power]
    for key in ("scores", "masks", "keypoints"):
        np.testing.assert_array_equal(powered[key], out[key])
    np.testing.assert_allclose(powered["mask_scores"][:2], detection * maskness ** DECODE.maskness_power, rtol=1e-5)
    with pytest.raises(ValueError, match="maskness_power must be >= 0"):
        dataclasses.replace(DECODE, maskness_power=-1.0)


def test_small_people_without_keypoints_side_by_side_stay_apart():
    """Three 8 x 12 px people without keypoints, 10 px apart (a crowd far away): the density
    clustering keeps one peak each, as the DBSCAN reference does (a 5-bin window merged them)."""
    masks = []
    for x in (100, 110, 120):
        m = np.zeros((SIZE, SIZE), np.float32)
        m[100:112, x:x + 8] = 1
        masks.append(m)
    out = _decode(np.zeros((3, 17, 3), np.float32), masks)
    assert out["num_people"] == 3
    for m in masks:
        assert max(_iou(out["masks"][k], m) for k in range(3)) >= 0.5


def test_a_trained_networks_scattered_embeddings_stay_one_person():
    """A network's MaskCentroid is a few pixels off everywhere (the crop-shift gate's model: 5 px
    median, 12 px at the 90th percentile). With a fixed 8 px claim those embeddings formed mask-only
    fragments that split each person's mask; the claim radius grown from the person's own spread keeps
    each mask whole, while exact embeddings (claim_radii's minimum) keep small neighbours apart (above)."""
    size = 257
    kps, masks = _crowd(4, size, seed=3)
    targets = build_targets(tf.constant(kps), tf.constant(np.stack(masks, -1)), tf.zeros([4], tf.int32), size, size,
                            DataConfig(crop_size=size, input_size=size))
    outputs = perfect_outputs(targets)
    noise = np.random.default_rng(0).normal(0.0, 5.0 / 64.0, outputs["maskcentroid"].shape).astype(np.float32)
    outputs["maskcentroid"] = outputs["maskcentroid"] + noise
    ious = {}
    for spread in (0.0, DECODE.claim_spread):
        cfg = DecodeConfig.matching(DataConfig(crop_size=size, input_size=size), claim_spread=spread)
        out = {k: v.numpy() for k, v in decode_image(outputs, tf.constant(1.0), size, size, size, cfg).items()}
        ious[spread] = [max(_iou(out["masks"][k], m) for k in range(int(out["num_people"]))) for m in masks]
    assert min(ious[DECODE.claim_spread]) >= 0.8, ious
    assert min(ious[0.0]) < 0.7, f"the fixed claim no longer splits these masks: the test lost its point ({ious})"


def test_grown_keypoints_snap_onto_hough_candidates_when_keycentroid_is_noisy():
    """PoseSeg's refinement reads one cell's KeyCentroid and inherits its error; the Hough candidate
    of that keypoint gathers its whole disk's votes. With 3 px of noise on every KeyCentroid vector the
    snapped skeletons match the people far better (the crop-shift gate's model: keypoints 0.76 -> 0.84)."""
    size = 257
    kps, masks = _crowd(4, size, seed=5)
    targets = build_targets(tf.constant(kps), tf.constant(np.stack(masks, -1)), tf.zeros([4], tf.int32), size, size,
                            DataConfig(crop_size=size, input_size=size))
    outputs = perfect_outputs(targets)
    noise = np.random.default_rng(1).normal(0.0, 3.0 / DISK_RADIUS, outputs["keycentroid"].shape)
    outputs["keycentroid"] = outputs["keycentroid"] + noise.astype(np.float32)
    area = np.array([m.sum() for m in masks])
    oks = {}
    for radius in (0.0, DECODE.candidate_snap_radius):
        cfg = DecodeConfig.matching(DataConfig(crop_size=size, input_size=size), candidate_snap_radius=radius)
        out = {k: v.numpy() for k, v in decode_image(outputs, tf.constant(1.0), size, size, size, cfg).items()}
        found = out["keypoints"][: int(out["num_people"])]
        oks[radius] = np.mean([max(_oks(p, kps[i], area[i]) for p in found) for i in range(4)])
    assert DECODE.candidate_snap_radius > 0
    assert oks[DECODE.candidate_snap_radius] >= 0.9 and oks[DECODE.candidate_snap_radius] > oks[0.0] + 0.03, oks


def test_graph_mask_assignment_agrees_with_dbscan(sample_records):
    data = DataConfig()
    cfg = DecodeConfig.matching(data)
    agree = total = 0
    for name in ("coco", "ochuman"):
        _, _, pattern = sample_records[name]
        for f in pipeline.inference_dataset(pattern, data, with_targets=True).take(20 if name == "coco" else 3):
            outputs = perfect_outputs(f["targets"])
            maps = prepare_maps(outputs, data.input_size, cfg)
            fg, emb = maskcentroid.embeddings(maps["sfm_prob"], outputs["maskcentroid"], cfg)
            free = maskcentroid.unclaimed(fg, emb, tf.zeros([1, 2]), tf.zeros([1]), tf.constant([False]))
            results = []
            for cl_xy, cl_valid in (maskcentroid.cluster_centroids(emb, free, data.input_size, cfg),
                                    dbscan_ref.cluster_centroids(emb, free, cfg)):
                results.append(maskcentroid.assign(fg, emb, cl_xy, cl_valid, cfg).numpy())
            a, b = results
            fgn = fg.numpy()
            # cluster ids differ between the methods: compare the partitions, via the best-matching id
            for ida in np.unique(a[fgn]):
                if ida < 0:
                    continue
                ids, counts = np.unique(b[fgn & (a == ida)], return_counts=True)
                agree += counts.max()
            total += fgn.sum()
    assert total > 0
    assert agree / total >= 0.95, agree / total


def test_decode_flags_change_the_result_as_documented():
    """The ablation switches reach the decoder and do what their help says."""
    kps, masks = _crowd(4, size=SIZE, seed=3)
    base = _decode(kps, masks)
    assert base["num_people"] == 4
    found = base["keypoints"][..., 2] > 0
    # without BHM rescoring a keypoint's score is the Hough score s alone; rescored it was sqrt(s * b),
    # b the BHM probability there, which a perfect BHM puts within a cell of 1 at a keypoint
    plain = _decode(kps, masks, cfg=DecodeConfig.matching(DATA, bhm_rescoring=False))
    bhm = base["keypoints"][..., 2][found] ** 2 / plain["keypoints"][..., 2][found]
    assert ((bhm > 0.75) & (bhm <= 1.0 + 1e-5)).all(), bhm
    # without PGO (a 3x3 sum instead) the same people come back, their scores computed otherwise
    no_pgo = _decode(kps, masks, cfg=DecodeConfig.matching(DATA, pgo=False))
    assert no_pgo["num_people"] == 4 and not np.allclose(no_pgo["keypoints"][..., 2], base["keypoints"][..., 2])
    # a wide IGO blur melts limbs a cell or two wide below the threshold: every mask loses pixels
    blurred = _decode(kps, masks, cfg=DecodeConfig.matching(DATA, igo_sigma=1.5))
    assert (blurred["masks"].sum((1, 2)) < base["masks"].sum((1, 2)))[:4].all()
    with pytest.raises(ValueError, match="mask_clustering"):
        DecodeConfig(mask_clustering="kmeans")


def test_decoder_graph_stays_small():
    """Loops over skeleton steps, fragments, people and resampling taps are graph loops or batched
    ops, not unrolled Python: every node of the graph is paid for on a SavedModel's first call
    (unrolled, this graph had about 11 000 nodes)."""
    cells = {g: grid_size(SIZE, DECODE.geometry.stride(g)) for g in ("pose", "seg")}
    outputs = {o.name: tf.TensorSpec([cells[o.grid], cells[o.grid], o.channels]) for o in OUTPUTS}
    fn = tf.function(lambda o: decode_image(o, tf.constant(1.0), 300, 400, SIZE, DECODE))
    graph = fn.get_concrete_function(outputs).graph.as_graph_def()
    nodes = len(graph.node) + sum(len(f.node_def) for f in graph.library.function)
    assert nodes < 4000, nodes
