"""The SavedModel (decoding inside) loads without cf_tf and matches the in-process decoder; predict."""

import dataclasses
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import cv2
import numpy as np
import pytest
import tensorflow as tf
from pycocotools.coco import COCO

from cf_tf import files, prediction, serving, training
from cf_tf.config import DataConfig, DecodeConfig, ModelConfig, TrainConfig
from cf_tf.inference import CheckpointError, Predictor, keep_model, load_saved_model, restore_model
from conftest import COCO_SAMPLE, REPO, interruptible
from test_images import with_exif

JPEG = COCO_SAMPLE / "images" / "000000000790.jpg"


@pytest.fixture(scope="module")
def saved_model(synth_data, tmp_path_factory):
    """A tiny model trained for a few steps and exported: (model_dir, SavedModel dir)."""
    _, _, pattern = synth_data
    root = tmp_path_factory.mktemp("export")
    data = DataConfig(crop_size=129, input_size=161)
    model_cfg = ModelConfig(backbone="resnet_tiny", fusion_width=32, head_units=1)
    training.train(str(root / "model"), pattern, data, model_cfg,
                   TrainConfig(train_steps=3, batch_size=2, learning_rate=1e-3),
                   strategy=tf.distribute.OneDeviceStrategy("/cpu:0"), log=lambda m: None)
    model, _, data_cfg = restore_model(str(root / "model"))
    predictor = Predictor(model, data_cfg, DecodeConfig.matching(data_cfg, peak_threshold=0.0, min_person_score=0.0))
    serving.export(predictor, str(root / "sm"))
    return root, predictor


def test_savedmodel_runs_without_cf_tf_and_matches_in_process(saved_model, tmp_path):
    root, predictor = saved_model
    blocker = tmp_path / "block"
    (blocker / "cf_tf").mkdir(parents=True)
    (blocker / "cf_tf" / "__init__.py").write_text("raise ImportError('cf_tf must not be needed')\n")
    script = textwrap.dedent(f"""
        import numpy as np, tensorflow as tf
        try:
            import cf_tf
            raise SystemExit("cf_tf was importable")
        except ImportError:
            pass
        sm = tf.saved_model.load({str(root / "sm")!r})
        data = open({str(JPEG)!r}, "rb").read()
        image = tf.io.decode_jpeg(data, channels=3)
        a = sm.signatures["serving_default"](images=image[None])
        b = sm.signatures["serve_bytes"](image_bytes=tf.constant([data]))
        np.savez({str(tmp_path / "out.npz")!r}, **{{"a_" + k: v.numpy() for k, v in a.items()}},
                 **{{"b_" + k: v.numpy() for k, v in b.items()}})
    """)
    env = dict(os.environ, PYTHONPATH=str(blocker))
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = np.load(tmp_path / "out.npz")
    h, w = cv2.imread(str(JPEG)).shape[:2]
    n = out["a_scores"].shape[1]
    assert out["a_keypoints"].shape == (1, n, 17, 3) and out["a_keypoints"].dtype == np.float32
    # the image is larger than the 161 canvas: its masks come at the canvas's resolution (bounded)
    s = 161 / max(h, w)
    assert out["a_masks"].shape == (1, n, round(h * s), round(w * s)) and out["a_masks"].dtype == np.uint8
    assert out["a_boxes"].shape == (1, n, 4) and out["a_num_people"].dtype == np.int32
    k = int(out["a_num_people"][0])
    assert k > 0   # thresholds at 0: an untrained model still yields people
    kps = out["a_keypoints"][0, :k]
    assert np.all((kps[..., 0] >= 0) & (kps[..., 0] <= w) & (kps[..., 1] >= 0) & (kps[..., 1] <= h))
    assert not out["a_keypoints"][0, k:].any() and not out["a_masks"][0, k:].any()
    for key in ("keypoints", "scores", "mask_scores", "masks", "boxes", "num_people"):
        np.testing.assert_array_equal(out["a_" + key], out["b_" + key])
    assert np.all(out["a_mask_scores"][0] <= out["a_scores"][0] + 1e-6) and not out["a_mask_scores"][0, k:].any()
    mine = predictor(tf.io.decode_jpeg(JPEG.read_bytes(), channels=3)[None])
    np.testing.assert_allclose(mine["keypoints"].numpy(), out["a_keypoints"], atol=1e-3)
    np.testing.assert_array_equal(mine["masks"].numpy(), out["a_masks"])


