"""Network shapes for several input sizes, parameter counts, backbone errors."""

import dataclasses

import numpy as np
import pytest

from cf_tf.config import Geometry, ModelConfig
from cf_tf.constants import DISK_RADIUS, grid_size
from cf_tf.model import backbones
from cf_tf.model.centerfocus import build_model
from cf_tf.model.complexity import summarize
from cf_tf.outputs import NAMES as OUTPUT_NAMES, OUTPUTS

TINY = ModelConfig(backbone="resnet_tiny", fusion_width=32, head_units=1)
# the paper's outputs: 17 keypoints, their 2-D offsets, 32 directed edges' 2-D offsets, BHM, SFM, MaskCentroid
PAPER_CHANNELS = {"skfm": 17, "keycentroid": 34, "mid_offsets": 64, "bhm": 1, "sfm": 1, "maskcentroid": 2}


def test_the_output_table_is_the_papers():
    assert {o.name: o.channels for o in OUTPUTS} == PAPER_CHANNELS
    assert {o.name for o in OUTPUTS if o.grid == "seg"} == {"sfm", "maskcentroid"}


@pytest.mark.parametrize("pose_stride,seg_stride", [(4, 4), (8, 4), (16, 8)])
def test_output_shapes_follow_the_strides_for_any_input_size(pose_stride, seg_stride):
    model_geometry = Geometry(pose_stride=pose_stride, seg_stride=seg_stride)
    model = build_model(ModelConfig(backbone="resnet_tiny", fusion_width=32, head_units=1, geometry=model_geometry))
    for h, w in ((401, 401), (257, 257), (130, 217)):
        out = model(np.zeros((2, h, w, 3), np.float32))
        assert list(out) == list(OUTPUT_NAMES)
        for o in OUTPUTS:
            s = model_geometry.stride(o.grid)
            assert tuple(out[o.name].shape) == (2, grid_size(h, s), grid_size(w, s), o.channels), o.name
            assert out[o.name].dtype.name == "float32"


def test_resnet101_parameter_count_is_the_papers_plus_the_wide_offset_convs():
    narrow = build_model(ModelConfig(backbone="resnet101", offset_kernel=1)).count_params()
    assert abs(narrow - 44.5e6) / 44.5e6 < 0.015, narrow          # docs/RESULTS.md: within 1.5 % of the paper's
    wide = build_model(ModelConfig(backbone="resnet101")).count_params()
    cfg = ModelConfig()
    extra = (cfg.offset_kernel ** 2 - 1) * cfg.fusion_width * sum(o.channels for o in OUTPUTS if o.wide)
    assert wide - narrow == extra


def test_summary_counts_flops_that_grow_with_input_size():
    small, large = summarize(TINY, 129), summarize(TINY, 257)
    assert small["params"] == large["params"] == build_model(TINY).count_params()
    assert 3.0 < large["gflops"] / small["gflops"] < 5.0   # ~ area ratio (257/129)^2 = 3.97


def test_unknown_backbone_and_missing_weights_file_fail_clearly(tmp_path):
    with pytest.raises(backbones.BackboneError, match="unknown backbone 'resnet7'"):
        build_model(ModelConfig(backbone="resnet7"))
    with pytest.raises(backbones.BackboneError, match="file not found"):
        build_model(ModelConfig(backbone="resnet50", backbone_weights=str(tmp_path / "w.h5")))
    with pytest.raises(ValueError, match="pose_stride"):
        Geometry(pose_stride=32)


def test_keycentroid_and_mid_range_convs_span_the_disk_the_others_are_1x1():
    model = build_model(TINY)
    assert {o.name for o in OUTPUTS if o.wide} == {"keycentroid", "mid_offsets"}
    for o in OUTPUTS:
        size = TINY.offset_kernel if o.wide else 1
        assert tuple(model.get_layer(o.name).kernel.shape[:2]) == (size, size), o.name
    assert TINY.offset_kernel == 2 * int(DISK_RADIUS) // TINY.geometry.pose_stride + 1   # the whole disk
    old = build_model(ModelConfig(backbone="resnet_tiny", fusion_width=32, head_units=1, offset_kernel=1))
    assert tuple(old.get_layer("keycentroid").kernel.shape[:2]) == (1, 1)
    with pytest.raises(ValueError, match="offset_kernel"):
        ModelConfig(offset_kernel=4)


