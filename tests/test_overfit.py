"""The overfit gates (docs/RESULTS.md, "Overfit gate", "Learning under augmentation"): can the demo network fit
the images it trains on, and can it when they are shifted, scaled, rotated and flipped?

The tiny model of experiments/tiny.flags trains 1500 steps of batch 4 on 8 fixed synthetic images
with no augmentation at all (scale 1, no rotation, no flip, no crop shift), then is decoded and
scored with COCOeval on those same images, next to the oracle (ground truth -> targets -> decoder)
on them. A network that cannot fit 8 images it has seen 750 times each has a bug or a design flaw;
every change to targets, model, losses or the training loop must keep this test passing. The same
training with the crop shift, and with all of the paper's augmentation (scale, rotation, flip and crop
shift: the flags' defaults, which tiny.flags trained with until it dropped scale and rotation; each
3000 steps: AUGMENTED_STEPS), must fit them too: a network that fits an image only where it sits
learns positions, not people.

GATE is a ratchet: the share of the oracle's AP the gate asserts, raised to the best level reached
(rounded down to a multiple of 0.05 for run-to-run noise), never lowered against the same oracle.
The goal is 0.90 for both tasks. History (model / oracle AP, keypoints and segm): 1x1 output convs
0.29 / 0.80; KeyCentroid and mid-range output convs spanning the disk 0.95 / 0.86 (this test, seed
0), 0.94 / 0.92 (another initialisation). Masks resampled at image resolution (soft SFM, bicubic)
raised the oracle's segm on these images from 0.770 to 0.927 and the model's from 0.660 to 0.744
(anchors snapped onto the embeddings), a share of 0.80 of the new oracle: segm is asserted at 0.75,
one notch below, because on these 21 people one person crossing an IoU threshold moves it ~0.05.
The anti-aliased network with linear upsampling, decoded with spread-based claims and keypoints
snapped onto Hough candidates, reached a mean share of 0.97 / 0.85: segm asserted at 0.80, one notch
below, for the same reason. With separable offset convs behind a 1x1 expansion (tiny.flags) the mean
share is 1.00 / 0.895: segm asserted at 0.85.

The share is the mean over two initialisations (SEEDS). One draw was not a property of the design:
the same code and seed gave 0.95 / 0.80 on one machine and 0.91 / 0.66 on another (another CPU,
other float rounding, another trajectory), and seeds 0 / 1 / 2 on that second machine, with masks
scored by maskness, gave 0.91 / 0.73, 0.95 / 0.84, 1.00 / 0.82.
"""

import dataclasses
import json
import subprocess
import sys

import pytest

from cf_tf.config import DataConfig
from cf_tf.flags import augmentation_args
from conftest import REPO, make_synth

# Model AP / oracle AP on the same images, asserted. Only ever raise these (see the module docstring).
GATE = {"keypoints": 0.90, "segm": 0.85}
GOAL = 0.90
STEPS, BATCH, SIZE = 1500, 4, 257
NO_AUGMENTATION = ["--scale_min=1", "--scale_max=1", "--max_rotation=0", "--flip_prob=0", "--max_shift=0"]
SEEDS = (0, 1)