def test_export_refuses_to_overwrite(saved_model):
    root, predictor = saved_model
    with pytest.raises(FileExistsError, match="--overwrite"):
        serving.export(predictor, str(root / "sm"))
    assert (root / "sm" / "saved_model.pb").exists()


def _tree(path):
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


@pytest.mark.parametrize("case", ["the training folder", "a folder holding it", "inside it", "a regular file",
                                  "a folder export did not write"])
def test_export_overwrite_replaces_only_a_savedmodel_export_wrote(saved_model, tmp_path, case):
    """--overwrite once deleted the training run (--output=M) or every run beside it (--output=runs)."""
    root, predictor = saved_model
    runs = tmp_path / "runs"
    shutil.copytree(root / "model", runs / "model")
    inside = runs / "model" / "sm"
    shutil.copytree(root / "sm", inside)   # a SavedModel export wrote, but inside a training folder
    user_file = tmp_path / "notes.txt"
    user_file.write_text("mine")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "data.csv").write_text("1,2")
    output = {"the training folder": runs / "model", "a folder holding it": runs, "inside it": inside,
              "a regular file": user_file, "a folder export did not write": tmp_path / "mine"}[case]
    before = _tree(tmp_path)
    with pytest.raises(files.OutputPathError, match=re.escape(str(output))):
        serving.export(predictor, str(output), overwrite=True)
    assert _tree(tmp_path) == before, "nothing was deleted or added"
    assert user_file.read_text() == "mine"


def test_export_overwrite_replaces_its_own_savedmodel_and_two_exports_cannot_both_win(saved_model, tmp_path):
    root, predictor = saved_model
    target = tmp_path / "sm"
    shutil.copytree(root / "sm", target)
    (target / "stale").write_text("from the old export")
    with files.path_lock(str(target), "another export"):
        with pytest.raises(files.FolderLockedError, match="in use"):
            serving.export(predictor, str(target), overwrite=True)
    assert (target / "stale").exists(), "a locked output is left alone"
    assert serving.export(predictor, str(target), overwrite=True) == str(target)
    assert not (target / "stale").exists() and (target / files.EXPORT_MARKER).is_file()
    # the SavedModel says how it decodes (its settings are built in)
    recorded = json.loads((target / files.EXPORT_MARKER).read_text())["decoding"]
    assert recorded == json.loads(json.dumps(dataclasses.asdict(predictor.decode_cfg)))
    assert sorted(os.listdir(tmp_path)) == ["sm"], "no temporary folder or lock is left beside it"


def test_export_on_a_full_disk_leaves_nothing_and_says_so(saved_model, tmp_path, monkeypatch):
    root, predictor = saved_model

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tf.saved_model, "save", full_disk)
    with pytest.raises(files.WriteError, match="No space left on device"):
        serving.export(predictor, str(tmp_path / "sm"))
    assert os.listdir(tmp_path) == []


def test_predict_on_a_full_disk_stops_and_counts_nothing_it_did_not_write(saved_model, tmp_path, full_disk):
    """It once counted an image whose picture cv2.imwrite could not write as done, and ended with
    "none of the images could be read"."""
    root, _ = saved_model
    images = tmp_path / "images"
    images.mkdir()
    (images / "a.jpg").write_bytes(JPEG.read_bytes())
    out = tmp_path / "out"
    with pytest.raises(files.WriteError, match=r"a\.jpg\.json.*No space left on device"):
        prediction.predict(str(root / "sm"), str(images), str(out), log=lambda m: None)
    assert os.listdir(out) == []


