"""Augmentation: flip swaps left/right, keypoints stay on their person, keypoints leaving the crop get v=0."""

import dataclasses

import numpy as np
import tensorflow as tf

from cf_tf.config import DataConfig
from cf_tf.constants import FLIP_PERM, KEYPOINT_NAMES
from cf_tf.data import augment, parser, pipeline, schema
from cf_tf.flags import GATE_AUGMENTATION

J = {n: i for i, n in enumerate(KEYPOINT_NAMES)}


def test_flip_swaps_left_right_ids_and_mirrors_coordinates():
    cfg = DataConfig(crop_size=200, input_size=200, scale_min=1.0, scale_max=1.0, max_rotation=0.0, flip_prob=1.0)
    kp = np.zeros((1, 17, 3), np.float32)
    kp[0, J["left_shoulder"]] = (60.5, 50.5, 2)
    kp[0, J["right_shoulder"]] = (120.5, 52.5, 1)
    kp[0, J["nose"]] = (90.5, 30.5, 2)
    matrix, flipped = augment.random_affine(200, 200, 200, cfg, tf.constant([3, 4], tf.int64))
    assert bool(flipped)
    # with no scale or rotation the transform is a mirror plus a translation
    m = matrix.numpy()
    assert np.isclose(m[0, 0], -1) and np.isclose(m[1, 1], 1) and np.isclose(m[0, 1], 0)
    out = augment.transform_keypoints(tf.constant(kp), matrix, 200, 200, flipped).numpy()[0]
    mirror = lambda p: (m @ np.array([p[0], p[1], 1.0]))[:2]  # noqa: E731
    np.testing.assert_allclose(out[J["left_shoulder"], :2], mirror(kp[0, J["right_shoulder"]]), atol=1e-4)
    np.testing.assert_allclose(out[J["right_shoulder"], :2], mirror(kp[0, J["left_shoulder"]]), atol=1e-4)
    assert out[J["left_shoulder"], 2] == 1 and out[J["right_shoulder"], 2] == 2
    # the mirrored left shoulder is now to the right of the mirrored right shoulder's old place
    assert out[J["right_shoulder"], 0] > out[J["left_shoulder"], 0]
    assert sorted(FLIP_PERM) == list(range(17)) and FLIP_PERM[J["left_eye"]] == J["right_eye"]


def test_image_pixels_follow_the_keypoints():
    """A bright dot drawn at a keypoint lands where the transformed keypoint says (pixel convention)."""
    cfg = DataConfig(crop_size=121, input_size=140, scale_min=1.2, scale_max=1.2, max_rotation=25.0, flip_prob=0.5)
    image = np.zeros((100, 140, 3), np.float32)
    image[40:43, 70:73] = 255.0                      # centre of the 3x3 dot: (71.5, 41.5)
    kp = np.zeros((1, 17, 3), np.float32)
    kp[0, J["nose"]] = (71.5, 41.5, 2)
    checked = 0
    for seed in range(8):
        matrix, flipped = augment.random_affine(100, 140, 121, cfg, tf.constant([seed, 0], tf.int64))
        warped = augment.warp(tf.constant(image), matrix, 121, 121).numpy()[..., 0]
        out = augment.transform_keypoints(tf.constant(kp), matrix, 121, 121, flipped).numpy()[0]
        if warped.max() < 100:   # this crop missed the dot; then the keypoint must have left too
            assert out[J["nose"], 2] == 0
            continue
        checked += 1
        ys, xs = np.nonzero(warped > 0.5 * warped.max())
        w = warped[ys, xs]
        centre = np.array([(xs * w).sum() / w.sum() + 0.5, (ys * w).sum() / w.sum() + 0.5])
        j = J["nose"]   # the nose maps to itself under a flip
        np.testing.assert_allclose(out[j, :2], centre, atol=0.6)
    assert checked >= 3


def _inside_own_mask_rate(keypoints, masks):
    """Fraction of visible (v=2) keypoints whose pixel is inside their own person's mask."""
    hits = total = 0
    h, w = masks.shape[1:]
    for k in range(keypoints.shape[0]):
        for x, y, v in keypoints[k]:
            if v == 2:
                xi, yi = int(np.floor(x)), int(np.floor(y))
                if 0 <= xi < w and 0 <= yi < h:
                    total += 1
                    hits += masks[k, yi, xi] >= 0.5
    return hits / max(total, 1), total


def test_augmented_keypoints_stay_inside_their_own_mask(synth_data):
    cfg = DataConfig(crop_size=257, input_size=256)
    before = _pooled(synth_data, cfg, augmented=False)
    after = _pooled(synth_data, cfg, augmented=True)
    assert before > 0.95
    assert after >= before - 0.03


def _pooled(synth_data, cfg, augmented):
    """Pooled in-own-mask rate of visible keypoints over 12 synthetic images."""
    _, _, pattern = synth_data
    hits = total = 0
    for i, serialized in enumerate(tf.data.TFRecordDataset(pipeline.record_files(pattern)).take(12)):
        d = schema.parse_example(serialized)
        if augmented:
            shape = tf.shape(d["image"])
            matrix, flipped = augment.random_affine(shape[0], shape[1], 257, cfg, tf.constant([i, 9], tf.int64))
            kps, masks = parser.warp_annotations(d, matrix, flipped, 257)
            kps, masks = kps.numpy(), np.transpose(masks.numpy(), [2, 0, 1])
        else:
            kps, masks = d["keypoints"].numpy(), d["masks"].numpy().astype(np.float32)
        rate, n = _inside_own_mask_rate(kps, masks)
        hits += rate * n
        total += n
    return hits / total


