"""Network shapes for several input sizes, parameter counts, backbone errors."""

import numpy as np
import pytest

from cf_tf.config import ModelConfig
from cf_tf.keypoints import DISK_RADIUS, grid_size
from cf_tf.model import backbones
from cf_tf.model.centerfocus import OUTPUT_NAMES, build_model
from cf_tf.model.summary import summarize

TINY = ModelConfig(backbone="resnet_tiny", fusion_width=32, head_units=1)
CHANNELS = {"skfm": 17, "keycentroid": 34, "mid_offsets": 64, "bhm": 1, "sfm": 1, "maskcentroid": 2}


@pytest.mark.parametrize("pose_stride,seg_stride", [(8, 4), (16, 8)])
def test_output_shapes_follow_the_strides_for_any_input_size(pose_stride, seg_stride):
    model = build_model(ModelConfig(backbone="resnet_tiny", fusion_width=32, head_units=1,
                                    pose_stride=pose_stride, seg_stride=seg_stride))
    for h, w in ((401, 401), (257, 257), (130, 217)):
        out = model(np.zeros((2, h, w, 3), np.float32))
        assert set(out) == set(OUTPUT_NAMES)
        for name, t in out.items():
            s = seg_stride if name in ("sfm", "maskcentroid") else pose_stride
            assert tuple(t.shape) == (2, grid_size(h, s), grid_size(w, s), CHANNELS[name]), name
            assert t.dtype.name == "float32"


def test_resnet101_parameter_count_is_near_the_papers():
    params = build_model(ModelConfig(backbone="resnet101")).count_params()
    assert abs(params - 44.5e6) / 44.5e6 < 0.15, params


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
        ModelConfig(pose_stride=4)


def test_keycentroid_and_mid_range_convs_span_the_disk_the_others_are_1x1():
    model = build_model(TINY)
    for name in OUTPUT_NAMES:
        size = TINY.offset_kernel if name in ("keycentroid", "mid_offsets") else 1
        assert tuple(model.get_layer(name).kernel.shape[:2]) == (size, size), name
    assert TINY.offset_kernel == 2 * int(DISK_RADIUS) // TINY.pose_stride + 1   # the whole disk
    old = build_model(ModelConfig(backbone="resnet_tiny", fusion_width=32, head_units=1, offset_kernel=1))
    assert tuple(old.get_layer("keycentroid").kernel.shape[:2]) == (1, 1)
    with pytest.raises(ValueError, match="offset_kernel"):
        ModelConfig(offset_kernel=4)