def test_predict_writes_json_and_png_and_survives_bad_files(saved_model, tmp_path):
    root, _ = saved_model
    images = tmp_path / "images"
    images.mkdir()
    (images / "000000000790.jpg").write_bytes(JPEG.read_bytes())
    (images / "corrupt.jpg").write_bytes(JPEG.read_bytes()[:2000])
    (images / "zero.jpg").write_bytes(b"")
    cv2.imwrite(str(images / "gray.png"), np.full((50, 70), 90, np.uint8))
    cv2.imwrite(str(images / "rgba.png"), np.full((40, 30, 4), 200, np.uint8))
    cv2.imwrite(str(images / "one.png"), np.zeros((1, 1, 3), np.uint8))
    logs = []
    summary = prediction.predict(str(root / "sm"), str(images), str(tmp_path / "out"), min_score=0.0, log=logs.append)
    assert summary["images"] == 4
    assert sorted(os.path.basename(p) for p, _ in summary["failed"]) == ["corrupt.jpg", "zero.jpg"]
    assert any("corrupt.jpg" in m and "not a readable image (truncated or corrupt file" in m and "JPEG" in m
               and "function_node" not in m for m in logs)
    for name in ("000000000790.jpg", "gray.png", "rgba.png", "one.png"):
        assert (tmp_path / "out" / f"{name}.json").exists() and (tmp_path / "out" / f"{name}.png").exists()
    assert cv2.imread(str(tmp_path / "out" / "gray.png.png")).shape[:2] == (50, 70)
    results = json.loads((tmp_path / "out" / "000000000790.jpg.json").read_text())
    assert results and all(r["image_id"] == 790 for r in results)
    gt = COCO(str(COCO_SAMPLE / "person_keypoints.json"))
    loaded = gt.loadRes(str(tmp_path / "out" / "000000000790.jpg.json"))
    assert len(loaded.getAnnIds()) == len(results)
    # --min_score filters people out
    strict = prediction.predict(str(root / "sm"), str(images / "000000000790.jpg"), str(tmp_path / "o2"),
                             min_score=1.0, log=logs.append)
    assert strict["people"] == 0


def test_predict_keeps_same_stem_inputs_apart_and_never_writes_into_the_input_folder(saved_model, tmp_path):
    root, _ = saved_model
    images = tmp_path / "d"
    images.mkdir()
    (images / "a.jpg").write_bytes(JPEG.read_bytes())
    cv2.imwrite(str(images / "a.png"), np.full((40, 60, 3), 120, np.uint8))
    before = {p.name: p.read_bytes() for p in images.iterdir()}
    with pytest.raises(ValueError, match="is the folder of the input images"):
        prediction.predict(str(root / "sm"), str(images), str(images), log=lambda m: None)
    with pytest.raises(ValueError, match="is the folder of the input images"):
        prediction.predict(str(root / "sm"), str(images / "a.png"), str(images / "."), log=lambda m: None)
    assert {p.name: p.read_bytes() for p in images.iterdir()} == before
    summary = prediction.predict(str(root / "sm"), str(images), str(tmp_path / "out"), min_score=0.0, log=lambda m: None)
    assert summary["images"] == 2
    assert sorted(os.listdir(tmp_path / "out")) == ["a.jpg.json", "a.jpg.png", "a.png.json", "a.png.png"]
    assert cv2.imread(str(tmp_path / "out" / "a.png.png")).shape[:2] == (40, 60)


