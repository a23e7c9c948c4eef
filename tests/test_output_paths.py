"""Every command refuses an output folder it cannot write before doing any work, in one line
(cf_tf/files.output_folder is the one rule)."""

import subprocess
import sys

import pytest

from conftest import COCO_SAMPLE, REPO

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
