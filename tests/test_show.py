"""python -m cf_tf.show writes one picture per example, five panels wide, with targets drawn."""

import subprocess
import sys

import cv2
import numpy as np

from conftest import REPO


def test_show_writes_target_pictures(synth_data, tmp_path):
    _, _, pattern = synth_data
    out = tmp_path / "show"
    proc = subprocess.run([sys.executable, "-m", "cf_tf.show", f"--records={pattern}",
                           f"--output_dir={out}", "--num_examples=2", "--crop_size=129"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    files = sorted(out.glob("*.png"))
    assert len(files) == 2
    picture = cv2.imread(str(files[0]))
    assert picture.shape == (129, 5 * 129, 3)
    panels = np.split(picture.astype(int), 5, axis=1)
    # the SKFM / BHM / SFM overlays change the image where people are
    for i in (0, 2, 3):
        assert np.abs(panels[i] - panels[1]).sum() > 0


def test_show_reports_missing_records(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "cf_tf.show", f"--records={tmp_path}/none-*",
                           f"--output_dir={tmp_path}/o"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and "no TFRecord file matches" in proc.stderr
