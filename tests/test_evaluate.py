"""cf_tf.evaluate: the oracle's COCO scores on the real samples, perfect heads on a model, the head
report, empty results, bad annotation files."""

import json
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from cf_tf import evaluation, head_report, segm_errors
from cf_tf.config import DataConfig, DecodeConfig, ModelConfig
from cf_tf.inference import Predictor
from cf_tf.model.centerfocus import build_model
from cf_tf.oracle import perfect_outputs
from cf_tf.outputs import NAMES as OUTPUT_NAMES
from conftest import REPO, SAMPLES


def _oracle(name, tmp_path):
    ann, images = SAMPLES[name]
    data = DataConfig()
    run = evaluation.oracle_runner(data, DecodeConfig.matching(data))
    return evaluation.evaluate(str(ann), str(images), run, str(tmp_path), log=lambda m: None)


def test_oracle_on_coco_sample(tmp_path):
    """Ceiling of representation + decoder on real COCO with crowds (SPEC "Evaluation").

    segm is bounded by the seg grid: the ground-truth people, every cell given to its true owner and
    resampled by the decoder, score 0.89 on these images (many people under 32x32 px); see docs/RESULTS.md.
    Masks resampled from cells labelled whole scored 0.666, masks scored by the person's score alone
    0.833, mask-only people clustered with a 5-bin peak window 0.836: the bound keeps them from returning.
    """
    summary = _oracle("coco", tmp_path)
    assert summary["images"] == 57
    assert summary["keypoints"]["AP"] >= 0.90
    assert summary["segm"]["AP"] >= 0.85 and summary["segm"]["APL"] >= 0.95
    results = json.loads((tmp_path / "segm_results.json").read_text())
    assert results and all("counts" in r["segmentation"] and 0 < r["score"] <= 1 for r in results)
    # a mask is scored by its own quality, not by its person's keypoints: they are not one list
    kp_scores = sorted(r["score"] for r in json.loads((tmp_path / "keypoints_results.json").read_text()))
    assert sorted(r["score"] for r in results)[-len(kp_scores):] != kp_scores
    # the results load against the ground truth as COCO results
    COCO(str(SAMPLES["coco"][0])).loadRes(str(tmp_path / "keypoints_results.json"))


def test_perfect_assignment_is_the_ceiling_of_the_oracle(tmp_path):
    """The ground-truth people through the decoder's resampling (--perfect_assignment) score at least
    the oracle's segm, and their keypoints exactly."""
    ann, images = SAMPLES["coco"]
    data = DataConfig()
    run = evaluation.perfect_assignment_runner(data, DecodeConfig.matching(data))
    summary = evaluation.evaluate(str(ann), str(images), run, str(tmp_path), log=lambda m: None)
    assert summary["images"] == 57 and summary["keypoints"]["AP"] == 1.0
    assert summary["segm"]["AP"] >= 0.88


def test_oracle_on_ochuman_sample(tmp_path):
    summary = _oracle("ochuman", tmp_path)
    assert summary["keypoints"]["AP"] >= 0.75 and summary["segm"]["AP"] >= 0.75


def test_no_detections_score_zero_not_crash(tmp_path):
    ann, images = SAMPLES["ochuman"]
    empty = {"num_people": 0}
    summary = evaluation.evaluate(str(ann), str(images), lambda *a: empty, str(tmp_path), log=lambda m: None)
    assert summary["keypoints"]["AP"] == 0.0 and summary["segm"]["AP"] == 0.0 and summary["images"] == 3
    assert json.loads((tmp_path / "keypoints_results.json").read_text()) == []


def test_no_ground_truth_is_reported_as_undefined_not_zero(tmp_path):
    """An AP of 0.0 on images with nobody in them could not be told from a useless model."""
    data = json.loads(SAMPLES["ochuman"][0].read_text())
    data["annotations"] = []
    ann = tmp_path / "nobody.json"
    ann.write_text(json.dumps(data))
    logged = []
    summary = evaluation.evaluate(str(ann), str(SAMPLES["ochuman"][1]), lambda *a: {"num_people": 0},
                                  str(tmp_path / "eval"), log=logged.append)
    assert summary["keypoints"]["AP"] is None and summary["segm"]["AP"] is None and summary["images"] == 3
    assert any("no ground truth" in m for m in logged)


