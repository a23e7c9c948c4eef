"""The run config: one geometry for data and model, saved once; folders from before still load."""

import json

import pytest

from cf_tf.config import DataConfig, Geometry, ModelConfig, load_run_config, save_run_config


def test_run_config_round_trips_with_one_shared_geometry(tmp_path):
    geometry = Geometry(pose_stride=16, seg_stride=8, radius=24.0, anchor_rule="mean_keypoints")
    model, data = ModelConfig(backbone="resnet_tiny", geometry=geometry), DataConfig(crop_size=161, geometry=geometry)
    save_run_config(str(tmp_path), model, data)
    saved = json.load(open(tmp_path / "cf_tf_config.json"))
    assert set(saved) == {"geometry", "model", "data"}
    assert "pose_stride" not in saved["model"] and "radius" not in saved["data"]
    assert load_run_config(str(tmp_path)) == (model, data)
    with pytest.raises(ValueError, match="share one geometry"):
        save_run_config(str(tmp_path), ModelConfig(), data)


def test_a_folder_written_before_the_geometry_section_loads(tmp_path):
    legacy = {"model": {"backbone": "resnet_tiny", "backbone_weights": "none", "pose_stride": 8, "seg_stride": 4,
                        "fusion_width": 64, "head_units": 1, "offset_kernel": 9},
              "data": {"crop_size": 161, "input_size": 257, "pose_stride": 8, "seg_stride": 4, "radius": 32.0,
                       "mid_scale": 64.0, "mask_scale": 48.0, "scale_min": 0.7, "scale_max": 1.3,
                       "max_rotation": 30.0, "flip_prob": 0.5, "max_shift": 0.1, "anchor_rule": "mask_mean"}}
    (tmp_path / "cf_tf_config.json").write_text(json.dumps(legacy))
    model, data = load_run_config(str(tmp_path))
    assert model.geometry is data.geometry
    assert data.geometry == Geometry(mask_scale=48.0, anchor_rule="mask_mean")
    assert (model.fusion_width, data.input_size) == (64, 257)
    assert model.upsampling == "nearest", "folders from before the choice were trained with nearest upsampling"


def test_a_folder_from_before_the_anti_aliased_stem_and_separable_offsets_loads_without_them(tmp_path):
    """A run config written before --antialias_stem, --offset_separable and --offset_expansion (the kept
    model of that day, R 32) has none of those keys: it loads as the network it was, plain stem
    max-pool and full offset convs."""
    legacy = {"geometry": {"pose_stride": 8, "seg_stride": 4, "radius": 32.0, "mid_scale": 64.0, "mask_scale": 64.0,
                           "anchor_rule": "right_shoulder"},
              "model": {"backbone": "resnet_tiny", "backbone_weights": "none", "fusion_width": 64, "head_units": 1,
                        "offset_kernel": 9, "upsampling": "linear", "antialias": True},
              "data": {"crop_size": 161, "input_size": 257, "scale_min": 0.7, "scale_max": 1.3, "max_rotation": 30.0,
                       "flip_prob": 0.5, "max_shift": 0.1}}
    (tmp_path / "cf_tf_config.json").write_text(json.dumps(legacy))
    model, _ = load_run_config(str(tmp_path))
    assert model.antialias and not model.antialias_stem
    assert not model.offset_separable and model.offset_expansion == 0