def test_separable_offset_convs_span_the_disk_at_a_fraction_of_the_cost():
    """--offset_separable: a depthwise conv of the same side, two kernels per channel, then a 1x1."""
    separable = dataclasses.replace(TINY, offset_separable=True)
    model = build_model(separable)
    for o in OUTPUTS:
        layer = model.get_layer(o.name)
        if o.wide:
            assert tuple(layer.depthwise_kernel.shape) == (9, 9, TINY.fusion_width, 2), o.name
            assert tuple(layer.pointwise_kernel.shape) == (1, 1, 2 * TINY.fusion_width, o.channels), o.name
        else:
            assert tuple(layer.kernel.shape[:2]) == (1, 1), o.name
    full, cheap = summarize(TINY, 129), summarize(separable, 129)
    assert cheap["gflops"] < 0.6 * full["gflops"] and cheap["params"] < 0.6 * full["params"], (cheap, full)


def test_expanded_offset_convs_give_each_wide_kernel_a_feature_of_its_own():
    """--offset_expansion=E: a 1x1 conv to E maps per output channel, one depthwise kernel each, then a
    1x1; about the multiply-adds of two kernels per head channel."""
    expanded = dataclasses.replace(TINY, offset_separable=True, offset_expansion=2)
    model = build_model(expanded)
    for o in OUTPUTS:
        if o.wide:
            maps = 2 * o.channels
            assert tuple(model.get_layer(f"{o.name}_expand").kernel.shape) == (1, 1, TINY.fusion_width, maps)
            assert tuple(model.get_layer(o.name).depthwise_kernel.shape) == (9, 9, maps, 1), o.name
            assert tuple(model.get_layer(o.name).pointwise_kernel.shape) == (1, 1, maps, o.channels), o.name
    two_per_channel = summarize(dataclasses.replace(expanded, offset_expansion=0), 129)
    assert summarize(expanded, 129)["gflops"] < 1.1 * two_per_channel["gflops"]
    with pytest.raises(ValueError, match="offset_expansion .* needs offset_separable"):
        dataclasses.replace(expanded, offset_separable=False)


def test_a_registered_backbone_builds_a_model_by_name():
    """Adding a backbone is one registered function (plus, if it needs one, its preprocessing layer)."""
    from keras import layers

    @backbones.register_backbone("test_plain_convs")
    def plain(image, weights, antialias, antialias_stem):
        features, x = [], image
        for k, stride in enumerate((4, 2, 2, 2)):
            x = layers.Conv2D(8, 3, strides=stride, padding="same", name=f"plain_c{k + 2}")(x)
            features.append(x)
        return features

    assert "test_plain_convs" in backbones.names()
    model = build_model(ModelConfig(backbone="test_plain_convs", fusion_width=16, head_units=0))
    out = model(np.zeros((1, 64, 96, 3), np.float32))
    assert tuple(out["skfm"].shape) == (1, 8, 12, 17) and tuple(out["sfm"].shape) == (1, 16, 24, 1)
    assert model.get_layer("plain_c5") is not None


@pytest.mark.parametrize("name,channels", [("resnet_tiny", (64, 128, 192, 256)),
                                           ("resnet_small", (64, 128, 256, 512))])
