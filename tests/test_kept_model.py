"""The model kept in the repository (models/synthetic_tiny), exported and run on the synthetic val
set, scores what its folder records. It catches a change to the decoder, the export or the
preprocessing that the oracle alone would not (the oracle never runs the network)."""

import json
import subprocess
import sys

from cf_tf.data.synth import generate
from conftest import REPO

KEPT = REPO / "models" / "synthetic_tiny"
TOLERANCE = 0.05   # AP; the same SavedModel on the same images gives the same AP to the last digit


def _run(module, *args):
    proc = subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_the_kept_model_exported_scores_its_recorded_ap(tmp_path):
    """Exported with the default decoding and with flip testing (as `make demo` exports it): both score
    what evaluation.json records."""
    recorded = json.loads((KEPT / "evaluation.json").read_text())
    val = recorded["val_set"]   # how `make tfrecords` generates the synthetic val set
    generate(str(tmp_path / "val"), num_images=val["num_images"], seed=val["seed"], size=val["size"],
             progress=False)
    for name, flags, record in (("sm", [], recorded), ("sm_flip", ["--flip_test"], recorded["flip_test"])):
        _run("cf_tf.export", f"--model_dir={KEPT}", f"--output={tmp_path / name}", *flags)
        out = _run("cf_tf.evaluate", f"--saved_model={tmp_path / name}",
                   f"--annotations={tmp_path / 'val' / 'person_keypoints.json'}",
                   f"--images={tmp_path / 'val' / 'images'}", f"--output_dir={tmp_path / name}_eval")
        measured = json.loads(out.strip().splitlines()[-1])
        assert measured["images"] == val["num_images"]
        for task in ("keypoints", "segm"):
            assert measured[task]["AP"] >= record[task]["AP"] - TOLERANCE, (name, task, measured[task], record[task])
