"""The converter's errors and atomic writes, and the synthetic generator's annotations."""

import json
import os
import resource
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest
from pycocotools.coco import COCO

from conftest import COCO_SAMPLE, REPO, interruptible
from cf_tf.data import synth
from cf_tf.data.tfrecords import ConversionError, convert


def _small_copy(tmp_path, n_images=3):
    """A writable copy of the first COCO sample images with their annotations."""
    data = json.loads((COCO_SAMPLE / "person_keypoints.json").read_text())
    images = [im for im in data["images"] if any(a["image_id"] == im["id"] for a in data["annotations"])][:n_images]
    ids = {im["id"] for im in images}
    data["images"] = images
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] in ids]
    img_dir = tmp_path / "images"
    img_dir.mkdir()
    for im in images:
        shutil.copy(COCO_SAMPLE / "images" / im["file_name"], img_dir / im["file_name"])
    return data, img_dir


def _run(tmp_path, data, img_dir, ann_text=None):
    ann = tmp_path / "ann.json"
    ann.write_text(ann_text if ann_text is not None else json.dumps(data))
    out = tmp_path / "out" / "rec"
    proc = subprocess.run(
        [sys.executable, "-m", "data_prep.coco_to_tfrecord", f"--annotations={ann}", f"--images={img_dir}",
         f"--output={out}", "--num_shards=2", "--workers=1"],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    left = sorted(os.listdir(out.parent)) if out.parent.exists() else []
    return proc, left


def _corrupt(data, img_dir):
    (img_dir / data["images"][1]["file_name"]).write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg" * 10)
    return "unreadable or corrupt image"


def _missing(data, img_dir):
    os.remove(img_dir / data["images"][2]["file_name"])
    return "image file not found"


def _wrong_size(data, img_dir):
    data["images"][1]["width"] += 7
    return "annotations say"


def _not_keypoints(data, img_dir):
    data["categories"] = [{"id": 1, "name": "person"}]
    return "not a COCO person-keypoints file"


def _bad_keypoints(data, img_dir):
    data["annotations"][0]["keypoints"] = [1, 2, 3]
    return "keypoint values"


@pytest.mark.parametrize("breaker", [_corrupt, _missing, _wrong_size, _not_keypoints, _bad_keypoints])
def test_bad_input_fails_clearly_and_writes_nothing(tmp_path, breaker):
    data, img_dir = _small_copy(tmp_path)
    expected = breaker(data, img_dir)
    proc, left = _run(tmp_path, data, img_dir)
    assert proc.returncode != 0
    assert expected in proc.stderr, proc.stderr[-2000:]
    assert left == [], f"files left behind: {left}"


def _kp(data, value, at=0):
    data["annotations"][0]["keypoints"][at] = value


BAD_ANNOTATIONS = {
    "duplicate image id": (lambda d: d["images"][1].update(id=d["images"][0]["id"]), "appears twice"),
    "duplicate annotation id": (lambda d: d["annotations"][1].update(id=d["annotations"][0]["id"]), "appears twice"),
    "NaN keypoint": (lambda d: _kp(d, float("nan")), "not a finite number"),
    "infinite keypoint": (lambda d: _kp(d, float("inf")), "not a finite number"),
    "text keypoint": (lambda d: _kp(d, "12"), "not a finite number"),
    "visibility 3": (lambda d: _kp(d, 3, at=2), "visibility 3"),
    "keypoint outside the image": (lambda d: (_kp(d, 1e5), _kp(d, 2, at=2)), "outside the"),
    "negative bbox": (lambda d: d["annotations"][0].update(bbox=[0, 0, -5, 10]), "negative"),
    "NaN area": (lambda d: d["annotations"][0].update(area=float("nan")), "finite number"),
    "RLE not the image's size": (lambda d: d["annotations"][0].update(
        segmentation={"counts": [5, 5], "size": [d["images"][0]["height"], d["images"][0]["width"]]}), "add up to"),
}


@pytest.mark.parametrize("kind", sorted(BAD_ANNOTATIONS))
def test_converter_and_evaluate_refuse_the_same_bad_annotations(tmp_path, kind):
    """Both load through annotations.load_person_keypoints: one rule, an error naming the image and
    annotation, and the converter writes nothing (it once exited 0 and put people on other images)."""
    from cf_tf import evaluation

    data, img_dir = _small_copy(tmp_path)
    data["annotations"].sort(key=lambda a: a["image_id"] != data["images"][0]["id"])   # the first is on image 0
    data["annotations"][0]["iscrowd"] = 0
    data["annotations"][0]["keypoints"] = [10.0, 10.0, 2] * 17
    breaker, message = BAD_ANNOTATIONS[kind]
    breaker(data)
    ann = tmp_path / "ann.json"
    ann.write_text(json.dumps(data))
    with pytest.raises(ConversionError, match=message) as converted:
        convert(str(ann), str(img_dir), str(tmp_path / "out" / "rec"), num_shards=1, workers=1)
    with pytest.raises(evaluation.EvaluationError, match=message) as evaluated:
        evaluation.evaluate(str(ann), str(img_dir), None, str(tmp_path / "eval"))
    assert str(converted.value) == str(evaluated.value) and "image " in str(converted.value)
    assert not (tmp_path / "out").exists() or os.listdir(tmp_path / "out") == []


def test_input_error_leaves_no_output_folder_behind(tmp_path):
    data, img_dir = _small_copy(tmp_path)
    _missing(data, img_dir)
    proc, _ = _run(tmp_path, data, img_dir)
    assert proc.returncode != 0 and not (tmp_path / "out").exists()


def test_shard_blocked_by_a_folder_fails_before_writing_and_keeps_older_shards(tmp_path):
    data, img_dir = _small_copy(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "rec-00000-of-00002.tfrecord").write_bytes(b"older shard")
    (out / "rec-00001-of-00002.tfrecord").mkdir()
    proc, left = _run(tmp_path, data, img_dir)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1] == (f"error: {out / 'rec-00001-of-00002.tfrecord'}: exists and is "
                                                    f"not a file; remove it or choose another --output")
    assert left == ["rec-00000-of-00002.tfrecord", "rec-00001-of-00002.tfrecord"]
    assert (out / "rec-00000-of-00002.tfrecord").read_bytes() == b"older shard"