def test_small_backbones_give_c2_to_c5_at_strides_4_to_32(name, channels):
    """resnet_small is resnet_tiny with wider stride-16 and stride-32 stages (4 x the bottleneck filters)."""
    import keras

    image = keras.Input((128, 96, 3))
    features = backbones.get(name).features(image, None, antialias=True, antialias_stem=True)
    assert [tuple(f.shape[1:]) for f in features] == [(128 // s, 96 // s, c) for s, c in zip((4, 8, 16, 32), channels)]
    with pytest.raises(backbones.BackboneError, match=f"{name}.* no pretrained weights"):
        backbones.get(name).features(image, "imagenet")


def test_linear_upsampling_continues_a_ramp_and_nearest_repeats_cells():
    """The fusion's x2 on the cell-centre grid: coarse cell j sits on fine cell 2j (docs/RESULTS.md, "Learning
    under augmentation": a ramp stays a ramp, which blocks of repeated cells are not)."""
    import tensorflow as tf

    from cf_tf.model.blocks import UpsampleAdd

    ramp = tf.reshape(tf.range(4.0), [1, 1, 4, 1]) * tf.ones([1, 4, 1, 1])   # coarse 4 x 4, x = 0..3
    fine = tf.zeros([1, 7, 7, 1])                                             # ceil(7 / 2) = 4 coarse cells
    linear = UpsampleAdd("linear")(fine, ramp)[0, 0, :, 0].numpy()
    nearest = UpsampleAdd("nearest")(fine, ramp)[0, 0, :, 0].numpy()
    np.testing.assert_allclose(linear, [0, 0.5, 1, 1.5, 2, 2.5, 3])
    np.testing.assert_allclose(nearest, [0, 0, 1, 1, 2, 2, 3])
    with pytest.raises(ValueError, match="upsampling"):
        ModelConfig(upsampling="cubic")


def test_blur_pool_keeps_the_cell_centre_rule_and_a_shift_by_a_pixel_changes_little():
    """A strided unit of resnet_tiny with antialias: output cell i is centred on input cell 2i, and a
    one-pixel shift of a fine pattern moves its output far less than plain subsampling does."""
    import tensorflow as tf

    from cf_tf.model.blocks import BlurPool

    impulse = np.zeros((1, 9, 9, 1), np.float32)
    impulse[0, 4, 4] = 1.0
    out = BlurPool()(tf.constant(impulse))[0, ..., 0].numpy()
    assert out.shape == (5, 5) and np.unravel_index(out.argmax(), out.shape) == (2, 2)
    stripes = np.tile(np.array([1.0, 0.0], np.float32), 8)[None, None, :, None] * np.ones((1, 16, 1, 1), np.float32)
    shifted = np.roll(stripes, 1, axis=2)
    blurred = [BlurPool()(tf.constant(x))[0, 2:-2, 2:-2, 0].numpy() for x in (stripes, shifted)]
    plain = [x[0, ::2, ::2, 0][2:-2, 2:-2] for x in (stripes, shifted)]
    assert np.abs(blurred[0] - blurred[1]).max() < 0.01 < np.abs(plain[0] - plain[1]).max()
    with pytest.raises(backbones.BackboneError, match="resnet_tiny"):
        build_model(ModelConfig(backbone="resnet50", antialias=True))


def test_the_anti_aliased_stem_pool_keeps_what_a_one_pixel_shift_moves():
    """resnet_tiny's stem max-pool with antialias_stem: the max at stride 1, then BlurPool. Output cell
    i stays centred on input cell 2i, and one bright pixel keeps its total response wherever it falls,
    while a plain 3x3 max at stride 2 answers it with 2 x 2 cells or with 1 as it moves by a pixel."""
    import tensorflow as tf
    from keras import layers

    model = build_model(ModelConfig(backbone="resnet_tiny", fusion_width=16, head_units=0, antialias_stem=True))
    assert model.get_layer("tiny_pool").strides == (1, 1) and model.get_layer("tiny_pool_blur") is not None

    def pools(row):
        x = np.zeros((1, 16, 16, 1), np.float32)
        x[0, row, row] = 1.0
        padded = layers.ZeroPadding2D(1)(tf.constant(x))
        plain = layers.MaxPooling2D(3, strides=2)(padded)[0, ..., 0].numpy()
        blurred = model.get_layer("tiny_pool_blur")(layers.MaxPooling2D(3, strides=1)(padded))[0, ..., 0].numpy()
        return plain, blurred

    (plain_odd, blur_odd), (plain_even, blur_even) = pools(7), pools(8)
    assert plain_odd.sum() == 4 and plain_even.sum() == 1
    np.testing.assert_allclose(blur_odd.sum(), blur_even.sum(), rtol=0.02)
    assert np.unravel_index(blur_even.argmax(), blur_even.shape) == (4, 4)


def test_fused_batch_norm_trains_as_keras_batch_norm_does():
    """blocks.BatchNorm trains through TensorFlow's fused kernel on one replica: the same outputs,
    gradients and moving statistics as Keras' own BatchNormalization (whose moving variance has no
    Bessel correction: on 2 x 3 x 3 values per channel the kernel's would be 6 % larger)."""
    import tensorflow as tf
    from keras import layers

    from cf_tf.model.blocks import BatchNorm

    x = tf.constant(np.random.default_rng(0).normal(1.0, 3.0, (2, 3, 3, 5)), tf.float32)
    weight = tf.constant(np.random.default_rng(1).normal(size=x.shape), tf.float32)
    init = dict(gamma_initializer="random_normal", beta_initializer="random_normal")
    ours, keras_bn = BatchNorm(synchronized=True, **init), layers.BatchNormalization(synchronized=True, **init)
    ours.build(x.shape)
    keras_bn.build(x.shape)
    ours.set_weights(keras_bn.get_weights())
    results = []
    for layer in (ours, keras_bn):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(y * weight)
        results.append([y, *tape.gradient(loss, [x, layer.gamma, layer.beta]), layer.moving_mean,
                        layer.moving_variance, layer(x, training=False)])
    for a, b in zip(*results):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5)
    assert np.abs(np.asarray(results[0][1])).max() > 1e-3   # the input's gradient is not trivially zero