# The augmented gates: the same images and training, with the paper's crop shift alone or with all of
# its augmentation (scale, rotation, flip, shift: DataConfig's defaults, set here because tiny.flags
# trains the synthetic people without scale and rotation, docs/RESULTS.md "Augmentation at the demo's
# time"), scored on the images as they are. One seed each (all four models train at once): two more
# seeds would add about 10 minutes of CI. Ratchets
# like GATE, and one notch below the share reached where that was within one person of the floor; the
# goals are 0.90 (crop shift) and 0.80 (all augmentation). Measured shares: docs/RESULTS.md, "Learning under
# augmentation".
# All augmentation trains twice as long: at 1500 steps it was still far from fitting (training loss
# 1.6 against the crop shift's 1.1) and its share was noise (the same code and seed gave segm 0.30 and
# 0.23 in two runs); 3000 steps reached 0.70 / 0.66 and 0.74 / 0.66. Its floors sit 0.15 below that
# for the same run-to-run spread. The crop shift's seed-0 runs reached 0.87 to 0.95 (keypoints) and
# 0.66 to 0.73 (segm) on two machines: its floors are the lowest of them rounded down, not the best,
# which the same code and seed miss by up to 0.08. Cost: about 5 more minutes of CI (estimated: one
# more 1500-step model). With the stem's max-pool anti-aliased too (--antialias_stem) the crop shift reached
# 0.94 / 0.70 and 0.92 / 0.70 (seeds 0 / 1) and all augmentation 0.81 / 0.64 on the second machine (this
# test there: the same figures), where the network before reached 0.87 / 0.72, 0.83 / 0.75 and 0.69 / 0.50.
# Floors unchanged: the crop shift's shares are within one person of the next notch, and all
# augmentation is one seed on one machine, where another machine's trajectory differs by up to 0.08.
# With the separable offset convs (--offset_separable) the crop shift reached 0.87 / 0.78 and 0.88 /
# 0.76 (seeds 0 / 1), all augmentation 0.80 / 0.68, no augmentation 0.93 / 0.88 and 0.99 / 0.89: segm
# floors up one notch each (0.70, 0.55), 0.08 below the shares reached, for another machine's spread.
# With a 1x1 expansion before the separable convs (--offset_expansion=2) the crop shift reached 0.95 / 0.78
# and 0.94 / 0.73, all augmentation 0.81 / 0.70, no augmentation 0.99 / 0.89 and 1.01 / 0.90: the crop
# shift's keypoints floor at its goal (0.90), all augmentation's 0.65 / 0.60, GATE's segm 0.85.
# With R at the synthetic people's scale (--disk_radius=16, shares against the oracle of that geometry,
# 0.975 / 0.929 on these images) the crop shift reached 1.00 / 0.76, all augmentation 0.90 / 0.69, no
# augmentation 1.00 / 0.91 and 1.03 / 0.91: all augmentation's keypoints floor 0.85 (one notch below; past
# its 0.80 goal), which R 32 (0.81) fails.
# The crop shift trains 3000 steps too: at 1500 its masks had not fitted the stream (SFM training loss
# 0.0500, 0.0448 at 3000; their outline 0.77 px off, 0.55 at 3000), so its segm share (0.76) measured how
# fast the SFM fits, not whether it can fit content under a shift. At 3000 it reached 1.03 / 0.87:
# floors 0.95 / 0.80, one notch below each. Cost: about 5 more minutes of CI (1500 more steps of the
# 9000 now trained, four models at once); the no-augmentation gate keeps its two seeds.
# With each bottleneck's last BatchNorm scale starting at zero (zero-γ, cf_tf/model/blocks.py) the crop
# shift reached 1.01 / 0.92 and all augmentation 0.94 / 0.78 and 0.93 / 0.77 (two runs), no augmentation
# 1.01 / 0.91 and 1.00 / 0.88: the crop shift's segm floor at its goal (0.90), all augmentation's 0.90 /
# 0.70 (segm one notch below: 0.77-0.78 is within one person of 0.75).
# That crop-shift segm floor broke the rule above: 0.92 is within one person of 0.90. With BatchNorm
# through the fused kernel (the same math, other float rounding) the same code reached 0.91 once and
# 0.89 twice (0.8268 AP, on this machine and in CI to the last digit), and CI failed on it: the floor
# is one notch below (0.85) until a share clear of 0.90 by a person is reached.
# With the PGO sigmas at the low ends of the paper's ranges (HVK 0.15, LVK 0.5 cells; decoding only, the
# same trained models) no augmentation reached 1.03 / 0.91 and 1.02 / 0.90, the crop shift 1.01 / 0.89,
# all augmentation 0.95 / 0.76 (0.97 / 0.80 with flip testing): floors unchanged.
_PAPER = DataConfig()
AUGMENTED = {
    "crop shift": augmentation_args(
        dataclasses.replace(_PAPER, scale_min=1.0, scale_max=1.0, max_rotation=0.0, flip_prob=0.0)),
    "all augmentation": augmentation_args(_PAPER),
}
AUGMENTED_STEPS = {"crop shift": 2 * STEPS, "all augmentation": 2 * STEPS}
# The all-augmentation model, which trains with flips, is also scored with flip testing (--flip_test:
# its outputs averaged with those of the mirrored image, docs/RESULTS.md "PGO sigmas and flip testing on
# trained models"): 0.97 / 0.80 of the oracle where the same model decoded once reaches 0.95 / 0.76. Its
# segm is within one person of 0.80: asserted one notch below. The crop shift never saw a mirrored image.
# On a CPU without AVX-512 (another float trajectory) the same code and seed reached 0.93 / 0.80
# flip-tested (0.92 / 0.71 decoded once): the keypoints floor is the lowest of the two machines rounded
# down (0.90), as the crop shift's above, not the 0.95 that one machine's 0.97 had set.
FLIP_TESTED = {"all augmentation, flip test": "all augmentation"}
AUGMENTED_GATE = {"crop shift": {"keypoints": 0.95, "segm": 0.85},
                  "all augmentation": {"keypoints": 0.90, "segm": 0.70},
                  "all augmentation, flip test": {"keypoints": 0.90, "segm": 0.75}}