def test_too_many_shards_for_the_open_file_limit_fails_in_one_line_and_leaves_nothing(tmp_path):
    data, img_dir = _small_copy(tmp_path, n_images=2)
    ann = tmp_path / "ann.json"
    ann.write_text(json.dumps(data))
    out = tmp_path / "out" / "rec"
    proc = subprocess.run(
        [sys.executable, "-m", "data_prep.coco_to_tfrecord", f"--annotations={ann}", f"--images={img_dir}",
         f"--output={out}", "--num_shards=300", "--workers=1"], cwd=REPO, capture_output=True, text=True,
        timeout=300, preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (200, 200)))
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1].startswith(f"error: cannot write the shards of {out}:")
    assert "Traceback" not in proc.stderr
    assert not out.parent.exists()


def test_unwritable_output_place_is_one_line(tmp_path):
    data, img_dir = _small_copy(tmp_path, n_images=1)
    (tmp_path / "a.json").write_text(json.dumps(data))
    (tmp_path / "plain_file").write_text("x")
    with pytest.raises(ConversionError, match="plain_file/sub/rec: cannot write there"):
        convert(str(tmp_path / "a.json"), str(img_dir), str(tmp_path / "plain_file" / "sub" / "rec"))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl_c", "sigterm"])
def test_a_stopped_conversion_leaves_nothing(tmp_path, sig):
    """Ctrl-C or SIGTERM while shards are being written: one line, exit 1, no shard and no folder."""
    synth.generate(str(tmp_path / "set"), num_images=60, seed=3, size=256, progress=False)
    out = tmp_path / "out" / "rec"
    proc = subprocess.Popen(
        [sys.executable, "-m", "data_prep.coco_to_tfrecord", f"--annotations={tmp_path}/set/person_keypoints.json",
         f"--images={tmp_path}/set/images", f"--output={out}", "--num_shards=2", "--workers=1"],
        cwd=REPO, stderr=subprocess.PIPE, text=True, preexec_fn=interruptible)
    while "coco_to_tfrecord:" not in proc.stderr.readline():   # the first progress line: shards are open
        assert proc.poll() is None, "the conversion ended before it could be stopped"
    proc.send_signal(sig)
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 1 and "Traceback" not in err
    assert err.strip().splitlines()[-1] == "interrupted: nothing written"
    assert not out.parent.exists()