def test_predict_works_in_the_frame_a_viewer_shows_and_refuses_too_many_pixels(saved_model, tmp_path):
    """A phone's portrait photo is stored landscape with an EXIF orientation: predict's people and
    picture are those of the upright photo (the same as for its pixels turned and saved without EXIF);
    an image over --max_pixels is refused by its header's size, in one line naming the flag."""
    root, _ = saved_model
    stored = cv2.imread(str(JPEG))
    phone = tmp_path / "phone"
    phone.mkdir()
    jpeg = with_exif(cv2.imencode(".jpg", stored)[1].tobytes(), 6)
    (phone / "photo.jpg").write_bytes(jpeg)
    upright = tmp_path / "upright"
    upright.mkdir()   # the pixels predict decodes from the photo, turned as orientation 6 shows them
    pixels = tf.io.decode_image(jpeg, channels=3).numpy()
    cv2.imwrite(str(upright / "photo.png"), cv2.cvtColor(np.rot90(pixels, -1), cv2.COLOR_RGB2BGR))
    runs = {}
    for name, folder in (("phone", phone), ("upright", upright)):
        summary = prediction.predict(str(root / "sm"), str(folder), str(tmp_path / f"out_{name}"), min_score=0.0,
                                     log=lambda m: None)
        file = os.listdir(folder)[0]
        runs[name] = summary, json.loads((tmp_path / f"out_{name}" / f"{file}.json").read_text()), \
            cv2.imread(str(tmp_path / f"out_{name}" / f"{file}.png"))
    assert runs["phone"][0]["turned"] == 1 and runs["upright"][0]["turned"] == 0
    assert runs["phone"][2].shape == runs["upright"][2].shape == (stored.shape[1], stored.shape[0], 3)
    phone_people, upright_people = runs["phone"][1], runs["upright"][1]
    assert phone_people
    assert phone_people == upright_people
    logs = []
    small = prediction.predict(str(root / "sm"), str(upright), str(tmp_path / "out_small"), max_pixels=1000,
                               log=logs.append)
    assert small["images"] == 0 and small["failed"]
    assert any("photo.png: 422x640 pixels is more than --max_pixels=1000" in m for m in logs), logs


def test_predict_command_exits_non_zero_when_no_image_could_be_read(saved_model, tmp_path):
    root, _ = saved_model
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("x.jpg", "y.png"):
        (bad / name).write_bytes(b"not an image")
    proc = subprocess.run([sys.executable, "-m", "cf_tf.predict", f"--saved_model={root / 'sm'}", f"--image={bad}",
                           f"--output_dir={tmp_path / 'out'}"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert "error: none of the 2 image(s) could be read" in proc.stderr


def _cli(module, *args):
    return subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, capture_output=True, text=True, timeout=300)


def _cli_env(env, module, *args):
    return subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300, env={**os.environ, **env})


def test_corrupt_checkpoint_and_a_folder_that_is_no_savedmodel_are_one_line_errors(saved_model, tmp_path):
    root, _ = saved_model
    broken = tmp_path / "model"
    shutil.copytree(root / "model", broken)
    for name in os.listdir(broken / "checkpoints"):
        if ".data-" in name:
            (broken / "checkpoints" / name).write_bytes(b"\0garbage" * 10)
    ann, images = COCO_SAMPLE / "person_keypoints.json", COCO_SAMPLE / "images"
    runs = {
        "export": _cli("cf_tf.export", f"--model_dir={broken}", f"--output={tmp_path / 'sm'}"),
        "evaluate": _cli("cf_tf.evaluate", f"--model_dir={broken}", f"--annotations={ann}", f"--images={images}",
                         f"--output_dir={tmp_path / 'eval'}", "--max_images=1"),
    }
    for name, proc in runs.items():
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, (name, proc.stderr[-2000:])
        assert proc.stderr.strip().splitlines()[-1].startswith("error: checkpoint ") and "is corrupt" in proc.stderr
    assert not (tmp_path / "sm").exists() and not (tmp_path / "eval").exists()
    not_sm = tmp_path / "not_a_saved_model"
    not_sm.mkdir()
    (not_sm / "notes.txt").write_text("hello")
    for proc in (_cli("cf_tf.evaluate", f"--saved_model={not_sm}", f"--annotations={ann}", f"--images={images}",
                      f"--output_dir={tmp_path / 'eval'}"),
                 _cli("cf_tf.predict", f"--saved_model={not_sm}", f"--image={JPEG}", f"--output_dir={tmp_path / 'p'}")):
        assert proc.returncode == 1 and "Traceback" not in proc.stderr
        assert proc.stderr.strip().splitlines()[-1] == f"error: {not_sm}: not a SavedModel (no saved_model.pb; " \
                                                       f"write one with python -m cf_tf.export)"
    assert not (tmp_path / "p").exists()


