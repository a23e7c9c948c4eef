"""Targets for people placed by hand: values at chosen pixels, overlaps, fallbacks, ignore regions."""

import numpy as np
import pytest
import tensorflow as tf

from cf_tf.config import DataConfig, Geometry
from cf_tf.constants import BORDER_CELLS, DIRECTED_EDGES, KEYPOINT_NAMES, grid_size
from cf_tf.data.targets import build_targets, sample_masks
from cf_tf.outputs import NAMES, OUTPUTS, WEIGHT_KEYS

SIZE = 161
CFG = DataConfig(crop_size=SIZE)
J = {n: i for i, n in enumerate(KEYPOINT_NAMES)}


def person(points, size=SIZE):
    """[17, 3] keypoints with the named points labelled (v=2) and the rest v=0."""
    kp = np.zeros((17, 3), np.float32)
    for name, (x, y) in points.items():
        kp[J[name]] = (x, y, 2)
    return kp


def box_mask(x0, y0, x1, y1, size=SIZE):
    m = np.zeros((size, size), np.float32)
    m[y0:y1, x0:x1] = 1
    return m


def targets(kps, masks, crowd=None, cfg=CFG):
    kps = np.asarray(kps, np.float32).reshape(-1, 17, 3)
    masks = np.stack(masks, -1) if len(masks) else np.zeros((SIZE, SIZE, 0), np.float32)
    crowd = np.zeros(len(kps), np.int32) if crowd is None else np.asarray(crowd, np.int32)
    t = build_targets(tf.constant(kps), tf.constant(masks), tf.constant(crowd), SIZE, SIZE, cfg)
    return {k: v.numpy() for k, v in t.items()}


def pose_cell(x, y, stride=CFG.geometry.pose_stride):
    """Grid index (row, col) of the cell whose centre is nearest to (x, y), and that centre."""
    c, r = int(round((x - 0.5) / stride)), int(round((y - 0.5) / stride))
    return (r, c), np.array([stride * c + 0.5, stride * r + 0.5])


def test_disk_offsets_mid_range_and_bhm_for_one_person():
    nose, lsh = (80.5, 40.5), (100.5, 72.5)
    t = targets([person({"nose": nose, "left_shoulder": lsh})], [box_mask(60, 20, 120, 150)])
    R = CFG.geometry.radius
    assert t["skfm"].shape == (21, 21, 17) and t["maskcentroid"].shape == (41, 41, 2)
    # inside the nose disk (10 px away) / outside it (>R away)
    (r, c), p = pose_cell(nose[0] + 10, nose[1])
    assert t["skfm"][r, c, J["nose"]] == 1
    np.testing.assert_allclose(t["keycentroid"][r, c, 2 * J["nose"]:2 * J["nose"] + 2] * R,
                               np.array(nose) - p, atol=1e-4)
    np.testing.assert_allclose(t["bhm"][r, c, 0], 1 - np.linalg.norm(np.array(nose) - p) / R, atol=1e-5)
    (r2, c2), _ = pose_cell(nose[0] + 40, nose[1])
    assert t["skfm"][r2, c2, J["nose"]] == 0
    assert np.all(t["keycentroid"][r2, c2, 2 * J["nose"]:2 * J["nose"] + 2] == 0)
    # keypoints that are not labelled have empty maps
    assert t["skfm"][..., J["left_ankle"]].sum() == 0
    # mid-range nose -> left_shoulder, at a cell in the nose disk, points at the shoulder
    e = DIRECTED_EDGES.index((J["nose"], J["left_shoulder"]))
    back = DIRECTED_EDGES.index((J["left_shoulder"], J["nose"]))
    np.testing.assert_allclose(t["mid_offsets"][r, c, 2 * e:2 * e + 2] * CFG.geometry.mid_scale,
                               np.array(lsh) - p, atol=1e-4)
    assert t["mid_weight"][r, c, e] == 1 and t["mid_weight"][r2, c2, e] == 0
    (rs, cs), ps = pose_cell(*lsh)
    np.testing.assert_allclose(t["mid_offsets"][rs, cs, 2 * back:2 * back + 2] * CFG.geometry.mid_scale,
                               np.array(nose) - ps, atol=1e-4)
    # edges whose end is not labelled have no target
    e_unl = DIRECTED_EDGES.index((J["left_shoulder"], J["left_elbow"]))
    assert t["mid_weight"][..., e_unl].sum() == 0
    assert t["kp_weight"].min() == 1 and t["seg_weight"].min() == 1


