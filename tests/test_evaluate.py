"""cf_tf.evaluate: the oracle's COCO scores on the real samples, perfect heads on a model, empty results,
bad annotation files."""

import json
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from pycocotools.coco import COCO

from cf_tf import evaluate
from cf_tf.config import DataConfig, DecodeConfig, ModelConfig
from cf_tf.inference import Predictor
from cf_tf.model.centerfocus import OUTPUT_NAMES, build_model
from conftest import REPO, SAMPLES


def _oracle(name, tmp_path):
    ann, images = SAMPLES[name]
    data = DataConfig()
    run = evaluate.oracle_runner(data, DecodeConfig.matching(data))
    return evaluate.evaluate(str(ann), str(images), run, str(tmp_path), log=lambda m: None)


def test_oracle_on_coco_sample(tmp_path):
    """Ceiling of representation + decoder on real COCO with crowds (SPEC "Evaluation").

    segm is bounded by resolution, not by assignment: masks sampled at stride 4 of a 641 canvas and
    assigned perfectly score 0.668 on these images (many people under 32x32 px); see README.
    """
    summary = _oracle("coco", tmp_path)
    assert summary["images"] == 57
    assert summary["keypoints"]["AP"] >= 0.90
    assert summary["segm"]["AP"] >= 0.65 and summary["segm"]["APL"] >= 0.95
    results = json.loads((tmp_path / "segm_results.json").read_text())
    assert results and all("counts" in r["segmentation"] and 0 < r["score"] for r in results)
    # the results load against the ground truth as COCO results
    COCO(str(SAMPLES["coco"][0])).loadRes(str(tmp_path / "keypoints_results.json"))


def test_oracle_on_ochuman_sample(tmp_path):
    summary = _oracle("ochuman", tmp_path)
    assert summary["keypoints"]["AP"] >= 0.75 and summary["segm"]["AP"] >= 0.70


def test_no_detections_score_zero_not_crash(tmp_path):
    ann, images = SAMPLES["ochuman"]
    empty = {"num_people": 0}
    summary = evaluate.evaluate(str(ann), str(images), lambda *a: empty, str(tmp_path), log=lambda m: None)
    assert summary["keypoints"]["AP"] == 0.0 and summary["segm"]["AP"] == 0.0 and summary["images"] == 3
    assert json.loads((tmp_path / "keypoints_results.json").read_text()) == []


def test_unreadable_image_is_skipped_and_reported(tmp_path):
    ann, images = SAMPLES["ochuman"]
    logs = []

    def run(img, anns, image_dir):
        if img["id"] == 1:
            raise evaluate.EvaluationError("corrupt")
        return {"num_people": 0}

    summary = evaluate.evaluate(str(ann), str(images), run, str(tmp_path), log=logs.append)
    assert summary["images"] == 2 and any("skipped image 1" in m for m in logs)


def test_not_coco_keypoints_is_a_clear_error(tmp_path):
    bad = tmp_path / "instances.json"
    bad.write_text(json.dumps({"images": [], "annotations": [], "categories": [{"id": 1, "name": "person"}]}))
    proc = subprocess.run([sys.executable, "-m", "cf_tf.evaluate", "--oracle", f"--annotations={bad}",
                           f"--images={tmp_path}"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and "not a COCO person-keypoints file" in proc.stderr
    with pytest.raises(evaluate.EvaluationError, match="annotation file not found"):
        evaluate.evaluate(str(tmp_path / "none.json"), str(tmp_path), None, str(tmp_path))


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

    oracle = people(evaluate.oracle_runner(data, decode))
    all_perfect = people(evaluate.oracle_runner(data, decode, model, OUTPUT_NAMES))
    none_perfect = people(evaluate.oracle_runner(data, decode, model, ()))
    # the image as the records decode it (TF's JPEG decoder, not OpenCV's), so both see the same pixels
    pixels = tf.io.decode_jpeg((images / img["file_name"]).read_bytes(), channels=3)
    own = {k: v.numpy()[0] for k, v in Predictor(model, data, decode)(pixels[None]).items()}
    assert oracle["num_people"] >= 2
    for key in ("keypoints", "scores", "masks", "num_people"):
        np.testing.assert_array_equal(all_perfect[key], oracle[key])
        np.testing.assert_allclose(none_perfect[key], own[key], atol=1e-3)
    assert not np.array_equal(none_perfect["keypoints"], oracle["keypoints"])