def test_savedmodel_refuses_an_empty_batch_with_a_message(saved_model):
    root, _ = saved_model
    signatures = tf.saved_model.load(str(root / "sm")).signatures
    for shape in ((0, 40, 40, 3), (1, 0, 40, 3)):
        with pytest.raises(tf.errors.InvalidArgumentError, match="empty batch or an empty image"):
            signatures["serving_default"](images=tf.zeros(shape, tf.uint8))
    with pytest.raises(tf.errors.InvalidArgumentError, match="empty batch or an empty image"):
        signatures["serve_bytes"](image_bytes=tf.zeros([0], tf.string))


def test_ctrl_c_in_export_writes_nothing_and_says_so(saved_model, tmp_path):
    root, _ = saved_model
    out = tmp_path / "sm"
    proc = subprocess.Popen([sys.executable, "-m", "cf_tf.export", f"--model_dir={root / 'model'}", f"--output={out}"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=interruptible)
    deadline = time.time() + 120
    while not any(p.name.startswith(".export-") for p in tmp_path.iterdir()) and time.time() < deadline \
            and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1 and "Traceback" not in err, err[-2000:]
    assert err.strip().splitlines()[-1] == f"interrupted: nothing written to {out}"
    assert os.listdir(tmp_path) == []


def test_ctrl_c_in_predict_is_one_line_and_leaves_every_image_whole(saved_model, tmp_path):
    """Interrupted between or during images: one line saying where the finished ones are, and every
    JSON beside its picture (an image is written whole or not at all)."""
    root, _ = saved_model
    images = tmp_path / "images"
    images.mkdir()
    for i in range(40):
        (images / f"{i:03d}.jpg").write_bytes(JPEG.read_bytes())
    out = tmp_path / "out"
    with open(tmp_path / "err.txt", "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "cf_tf.predict", f"--saved_model={root / 'sm'}",
                                 f"--image={images}", f"--output_dir={out}"], cwd=REPO, stdout=subprocess.DEVNULL,
                                stderr=err, preexec_fn=interruptible)
        deadline = time.time() + 240
        while not (out.exists() and len(os.listdir(out)) >= 4) and time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=120)
    text = (tmp_path / "err.txt").read_text()
    assert proc.returncode == 1 and "Traceback" not in text, text[-2000:]
    assert text.strip().splitlines()[-1] == f"interrupted: the images done so far are in {out}"
    written = sorted(os.listdir(out))
    jsons, pictures = [n[:-5] for n in written if n.endswith(".json")], [n[:-4] for n in written if n.endswith(".png")]
    assert 2 <= len(jsons) < 40 and jsons == pictures and len(written) == 2 * len(jsons), written


def test_commands_print_cf_tf_lines_not_tensorflow_logs(saved_model, tmp_path):
    root, _ = saved_model
    proc = _cli("cf_tf.predict", f"--saved_model={root / 'sm'}", f"--image={JPEG}", f"--output_dir={tmp_path}")
    assert proc.returncode == 0
    noise = [line for line in (proc.stdout + proc.stderr).splitlines()
             if re.match(r"([IWE]\d{4} |WARNING: All log messages|INFO:tensorflow)", line)]
    assert not noise, noise[:5]
    assert proc.stdout.strip().splitlines()[-1].startswith("1 image(s), ")
    quiet_off = _cli_env({"TF_CPP_MIN_LOG_LEVEL": "0"}, "cf_tf.predict", f"--saved_model={root / 'sm'}",
                         f"--image={JPEG}", f"--output_dir={tmp_path / 'verbose'}")
    assert quiet_off.returncode == 0 and re.search(r"^[IWE]\d{4} ", quiet_off.stderr, re.M)


