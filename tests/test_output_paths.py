"""The commands' one-line failures around their outputs: an output folder they cannot write
(cf_tf/files.output_folder, refused before any work), a damaged training folder, Ctrl-C."""

import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import COCO_SAMPLE, REPO, interruptible

ANN, IMAGES = COCO_SAMPLE / "person_keypoints.json", COCO_SAMPLE / "images"


def _commands(out):
    return {
        "train": ["cf_tf.train", "--flagfile=experiments/tiny.flags", f"--model_dir={out}", "--train_records=none-*"],
        "evaluate": ["cf_tf.evaluate", "--oracle", f"--annotations={ANN}", f"--images={IMAGES}", f"--output_dir={out}"],
        "predict": ["cf_tf.predict", "--saved_model=none", f"--image={IMAGES}", f"--output_dir={out}"],
        "show": ["cf_tf.show", "--records=none-*", f"--output_dir={out}"],
        "export": ["cf_tf.export", "--model_dir=none", f"--output={out}"],
    }


@pytest.mark.parametrize("command", ["train", "evaluate", "predict", "show", "export"])
@pytest.mark.parametrize("where", ["a regular file", "under a regular file"])
def test_an_output_folder_that_is_a_file_is_refused_in_one_line(tmp_path, command, where):
    blocker = tmp_path / "results.txt"
    blocker.write_text("a user's file")
    out = blocker if where == "a regular file" else blocker / "sub"
    proc = subprocess.run([sys.executable, "-m", *_commands(out)[command]], cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(out) in lines[0] and "is a file" in lines[0], \
        proc.stderr[-2000:]
    assert blocker.read_text() == "a user's file"


@pytest.mark.parametrize("damage", ["empty config", "config not JSON", "empty checkpoint index",
                                    "garbage checkpoint index"])
@pytest.mark.parametrize("command", ["train", "evaluate", "export"])
def test_a_damaged_run_config_or_checkpoint_index_is_one_line_naming_it(tmp_path, damage, command):
    """Export and evaluate once ended in a raw JSONDecodeError; a garbage index made TensorFlow see no
    checkpoint at all, so a resumed run would have started over."""
    model_dir = tmp_path / "run"
    (model_dir / "checkpoints").mkdir(parents=True)
    (model_dir / "cf_tf_config.json").write_text({"empty config": "", "config not JSON": "{model"}.get(
        damage, '{"geometry": {}, "model": {"backbone": "resnet_tiny", "fusion_width": 64, "head_units": 1, "upsampling": "linear"}, '
                '"data": {"crop_size": 161, "input_size": 257}}'))
    (model_dir / "checkpoints" / "ckpt-500.index").write_bytes(b"")
    (model_dir / "checkpoints" / "checkpoint").write_text({"empty checkpoint index": "",
                                                           "garbage checkpoint index": "garbage {{"}.get(damage, ""))
    named = model_dir / ("cf_tf_config.json" if "config" in damage else "checkpoints/checkpoint")
    args = {"train": ["cf_tf.train", "--backbone=resnet_tiny", "--fusion_width=64", "--head_units=1",
                      "--crop_size=161", "--input_size=257", f"--model_dir={model_dir}",
                      f"--train_records={sorted(COCO_SAMPLE.glob('*.json'))[0]}"],
            "evaluate": ["cf_tf.evaluate", f"--model_dir={model_dir}", f"--annotations={ANN}", f"--images={IMAGES}",
                         f"--output_dir={tmp_path / 'eval'}"],
            "export": ["cf_tf.export", f"--model_dir={model_dir}", f"--output={tmp_path / 'sm'}"]}[command]
    proc = subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=300)
    last = proc.stderr.strip().splitlines()[-1]
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert last.startswith("error: ") and str(named) in last and "damaged" in last, last


def test_ctrl_c_while_scoring_is_one_line_and_writes_no_results(tmp_path):
    """Train and export already said one line on Ctrl-C; evaluate printed a traceback."""
    err_path, out = tmp_path / "stderr.txt", tmp_path / "eval"
    with open(err_path, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "cf_tf.evaluate", "--oracle", f"--annotations={ANN}",
                                 f"--images={IMAGES}", f"--output_dir={out}"], cwd=REPO, stdout=subprocess.DEVNULL,
                                stderr=err, preexec_fn=interruptible)
        deadline = time.time() + 240
        while "evaluate:" not in err_path.read_text() and time.time() < deadline and proc.poll() is None:
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=120)
    text = err_path.read_text()
    assert proc.returncode == 1 and "Traceback" not in text, text[-2000:]
    assert text.strip().splitlines()[-1] == f"interrupted: no results written to {out}"
    assert not out.exists() or os.listdir(out) == []


def test_what_tensorflow_prints_while_an_interrupt_unwinds_is_not_shown(tmp_path):
    """Ctrl-C landing in a Python callback of TensorFlow's C++ (tf.nest's flatten, in export): the C++
    printed that callback's error, a traceback, before the command's one line (CI, stop 39). Here the
    block prints a traceback after the interrupt, as that C++ did, then fails with another error."""
    script = (
        "import os, signal, sys, traceback\n"
        "from cf_tf import cli\n"
        "print('before', file=sys.stderr)\n"
        "with cli.exit_on_interrupt('interrupted: nothing written to X'):\n"
        "    try:\n"
        "        os.kill(os.getpid(), signal.SIGINT)\n"
        "    except KeyboardInterrupt:\n"
        "        traceback.print_exc()\n"
        "        raise SystemError('returned a result with an exception set')\n")
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60,
                          preexec_fn=interruptible)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.splitlines() == ["before", "interrupted: nothing written to X"], proc.stderr