def test_unreadable_image_is_skipped_and_reported(tmp_path):
    ann, images = SAMPLES["ochuman"]
    logs = []

    def run(img, anns, image_dir):
        if img["id"] == 1:
            raise evaluation.EvaluationError("corrupt")
        return {"num_people": 0}

    summary = evaluation.evaluate(str(ann), str(images), run, str(tmp_path), log=logs.append)
    assert summary["images"] == 2 and any("skipped image 1" in m for m in logs)


def test_results_that_cannot_all_be_written_leave_none(tmp_path, monkeypatch):
    """A full disk once left keypoints_results.json without segm_results.json: half a result set that
    passes for a finished evaluation. Both or neither, and no folder the run created."""
    from cf_tf import files

    ann, images = SAMPLES["ochuman"]
    real = files.write_json

    def full_for_segm(path, obj, **kwargs):
        if path.endswith("segm_results.json"):
            raise files.WriteError(f"could not write {path}: No space left on device")
        return real(path, obj, **kwargs)

    monkeypatch.setattr(evaluation, "write_json", full_for_segm)
    out = tmp_path / "new" / "eval"
    with pytest.raises(files.WriteError, match="segm_results.json: No space left on device"):
        evaluation.evaluate(str(ann), str(images), lambda img, anns, d: {"num_people": 0}, str(out), log=lambda m: None)
    assert not out.exists()