def test_not_json_and_missing_annotation_file(tmp_path):
    data, img_dir = _small_copy(tmp_path)
    proc, left = _run(tmp_path, data, img_dir, ann_text="{ this is not json")
    assert proc.returncode != 0 and "not a JSON file" in proc.stderr and left == []
    with pytest.raises(ConversionError, match="annotation file not found"):
        convert(str(tmp_path / "nope.json"), str(img_dir), str(tmp_path / "o" / "r"))


def test_degenerate_polygons_are_counted_not_fatal(tmp_path):
    data, img_dir = _small_copy(tmp_path, n_images=2)
    data["annotations"][0]["segmentation"] = [[10, 10, 20, 20]]   # two points: no area
    (tmp_path / "a.json").write_text(json.dumps(data))
    logs = []
    stats = convert(str(tmp_path / "a.json"), str(img_dir), str(tmp_path / "o" / "r"), num_shards=1,
                    log=logs.append)
    assert stats["degenerate_masks"] >= 1 and stats["images"] == 2
    assert any("degenerate" in line for line in logs)
    assert os.listdir(tmp_path / "o") == ["r-00000-of-00001.tfrecord"]


def test_skip_empty_drops_negatives(tmp_path):
    data = json.loads((COCO_SAMPLE / "person_keypoints.json").read_text())
    with_people = {a["image_id"] for a in data["annotations"]}
    stats = convert(str(COCO_SAMPLE / "person_keypoints.json"), str(COCO_SAMPLE / "images"),
                    str(tmp_path / "r"), num_shards=1, skip_empty=True)
    assert stats["images"] == len(with_people) < len(data["images"])


def test_synth_is_deterministic_and_annotations_are_consistent(tmp_path):
    a = synth.generate(str(tmp_path / "a"), num_images=12, seed=3, progress=False)
    b = synth.generate(str(tmp_path / "b"), num_images=12, seed=3, progress=False)
    c = synth.generate(str(tmp_path / "c"), num_images=12, seed=4, progress=False)
    assert a["annotations"] == b["annotations"] and a["annotations"] != c["annotations"]
    assert (tmp_path / "a/images/000003.jpg").read_bytes() == (tmp_path / "b/images/000003.jpg").read_bytes()
    coco = COCO(str(tmp_path / "a" / "person_keypoints.json"))
    counts = {0: 0, 1: 0, 2: 0}
    for img_id in coco.getImgIds():
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[img_id], iscrowd=None))
        masks = {ann["id"]: coco.annToMask(ann) for ann in anns}
        for ann in anns:
            kp = np.asarray(ann["keypoints"]).reshape(17, 3)
            assert ann["area"] == masks[ann["id"]].sum() > 0
            if ann["iscrowd"]:
                assert ann["num_keypoints"] == 0
                continue
            for x, y, v in kp:
                counts[int(v)] += 1
                if v == 2:   # visible: on its own visible mask
                    assert masks[ann["id"]][int(y), int(x)] == 1
                elif v == 1:  # occluded: covered by somebody else
                    assert any(m[int(y), int(x)] for i, m in masks.items() if i != ann["id"])
    assert min(counts.values()) > 0, counts   # every visibility state occurs
    people = [len(coco.getAnnIds(imgIds=[i], iscrowd=False)) for i in coco.getImgIds()]
    assert max(people) >= 3