def test_keypoints_leaving_the_crop_get_v0(synth_data):
    _, _, pattern = synth_data
    cfg = DataConfig(crop_size=97, input_size=256, scale_min=1.3, scale_max=1.3)
    dropped = 0
    for i, serialized in enumerate(tf.data.TFRecordDataset(pipeline.record_files(pattern)).take(8)):
        d = schema.parse_example(serialized)
        matrix, flipped = augment.random_affine(256, 256, 97, cfg, tf.constant([i, 1], tf.int64))
        kps = augment.transform_keypoints(d["keypoints"], matrix, 97, 97, flipped).numpy()
        labelled = kps[..., 2] > 0
        assert np.all((kps[labelled, :2] >= 0) & (kps[labelled, :2] < 97))
        dropped += int((d["keypoints"].numpy()[..., 2] > 0).sum() - labelled.sum())
    assert dropped > 0  # a 97 px crop of 333 px scaled images must cut people


def test_seeded_pipeline_is_deterministic(synth_data):
    _, _, pattern = synth_data
    cfg = DataConfig(crop_size=129)

    def first(seed):
        image, t = next(iter(pipeline.train_dataset(pattern, cfg, batch_size=2, seed=seed)))
        return image.numpy(), t["skfm"].numpy()

    a, b, c = first(5), first(5), first(6)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    assert a[0].shape == (2, 129, 129, 3) and a[1].shape == (2, 17, 17, 17)


def test_max_shift_zero_with_scale_one_and_no_rotation_or_flip_is_no_augmentation():
    """The overfit gates' 'none': every seed gives the same centred view; their crop shift moves it."""
    still, shifted = (dataclasses.replace(GATE_AUGMENTATION[v], crop_size=129, input_size=129)
                      for v in ("none", "shift"))
    views = [augment.random_affine(100, 128, 129, still, tf.constant([s, 1], tf.int64))[0].numpy() for s in range(4)]
    for m in views[1:]:
        np.testing.assert_allclose(m, views[0], atol=1e-5)
    # the image centre lands on the crop centre
    np.testing.assert_allclose(views[0] @ np.array([64.0, 50.0, 1.0]), [64.5, 64.5, 1.0], atol=1e-4)
    moved = [augment.random_affine(100, 128, 129, shifted, tf.constant([s, 1], tf.int64))[0].numpy()[:2, 2]
             for s in range(4)]
    assert max(np.abs(t - views[0][:2, 2]).max() for t in moved) > 1.0
    assert max(np.abs(t - views[0][:2, 2]).max() for t in moved) <= shifted.max_shift * 129 + 1e-3


def test_a_crop_that_cuts_the_right_shoulder_off_keeps_it_as_the_maskcentroid_anchor():
    """MaskCentroid points at the person's own right shoulder even where the crop leaves it out: the
    anchor of a pixel must not depend on where the crop falls (docs/DESIGN.md, "MaskCentroid anchor")."""
    size, crop = 120, 64
    kp = np.zeros((1, 17, 3), np.float32)
    kp[0, J["right_shoulder"]] = (110.5, 40.5, 2)
    kp[0, J["left_shoulder"]] = (70.5, 40.5, 2)
    kp[0, J["nose"]] = (90.5, 20.5, 2)
    mask = np.zeros((1, size, size), np.uint8)
    mask[0, 10:110, 60:118] = 1
    decoded = {"image": tf.zeros([size, size, 3], tf.uint8), "keypoints": tf.constant(kp),
               "masks": tf.constant(mask), "iscrowd": tf.zeros([1], tf.int32)}
    cfg = DataConfig(crop_size=crop, input_size=size, scale_min=1.0, scale_max=1.0, max_rotation=0.0,
                     flip_prob=0.0, max_shift=0.3)
    s, unit = cfg.geometry.seg_stride, cfg.geometry.mask_scale
    cut = 0
    for i in range(12):
        seed = tf.constant([i, 3], tf.int64)
        matrix, flipped = augment.random_affine(size, size, crop, cfg, seed)
        shoulder = (matrix.numpy() @ np.array([110.5, 40.5, 1.0]))[:2]
        _, t = parser.parse_train(decoded, seed, cfg)
        cells = np.argwhere(t["sfm"].numpy()[..., 0] >= 0.5)
        if not len(cells) or np.all((shoulder >= 0) & (shoulder < crop)):
            continue
        cut += 1
        emb = np.stack([cells[:, 1] * s + 0.5, cells[:, 0] * s + 0.5], -1) + \
            t["maskcentroid"].numpy()[cells[:, 0], cells[:, 1]] * unit
        np.testing.assert_allclose(emb, np.broadcast_to(shoulder, emb.shape), atol=1e-3)
    assert cut >= 3  # crops of 64 px shifted by up to 30 % of their side must cut the shoulder off