def test_image_folder_without_any_of_the_images_exits_non_zero(tmp_path):
    ann, _ = SAMPLES["ochuman"]
    proc = subprocess.run([sys.executable, "-m", "cf_tf.evaluate", "--oracle", f"--annotations={ann}",
                           f"--images={tmp_path}", f"--output_dir={tmp_path / 'eval'}"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert f"none of the 3 image(s) of {ann} could be read from {tmp_path}" in proc.stderr
    assert not (tmp_path / "eval").exists()


def test_not_coco_keypoints_is_a_clear_error(tmp_path):
    bad = tmp_path / "instances.json"
    bad.write_text(json.dumps({"images": [], "annotations": [], "categories": [{"id": 1, "name": "person"}]}))
    proc = subprocess.run([sys.executable, "-m", "cf_tf.evaluate", "--oracle", f"--annotations={bad}",
                           f"--images={tmp_path}"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and "not a COCO person-keypoints file" in proc.stderr
    with pytest.raises(evaluation.EvaluationError, match="annotation file not found"):
        evaluation.evaluate(str(tmp_path / "none.json"), str(tmp_path), None, str(tmp_path))


def test_perfect_heads_replace_only_the_named_outputs(tmp_path):
    """All heads perfect = the oracle; no head perfect = the model's own decode (Predictor)."""
    ann, images = SAMPLES["coco"]
    data = DataConfig(input_size=257)
    decode = DecodeConfig.matching(data)
    keras.utils.set_random_seed(0)
    model = build_model(ModelConfig(backbone="resnet_tiny", fusion_width=32, head_units=1))
    coco = COCO(str(ann))
    image_id = max(coco.getImgIds(), key=lambda i: len(coco.getAnnIds(imgIds=[i], areaRng=[64 ** 2, 1e10])))
    img, anns = coco.loadImgs([image_id])[0], coco.loadAnns(coco.getAnnIds(imgIds=[image_id]))

    def people(run):
        return run(img, anns, str(images))

    oracle = people(evaluation.oracle_runner(data, decode))
    all_perfect = people(evaluation.oracle_runner(data, decode, model, OUTPUT_NAMES))
    none_perfect = people(evaluation.oracle_runner(data, decode, model, ()))
    # the image as the records decode it (TF's JPEG decoder, not OpenCV's), so both see the same pixels
    pixels = tf.io.decode_jpeg((images / img["file_name"]).read_bytes(), channels=3)
    own = {k: v.numpy()[0] for k, v in Predictor(model, data, decode)(pixels[None]).items()}
    assert oracle["num_people"] >= 2
    for key in ("keypoints", "scores", "mask_scores", "masks", "num_people"):
        np.testing.assert_array_equal(all_perfect[key], oracle[key])
        np.testing.assert_allclose(none_perfect[key], own[key], atol=1e-3)
    assert not np.array_equal(none_perfect["keypoints"], oracle["keypoints"])


def _pairs(data, transform):
    """(outputs, targets) of the OCHuman sample images: perfect outputs passed through `transform`."""
    ann, images = SAMPLES["ochuman"]
    coco = COCO(str(ann))
    for img in coco.loadImgs(coco.getImgIds()):
        f = evaluation.features_with_targets(img, coco.loadAnns(coco.getAnnIds(imgIds=[img["id"]])), str(images), data)
        yield transform(perfect_outputs(f["targets"])), f["targets"]


def test_head_report_scores_each_output_against_its_target():
    """Perfect outputs: AUC 1 and L1 0 everywhere; an offset head predicting 0 scores exactly the
    untrained baseline; a head shifted by a known amount scores that amount."""
    data = DataConfig(input_size=257)
    report = head_report.head_report(_pairs(data, lambda o: o), data.geometry.radius, data.geometry.pose_stride)
    assert report["images"] == 3 and report["skfm_auc"] == 1.0 and report["sfm_auc"] == 1.0
    for name in head_report.OFFSETS:
        assert report[name]["count"] > 0 and report[name]["zero_l1"] > 0
        assert report[name]["l1"] == pytest.approx(0.0, abs=1e-3)
    # near cells are within one pose stride (8 px = R / 4) of their keypoint: |dx| + |dy| <= 2 * 0.25
    assert report["keycentroid_near"]["zero_l1"] <= 0.5 < report["keycentroid"]["zero_l1"]
    # outline cells have a target coverage strictly inside (EDGE, 1 - EDGE): predicting 0 errs by it
    assert head_report.EDGE < report["sfm_edge"]["zero_l1"] < 1 - head_report.EDGE

    def spoil(outputs):
        return dict(outputs, keycentroid=tf.zeros_like(outputs["keycentroid"]),
                    maskcentroid=outputs["maskcentroid"] + [0.5, 0.0],
                    skfm=-outputs["skfm"], sfm=tf.fill(tf.shape(outputs["sfm"]), 30.0))
    spoiled = head_report.head_report(_pairs(data, spoil), data.geometry.radius, data.geometry.pose_stride)
    # an SFM of 1 everywhere errs on each outline cell by 1 - its coverage
    assert spoiled["sfm_edge"]["l1"] == pytest.approx(1 - spoiled["sfm_edge"]["zero_l1"], abs=1e-5)
    assert spoiled["keycentroid"]["l1"] == pytest.approx(spoiled["keycentroid"]["zero_l1"])
    assert spoiled["maskcentroid"]["l1"] == pytest.approx(0.5, abs=1e-4)
    assert spoiled["skfm_auc"] == 0.0 and spoiled["mid_offsets"]["l1"] == pytest.approx(0.0, abs=1e-3)
    table = head_report.format_report(spoiled)
    assert "keycentroid_near" in table and "0.500" in table and "mean L1 (coverage)" in table


def _rle(mask):
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": rle["size"], "counts": rle["counts"].decode()}


def test_segm_errors_split_each_persons_area_by_what_its_mask_got_wrong():
    """Two people side by side (A: columns 0-9, B: 10-19, rows 0-9) and a crowd; mask 1 is A plus
    B's column 10, two background rows and the crowd, mask 2 B's columns 14-19."""
    def box(rows, cols):
        m = np.zeros((20, 20), bool)
        m[rows[0]:rows[1], cols[0]:cols[1]] = True
        return m
    a, b, crowd = box((0, 10), (0, 10)), box((0, 10), (10, 20)), box((15, 20), (0, 5))
    gt = COCO()
    gt.dataset = {"images": [{"id": 1, "width": 20, "height": 20}], "categories": [{"id": 1, "name": "person"}],
                  "annotations": [{"id": i + 1, "image_id": 1, "category_id": 1, "iscrowd": int(i == 2),
                                   "area": float(m.sum()), "segmentation": _rle(m)}
                                  for i, m in enumerate((a, b, crowd))]}
    gt.createIndex()
    mask1 = a | box((0, 10), (10, 11)) | box((10, 12), (0, 10)) | crowd
    results = [{"image_id": 1, "category_id": 1, "score": 0.9, "segmentation": _rle(m)}
               for m in (mask1, box((0, 10), (14, 20)))]
    errors = segm_errors.segm_errors(gt, results, [1])
    # of the 200 px of A and B: 20 background rows, B's 10 px column in A's mask, B's 30 px between the masks
    assert errors["people"] == 2
    assert errors["background_drawn_in"] == pytest.approx(0.10)
    assert errors["neighbour_drawn_in"] == pytest.approx(0.05)
    assert errors["in_no_mask"] == pytest.approx(0.15)
    assert errors["in_another_mask"] == pytest.approx(0.05)
    assert errors["median_iou"] == pytest.approx((100 / 155 + 60 / 100) / 2)
    # the SFM's 50 px over the outlines: A's right column and bottom row, B's left column and bottom
    # row, 19 px each (the image's border is no outline)
    assert errors["outline_px"] == pytest.approx(50 / 38)
    # nothing predicted: every person's area is in no mask
    assert segm_errors.segm_errors(gt, [], [1])["in_no_mask"] == pytest.approx(1.0)
    # an image with nobody in it: nothing to score, said so, not a share of zero
    gt.dataset["images"].append({"id": 2, "width": 20, "height": 20})
    gt.createIndex()
    empty = segm_errors.segm_errors(gt, results, [2])
    assert empty["people"] == 0 and empty["in_no_mask"] is None and empty["outline_px"] is None
    assert "no person" in segm_errors.format_errors(empty)


@pytest.mark.parametrize("source, extra, message", [
    ("--oracle", [], "--head_report needs --model_dir"),
    ("--model_dir=/nonexistent", ["--perfect_heads=sfm"], "leave out --perfect_heads"),
    ("--model_dir=/nonexistent", ["--segm_errors"], "--segm_errors needs a decoding run"),
])
def test_head_report_bad_flags_are_clear_errors(source, extra, message):
    ann, images = SAMPLES["ochuman"]
    proc = subprocess.run([sys.executable, "-m", "cf_tf.evaluate", source, "--head_report", *extra,
                           f"--annotations={ann}", f"--images={images}"], cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode != 0 and message in proc.stderr


@pytest.mark.parametrize("flags", [["--oracle"], ["--model_dir=/nonexistent", "--perfect_heads=sfm"]])
def test_flip_test_without_a_network_to_average_is_a_clear_error(flags):
    ann, images = SAMPLES["ochuman"]
    proc = subprocess.run([sys.executable, "-m", "cf_tf.evaluate", *flags, "--flip_test", f"--annotations={ann}",
                           f"--images={images}"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and "--flip_test averages a network's outputs" in proc.stderr


def test_oracle_of_a_training_folder_takes_its_geometry_and_input_size(tmp_path):
    """--oracle --model_dir: the ceiling of the targets that folder trained on (its R and input size from
    cf_tf_config.json, no weights read), the same as the plain oracle given those settings as flags."""
    ann, images = SAMPLES["ochuman"]
    folder = tmp_path / "model"
    folder.mkdir()
    config = json.loads((REPO / "models/synthetic_tiny/cf_tf_config.json").read_text())
    config["geometry"]["radius"] = 16.0
    (folder / "cf_tf_config.json").write_text(json.dumps(config))
    common = [sys.executable, "-m", "cf_tf.evaluate", "--oracle", f"--annotations={ann}", f"--images={images}"]

    def scores(*flags):
        proc = subprocess.run([*common, *flags], cwd=REPO, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        return json.loads(proc.stdout.strip().splitlines()[-1])

    of_folder = scores(f"--model_dir={folder}")
    assert (folder / "oracle_eval" / "keypoints_results.json").is_file()   # beside, not over, the model's eval/
    assert of_folder == scores("--disk_radius=16", "--input_size=257", f"--output_dir={tmp_path / 'flags'}")
    assert of_folder != scores(f"--output_dir={tmp_path / 'default'}")     # R 32 at 641 px scores otherwise
    proc = subprocess.run([*common, f"--model_dir={folder}", "--disk_radius=8"], cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode != 0 and "--disk_radius" in proc.stderr