def test_synth_figures_show_whether_they_face_the_camera():
    """Left and right are only learnable if front and back show: a face in front, hair behind."""
    rng = np.random.default_rng(0)
    k, agree = synth.K, 0
    for _ in range(40):
        image = np.full((200, 200, 3), 128, np.uint8)
        pts = synth.draw_figure(image, np.zeros((200, 200), np.uint8), 1, rng, 150.0, np.array([100.0, 100.0]),
                                textured=False)
        up = (pts[k["left_shoulder"]] + pts[k["right_shoulder"]] - pts[k["left_hip"]] - pts[k["right_hip"]]) / 2
        across = pts[k["left_shoulder"]] - pts[k["right_shoulder"]]
        front = up[0] * across[1] - up[1] * across[0] > 0   # the figure's left is on the image's right
        eye, ear = (image[int(round(p[1])), int(round(p[0]))].astype(int)
                    for p in (pts[k["left_eye"]], pts[k["right_ear"]]))
        face_drawn = np.abs(eye - ear).sum() > 30           # a dark eye on skin, not hair on hair
        agree += face_drawn == front
    assert agree >= 36, agree


def test_synth_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="num_images"):
        synth.generate(str(tmp_path), num_images=0)


def test_records_with_nan_keypoints_stop_training_naming_the_image_not_the_learning_rate(tmp_path):
    """Records written before the converter refused NaN keypoints once stopped training with "loss is
    nan ... Lower --learning_rate": the data was bad, not the rate."""
    import tensorflow as tf

    from cf_tf import training
    from cf_tf.config import DataConfig, ModelConfig, TrainConfig
    from cf_tf.data.schema import encode_example

    data, img_dir = _small_copy(tmp_path, n_images=1)
    image = data["images"][0]
    keypoints = np.array([a["keypoints"] for a in data["annotations"]], np.float32).reshape(-1, 17, 3)
    keypoints[0, 5, 0] = np.nan
    masks = np.zeros((len(keypoints), image["height"], image["width"]), np.uint8)
    with tf.io.TFRecordWriter(str(tmp_path / "old.tfrecord")) as writer:
        writer.write(encode_example((img_dir / image["file_name"]).read_bytes(), image["height"], image["width"],
                                    image["id"], keypoints, [0] * len(keypoints), masks))
    with pytest.raises(training.TrainingError, match=rf"record of image id {image['id']} holds NaN or infinite "
                                                     r"keypoints.*convert the data again") as e:
        training.train(str(tmp_path / "run"), str(tmp_path / "old.tfrecord"), DataConfig(crop_size=65, input_size=65),
                       ModelConfig(backbone="resnet_tiny", fusion_width=16, head_units=0), TrainConfig(train_steps=1),
                       strategy=tf.distribute.OneDeviceStrategy("/cpu:0"), log=lambda m: None)
    assert "learning_rate" not in str(e.value)
    assert not (tmp_path / "run").exists()


def test_more_shards_than_images_warns_and_training_on_empty_records_is_one_line(tmp_path):
    """--num_shards=20 for 8 images once wrote 12 empty shards silently, and records that are all
    empty ended training in "RuntimeError: generator raised StopIteration"."""
    import tensorflow as tf

    from cf_tf import training
    from cf_tf.config import DataConfig, ModelConfig, TrainConfig

    data, img_dir = _small_copy(tmp_path, n_images=2)
    ann = tmp_path / "ann.json"
    ann.write_text(json.dumps(data))
    logs = []
    convert(str(ann), str(img_dir), str(tmp_path / "rec"), num_shards=5, workers=1, log=logs.append)
    assert any("3 of the 5 shards hold no example" in m for m in logs), logs
    empty = ",".join(str(tmp_path / f"rec-{i:05d}-of-00005.tfrecord") for i in (2, 3, 4))
    with pytest.raises(training.TrainingError, match="hold no example"):
        training.train(str(tmp_path / "run"), empty, DataConfig(crop_size=65, input_size=65),
                       ModelConfig(backbone="resnet_tiny", fusion_width=16, head_units=0), TrainConfig(train_steps=1),
                       strategy=tf.distribute.OneDeviceStrategy("/cpu:0"), log=lambda m: None)
    assert not (tmp_path / "run").exists()