AUGMENTED_GOAL = {"crop shift": 0.90, "all augmentation": 0.80, "all augmentation, flip test": 0.80}


def _start(module, *args):
    return subprocess.Popen([sys.executable, "-m", module, *args], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _result(proc, module):
    """The JSON object on the last output line of a finished `python -m module`."""
    out, err = proc.communicate()
    assert proc.returncode == 0, f"{module} failed:\n{out[-3000:]}\n{err[-3000:]}"
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def gate_runs(tmp_path_factory):
    """Trains every gate model at once on 8 synthetic images (the demo generator's settings) and scores
    each, and the oracle, on those images: {run name: COCOeval summary}, "oracle" included."""
    out = tmp_path_factory.mktemp("overfit")
    ann, images, records = make_synth(out, num_images=8, seed=11, num_shards=1)
    common = ["--flagfile=experiments/tiny.flags", f"--train_records={records}", f"--batch_size={BATCH}",
              f"--input_size={SIZE}", f"--crop_size={SIZE}"]

    def steps(n):
        return [f"--train_steps={n}", f"--checkpoint_every={n}"]

    runs = {f"seed {seed}": [f"--seed={seed}", *steps(STEPS), *NO_AUGMENTATION] for seed in SEEDS}
    runs.update({name: [*steps(AUGMENTED_STEPS[name]), *flags] for name, flags in AUGMENTED.items()})
    folders = {name: out / name.replace(" ", "_") for name in runs}
    training = {name: _start("cf_tf.train", *common, f"--model_dir={folders[name]}", *flags)
                for name, flags in runs.items()}
    assert {name: _result(proc, "cf_tf.train")["step"] for name, proc in training.items()} == \
        {**{f"seed {seed}": STEPS for seed in SEEDS}, **AUGMENTED_STEPS}
    def score(output_dir, *flags):
        return _start("cf_tf.evaluate", f"--annotations={ann}", f"--images={images}", f"--output_dir={output_dir}",
                      *flags)

    scoring = {name: score(folders[name] / "eval", f"--model_dir={folders[name]}") for name in runs}
    scoring.update({name: score(folders[run] / "eval_flip", f"--model_dir={folders[run]}", "--flip_test")
                    for name, run in FLIP_TESTED.items()})
    # the ceiling of the targets the models trained on: tiny.flags' geometry, the gate's input size
    scoring["oracle"] = score(out / "oracle", "--oracle", f"--model_dir={folders['seed 0']}")
    results = {name: _result(proc, "cf_tf.evaluate") for name, proc in scoring.items()}
    assert all(r["images"] == 8 for r in results.values())
    print(f"overfit gates: {json.dumps(results)}")
    return results


def test_tiny_model_fits_its_training_images_to_the_gate(gate_runs):
    oracle = gate_runs["oracle"]
    models = [gate_runs[f"seed {seed}"] for seed in SEEDS]
    shares = {task: [m[task]["AP"] / oracle[task]["AP"] for m in models] for task in GATE}
    print(f"overfit gate: model / oracle AP per seed {SEEDS} = {shares}")
    for task, floor in GATE.items():
        assert floor <= GOAL
        mean = sum(shares[task]) / len(SEEDS)
        assert mean >= floor, (
            f"{task}: the models reach {[m[task]['AP'] for m in models]} AP on their own training images, "
            f"a mean {mean:.2f} of the oracle's {oracle[task]['AP']:.3f}; the gate asks for {floor:.2f}")


@pytest.mark.parametrize("variant", sorted(AUGMENTED_GATE))
def test_tiny_model_fits_its_training_images_under_augmentation(gate_runs, variant):
    """A network that fits an image only where it sits learns positions, not people: trained on shifted
    (and scaled, rotated, flipped) crops of the 8 images, it must still find their people."""
    oracle, model = gate_runs["oracle"], gate_runs[variant]
    goal = AUGMENTED_GOAL[variant]
    for task, floor in AUGMENTED_GATE[variant].items():
        share = model[task]["AP"] / oracle[task]["AP"]
        print(f"{variant} gate, {task}: model / oracle AP = {share:.2f} (goal {goal:.2f})")
        # a floor past the goal keeps what was reached beyond it
        assert share >= floor, (
            f"{variant}, {task}: the model reaches {model[task]['AP']} AP on the images it trained on, "
            f"{share:.2f} of the oracle's {oracle[task]['AP']:.3f}; the gate asks for {floor:.2f} (goal {goal:.2f})")