def test_load_saved_model_refuses_a_savedmodel_that_is_not_ours(tmp_path):
    module = tf.Module()
    module.double = tf.function(lambda x: 2 * x, input_signature=[tf.TensorSpec([None], tf.float32)])
    tf.saved_model.save(module, str(tmp_path / "other"), signatures={"double": module.double.get_concrete_function()})
    with pytest.raises(CheckpointError, match="no serving_default signature"):
        load_saved_model(str(tmp_path / "other"))
    # its only function becomes serving_default, which the warm-up call finds takes no images
    tf.saved_model.save(module, str(tmp_path / "auto"))
    with pytest.raises(CheckpointError, match="SavedModel cannot run"):
        load_saved_model(str(tmp_path / "auto"))


def test_flags_that_the_saved_run_fixes_are_refused_not_ignored(saved_model, tmp_path):
    root, _ = saved_model
    ann, images = COCO_SAMPLE / "person_keypoints.json", COCO_SAMPLE / "images"
    runs = {
        "--input_size": _cli("cf_tf.evaluate", f"--model_dir={root / 'model'}", "--input_size=401",
                             f"--annotations={ann}", f"--images={images}", f"--output_dir={tmp_path / 'a'}"),
        "--igo_sigma": _cli("cf_tf.evaluate", f"--saved_model={root / 'sm'}", "--igo_sigma=0.3",
                            f"--annotations={ann}", f"--images={images}", f"--output_dir={tmp_path / 'b'}"),
    }
    for flag, proc in runs.items():
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
        assert proc.stderr.strip().splitlines()[-1].startswith(f"error: {flag}: "), proc.stderr[-500:]
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    other = _cli("cf_tf.export", f"--model_dir={root / 'model'}", f"--output={tmp_path / 'sm'}", "--backbone=resnet50")
    assert other.returncode != 0 and "Unknown command line flag 'backbone'" in other.stderr
    assert not (tmp_path / "sm").exists()


def test_keep_writes_a_model_folder_of_the_weights_alone_that_predicts_the_same(saved_model, tmp_path):
    """`cf_tf.keep`: the latest weights and the config, under the same step, a fraction of the training
    checkpoint's size (no optimizer slots, no data position), restoring the same network; it refuses an
    existing output and leaves nothing when it cannot write."""
    root, _ = saved_model
    proc = subprocess.run([sys.executable, "-m", "cf_tf.keep", f"--model_dir={root / 'model'}",
                           f"--output={tmp_path / 'kept'}"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    kept = tmp_path / "kept"
    assert sorted(os.listdir(kept)) == ["cf_tf_config.json", "checkpoints"]
    # as open as a folder made by hand, as is the SavedModel (a staging folder's 0700 was not)
    assert os.stat(kept).st_mode & 0o777 == os.stat(root / "sm").st_mode & 0o777 == files._DIR_MODE
    assert sorted(os.listdir(kept / "checkpoints")) == ["checkpoint", "ckpt-3.data-00000-of-00001", "ckpt-3.index"]

    def size(folder, step):
        return sum(os.path.getsize(folder / n) for n in os.listdir(folder) if n.startswith(f"ckpt-{step}."))

    assert size(kept / "checkpoints", 3) < 0.5 * size(root / "model" / "checkpoints", 3)
    original, model_cfg, data_cfg = restore_model(str(root / "model"))
    restored, kept_model_cfg, kept_data_cfg = restore_model(str(kept))
    assert (kept_model_cfg, kept_data_cfg) == (model_cfg, data_cfg)
    assert all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(original.weights, restored.weights))
    again = subprocess.run([sys.executable, "-m", "cf_tf.keep", f"--model_dir={root / 'model'}",
                            f"--output={kept}"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert again.returncode == 1 and again.stderr.strip() == f"error: {kept} exists: choose another --output"


def test_keep_on_a_full_disk_leaves_nothing_and_says_so(saved_model, tmp_path, monkeypatch):
    root, _ = saved_model

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tf.train.CheckpointManager, "save", full_disk)
    with pytest.raises(files.WriteError, match="could not write the model folder .*No space left on device"):
        keep_model(str(root / "model"), str(tmp_path / "kept"))
    assert os.listdir(tmp_path) == []