def test_keycentroid_votes_return_the_keypoint_within_one_pixel():
    q = np.array([70.3, 91.8])  # sub-pixel position
    t = targets([person({"left_wrist": q})], [box_mask(50, 70, 100, 120)])
    j = J["left_wrist"]
    rows, cols = np.nonzero(t["skfm"][..., j])
    assert len(rows) > 20
    centres = np.stack([cols * CFG.geometry.pose_stride + 0.5, rows * CFG.geometry.pose_stride + 0.5], -1)
    votes = centres + CFG.geometry.radius * t["keycentroid"][rows, cols, 2 * j:2 * j + 2]
    assert np.abs(votes - q).max() < 1e-3
    assert np.linalg.norm(votes.mean(0) - q) < 1.0


def test_overlapping_disks_nearest_keypoint_wins():
    a, b = (60.5, 80.5), (84.5, 80.5)
    t = targets([person({"nose": a}), person({"nose": b})],
                [box_mask(40, 60, 70, 120), box_mask(75, 60, 110, 120)])
    for x in (64.5, 68.5, 76.5, 80.5):
        (r, c), p = pose_cell(x, 80.5)
        nearest = a if abs(p[0] - a[0]) < abs(p[0] - b[0]) else b
        np.testing.assert_allclose(t["keycentroid"][r, c, 0:2] * CFG.geometry.radius, np.array(nearest) - p, atol=1e-4)


def test_maskcentroid_points_at_right_shoulder_and_fallback_anchors():
    rsh = (90.5, 50.5)
    lab = person({"right_shoulder": rsh, "nose": (80.5, 30.5)})
    no_rsh = person({"nose": (30.5, 110.5), "left_hip": (40.5, 130.5)})
    no_kp = np.zeros((17, 3), np.float32)
    masks = [box_mask(70, 20, 110, 80), box_mask(20, 100, 50, 140), box_mask(120, 120, 150, 150)]
    t = targets([lab, no_rsh, no_kp], masks)
    s, scale = CFG.geometry.seg_stride, CFG.geometry.mask_scale

    def embed(r, c):
        return np.array([s * c + 0.5, s * r + 0.5]) + t["maskcentroid"][r, c] * scale

    np.testing.assert_allclose(embed(10, 20), rsh, atol=1e-3)              # right shoulder
    np.testing.assert_allclose(embed(30, 8), (35.5, 120.5), atol=1e-3)     # mean of its keypoints
    owned = t["instance"] == 2
    cells = np.argwhere(owned & (t["sfm"][..., 0] >= 0.5))   # the mask mean is over the cells it fills
    mean = np.stack([cells[:, 1] * s + 0.5, cells[:, 0] * s + 0.5], -1).mean(0)
    for r, c in np.argwhere(owned):                  # every cell it touches, partly covered ones too
        np.testing.assert_allclose(embed(r, c), mean, atol=1e-3)
    assert t["sfm"][10, 20, 0] == 1 and t["sfm"][0, 0, 0] == 0
    assert np.all(t["maskcentroid"][t["sfm"][..., 0] == 0] == 0)
    # the keypoint-less person's mask is ignored by the keypoint losses, not by the seg losses
    (r, c), _ = pose_cell(135.5, 135.5)
    assert t["kp_weight"][r, c, 0] == 0 and t["kp_weight"][2, 2, 0] == 1
    assert t["seg_weight"].min() == 1


