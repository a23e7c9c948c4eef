"""The overfit gate under augmentation (docs/RESULTS.md, "Overfit gate", "Learning under augmentation"): can
the demo network fit the images it trains on when they are shifted, scaled, rotated and flipped?

The tiny model of experiments/tiny.flags trains 3000 steps of batch 4 on 8 fixed synthetic images with all
of the paper's augmentation (scale 0.7-1.3, rotation +-30 degrees, flip, crop shift +-10 %: DataConfig's
defaults, set here because tiny.flags trains the synthetic people without scale and rotation), then is
decoded and scored with COCOeval on those same images as they are, next to the oracle (ground truth ->
targets -> decoder) on them. A network that fits an image only where it sits learns positions, not
people; one that cannot fit 8 images it has seen 1500 times each, shifted or not, has a bug or a design
flaw. Every change to targets, model, losses or the training loop must keep this test passing.

One model, because of CI's time. The test's budget is about 15 minutes of a 2-core CPU, and CI draws CPUs
with and without AVX-512: the one without trains this model at about 2 steps/s (with the scoring, 21
minutes in make test: over the budget, but all augmentation at 1500 steps was noise), the one with at
about 5.5. The four models the test trained before (no augmentation, seeds 0 and 1, 1500 steps each; the
crop shift alone and all augmentation, 3000 each: 9000 steps) took 89 minutes on the slower CPU and CI
timed out. All augmentation is the stream training uses and contains the crop shift; without
augmentation, or with the crop shift alone, the same network has fitted these images further in every
run so far (about 1.00 / 0.90 of the oracle), and those gates are measured by hand with
experiments/overfit_gate.sh (none | shift), their figures in docs/RESULTS.md. Smaller images would be
cheaper but ask another question (docs/RESULTS.md, "The overfit test's time").

The floors are a ratchet: the share of the oracle's AP reached, rounded down to a multiple of 0.05 and one
notch lower where the share was within one person of the floor (on these 21 people one person crossing an
IoU threshold moves segm ~0.05), never lowered against the same oracle; and the lowest of the CPUs measured,
whose float rounding gives the same code and seed other trajectories. The goals are 0.90 (keypoints) and
0.80 (segm). History, decoded once (keypoints / segm share): 0.12 / 0.00 before the gates were fixed; 0.70
/ 0.60 with anti-aliased strided units and linear upsampling; 0.81 / 0.70 with separable expanded offset
convs; 0.90 / 0.69 with R 16; 0.94 / 0.78 and 0.93 / 0.77 with zero-gamma residual branches; 0.95 / 0.76
and 0.96 / 0.74 (seeds 0 / 1) with fused BatchNorm and the PGO sigmas at the low ends of the paper's ranges
on the AVX-512 CPU, 0.92 / 0.71 on the AVX2 CPU (docs/RESULTS.md, "Three units in tiny.flags: the overfit
test on another CPU"); 0.94 / 0.81 and 0.92 / 0.80 (seeds 0 / 1, AVX2 CPU) with MaskCentroid's loss weighed
4x at the borders between people (tiny.flags' --maskcentroid_border=3; docs/RESULTS.md, "MaskCentroid's
border cells"), where seed 0 reached 0.71 without it.
"""

import json
import subprocess
import sys

import pytest

from cf_tf.config import DataConfig
from cf_tf.flags import augmentation_args
from conftest import REPO, make_synth

STEPS, BATCH, SIZE, SEED = 3000, 4, 257, 0
# The model trains with flips, so it is also scored with flip testing (--flip_test: its outputs averaged with
# those of the mirrored image, docs/RESULTS.md "PGO sigmas and flip testing on trained models"): 0.97 / 0.80
# and 0.98 / 0.79 of the oracle on the AVX-512 CPU, 0.93 / 0.80 on the AVX2 CPU; with the border weight 0.95 /
# 0.81 and 0.95 / 0.82 (seeds 0 / 1) on the AVX2 CPU. Model AP / oracle AP on the same images, asserted. Only
# ever raise these (see the module docstring).
FLOORS = {"decoded once": {"keypoints": 0.90, "segm": 0.75},
          "flip-tested": {"keypoints": 0.90, "segm": 0.75}}
GOAL = {"keypoints": 0.90, "segm": 0.80}


def _start(module, *args):
    return subprocess.Popen([sys.executable, "-m", module, *args], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _result(proc, module):
    """The JSON object on the last output line of a finished `python -m module`."""
    out, err = proc.communicate()
    assert proc.returncode == 0, f"{module} failed:\n{out[-3000:]}\n{err[-3000:]}"
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def gate(tmp_path_factory):
    """Trains the gate model on 8 synthetic images (the demo generator's settings) with all of the paper's
    augmentation and scores it, decoded once and flip-tested, and the oracle, on those images: {"decoded
    once" | "flip-tested" | "oracle": COCOeval summary}."""
    out = tmp_path_factory.mktemp("overfit")
    ann, images, records = make_synth(out, num_images=8, seed=11, num_shards=1)
    model = out / "all_augmentation"
    training = _start("cf_tf.train", "--flagfile=experiments/tiny.flags", f"--train_records={records}",
                      f"--batch_size={BATCH}", f"--input_size={SIZE}", f"--crop_size={SIZE}", f"--seed={SEED}",
                      f"--train_steps={STEPS}", f"--checkpoint_every={STEPS}", f"--model_dir={model}",
                      *augmentation_args(DataConfig()))
    assert _result(training, "cf_tf.train")["step"] == STEPS

    def score(output_dir, *flags):
        return _start("cf_tf.evaluate", f"--annotations={ann}", f"--images={images}", f"--output_dir={output_dir}",
                      f"--model_dir={model}", *flags)

    # the oracle: the ceiling of the targets the model trained on (tiny.flags' geometry, the gate's input size)
    scoring = {"decoded once": score(model / "eval"), "flip-tested": score(model / "eval_flip", "--flip_test"),
               "oracle": score(out / "oracle", "--oracle")}
    results = {name: _result(proc, "cf_tf.evaluate") for name, proc in scoring.items()}
    assert all(r["images"] == 8 for r in results.values())
    print(f"overfit gate: {json.dumps(results)}")
    return results


@pytest.mark.parametrize("decoding", sorted(FLOORS))
def test_tiny_model_fits_its_training_images_under_augmentation(gate, decoding):
    """Trained on shifted, scaled, rotated and flipped crops of the 8 images, it must find their people."""
    oracle, model = gate["oracle"], gate[decoding]
    for task, floor in FLOORS[decoding].items():
        share = model[task]["AP"] / oracle[task]["AP"]
        print(f"overfit gate, {decoding}, {task}: model / oracle AP = {share:.3f} (goal {GOAL[task]:.2f})")
        assert share >= floor, (
            f"{decoding}, {task}: the model reaches {model[task]['AP']} AP on the images it trained on, "
            f"{share:.2f} of the oracle's {oracle[task]['AP']:.3f}; the gate asks for {floor:.2f} "
            f"(goal {GOAL[task]:.2f})")