@pytest.mark.parametrize("rule,expected", [("mean_keypoints", (85.5, 40.5)), ("mask_mean", None)])
def test_anchor_rule_flag(rule, expected):
    kp = person({"right_shoulder": (90.5, 50.5), "nose": (80.5, 30.5)})
    t = targets([kp], [box_mask(70, 20, 110, 80)], cfg=DataConfig(crop_size=SIZE, geometry=Geometry(anchor_rule=rule)))
    s = CFG.geometry.seg_stride
    cells = np.argwhere(t["instance"] == 0)
    emb = np.stack([cells[:, 1] * s + 0.5, cells[:, 0] * s + 0.5], -1) + \
        t["maskcentroid"][cells[:, 0], cells[:, 1]] * CFG.geometry.mask_scale
    if expected is None:
        full = np.argwhere((t["instance"] == 0) & (t["sfm"][..., 0] >= 0.5))
        expected = np.stack([full[:, 1] * s + 0.5, full[:, 0] * s + 0.5], -1).mean(0)
    np.testing.assert_allclose(emb, np.broadcast_to(expected, emb.shape), atol=1e-3)


def test_pixel_in_two_masks_belongs_to_the_smaller_and_crowds_are_ignored():
    big = person({"right_shoulder": (40.5, 40.5)})
    small = person({"right_shoulder": (100.5, 60.5)})
    crowd = np.zeros((17, 3), np.float32)
    t = targets([big, small, crowd],
                [box_mask(20, 20, 140, 100), box_mask(90, 50, 120, 80), box_mask(10, 120, 60, 150)],
                crowd=[0, 0, 1])
    assert t["instance"][16, 26] == 1          # inside both masks -> smaller person
    assert t["instance"][8, 8] == 0
    assert t["instance"][33, 8] == -1 and t["sfm"][33, 8, 0] == 0   # crowd is not foreground
    assert t["seg_weight"][33, 8, 0] == 0 and t["seg_weight"][8, 8, 0] == 1
    (r, c), _ = pose_cell(35.5, 135.5)
    assert t["kp_weight"][r, c, 0] == 0


def test_sfm_is_the_soft_coverage_of_each_cell_and_maskcentroid_spans_it():
    """A mask edge through a cell: SFM is the covered fraction of the cell's box (BCE soft label), and
    the partly covered cell still points at its person's anchor, so the decoder can resample both."""
    rsh = (60.5, 60.5)
    mask = box_mask(40, 40, 82, 90)           # x1 = 82 ends half-way across the cells centred at x = 80.5
    t = targets([person({"right_shoulder": rsh})], [mask])
    s = CFG.geometry.seg_stride
    r, c = 15, 20                             # cell centre (80.5, 60.5): pixels 78..82 of which 78..81 covered
    np.testing.assert_allclose(t["sfm"][r, c, 0], 4 / 5, atol=1e-6)
    np.testing.assert_allclose(t["sfm"][r, c + 1, 0], 0.0, atol=1e-6)
    np.testing.assert_allclose(t["sfm"][r, 15, 0], 1.0, atol=1e-6)
    expected = sample_masks(tf.constant(mask[..., None]), s).numpy()[..., 0]
    np.testing.assert_allclose(t["sfm"][..., 0], expected, atol=1e-6)
    partial = (t["sfm"][..., 0] > 0) & (t["sfm"][..., 0] < 0.5)
    assert partial.any() and (t["instance"][partial] == 0).all()
    rc = np.argwhere(partial)
    emb = np.stack([rc[:, 1] * s + 0.5, rc[:, 0] * s + 0.5], -1) + t["maskcentroid"][partial] * CFG.geometry.mask_scale
    np.testing.assert_allclose(emb, np.broadcast_to(rsh, emb.shape), atol=1e-3)


def test_maskcentroid_emphasis_is_on_the_cells_near_another_persons_and_nowhere_else():
    """Two boxes side by side, 4 px apart, over the same rows: the cells of each within BORDER_CELLS of the
    other's weigh 1 + maskcentroid_border in MaskCentroid's loss, the rest 1; a person alone has none."""
    left, right = person({"right_shoulder": (40.5, 60.5)}), person({"right_shoulder": (110.5, 60.5)})
    masks = [box_mask(20, 40, 80, 100), box_mask(84, 40, 140, 100)]
    cfg = DataConfig(crop_size=SIZE, maskcentroid_border=3.0)
    t = targets([left, right], masks, cfg=cfg)
    e, inst = t["mc_emphasis"][..., 0], t["instance"]
    s = CFG.geometry.seg_stride
    fg = t["sfm"][..., 0] >= 0.5
    cols = np.arange(e.shape[1]) * s + 0.5
    # a foreground cell of one is within 2 cells (Chebyshev) of the other's foreground cells
    other_cols = {0: cols[(fg & (inst == 1)).any(0)], 1: cols[(fg & (inst == 0)).any(0)]}
    for (r, c) in np.argwhere(fg):
        near = np.abs(other_cols[inst[r, c]] - cols[c]).min() <= BORDER_CELLS * s
        assert e[r, c] == (4.0 if near else 1.0), (r, c)
    # the last foreground column of one (centre 76.5) is 2 cells from the first of the other (84.5)
    assert (e[~fg] == 1.0).all() and set(np.argwhere(e == 4.0)[:, 1]) == {19, 21}
    assert (targets([left, right], masks)["mc_emphasis"] == 1.0).all()           # the default: the paper's
    assert (targets([left], masks[:1], cfg=cfg)["mc_emphasis"] == 1.0).all()
    with pytest.raises(ValueError, match="maskcentroid_border"):
        DataConfig(maskcentroid_border=-1.0)


def test_image_with_nobody_has_empty_targets():
    t = targets(np.zeros((0, 17, 3)), [])
    for k in ("skfm", "keycentroid", "mid_offsets", "bhm", "sfm", "maskcentroid"):
        assert not t[k].any(), k
    assert (t["instance"] == -1).all() and t["kp_weight"].min() == 1


@pytest.mark.parametrize("height,width", [(161, 161), (33, 47), (9, 8)])
@pytest.mark.parametrize("stride", [4, 8])
def test_sample_masks_is_the_box_mean_at_each_cell_centre(height, width, stride):
    rng = np.random.default_rng(height + stride)
    masks = (rng.random((height, width, 2)) > 0.5).astype(np.float32)
    got = sample_masks(tf.constant(masks), stride).numpy()
    cells = (-(-height // stride), -(-width // stride))
    assert got.shape == (*cells, 2)
    half = stride // 2
    for i in range(cells[0]):
        for j in range(cells[1]):
            y, x = i * stride, j * stride
            box = masks[max(y - half, 0): y + half + 1, max(x - half, 0): x + half + 1]
            np.testing.assert_allclose(got[i, j], box.mean(axis=(0, 1)), atol=1e-6)


def test_targets_carry_every_output_of_the_table_on_its_grid_and_the_weight_maps():
    t = targets([person({"nose": (80, 40), "right_shoulder": (60, 70)})], [box_mask(50, 30, 110, 140)])
    assert set(t) == set(NAMES) | set(WEIGHT_KEYS) | {"instance"}
    for o in OUTPUTS:
        cells = grid_size(SIZE, CFG.geometry.stride(o.grid))
        assert t[o.name].shape == (cells, cells, o.channels), o.name
        # its weight map broadcasts to one weight per value (logits) or per 2-vector (offsets)
        per = t[o.name].shape[:-1] + (o.vectors if o.kind == "offset" else o.channels,)
        assert np.broadcast_shapes(o.weight(t).shape, per) == per, o.name
