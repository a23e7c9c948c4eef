"""The overfit gates under augmentation (docs/RESULTS.md, "Overfit gate", "Learning under augmentation"): can
the demo network fit the images it trains on when they are shifted, scaled, rotated and flipped?

The tiny model of experiments/tiny.flags trains 3000 steps of batch 4 on 8 fixed synthetic images twice, at
once: with the paper's crop shift alone (+-10 %), and with all of the paper's augmentation (scale 0.7-1.3,
rotation +-30 degrees, flip, crop shift: DataConfig's defaults, set here because tiny.flags trains the
synthetic people without scale and rotation). Each is decoded and scored with COCOeval on those same images
as they are, next to the oracle (ground truth -> targets -> decoder) on them. A network that fits an image
only where it sits learns positions, not people; one that cannot fit 8 images it has seen 1500 times each,
shifted or not, has a bug or a design flaw. Every change to targets, model, losses or the training loop must
keep this test passing.

Two models, 6000 steps, trained at once (two processes share the 2 cores better than one uses them: 3.3
steps/s each on the AVX-512 CPU, where one alone trains 5.5). CI draws CPUs with and without AVX-512: with
it the test takes about 16 minutes (904 and 949 s measured), without it (1.25 steps/s each) about 45, over the
test's budget of about 15. The gates cost what they cost because a step costs what it costs: 1500 steps measured the
fitting speed, not the fit ("The crop shift at twice the steps"), smaller images ask another question ("The
overfit test's time"), one seed each because a second would double it. The four models the test trained
before (no augmentation, seeds 0 and 1, 1500 steps each, and these two: 9000 steps) took 89 minutes on the
slower CPU and CI timed out; no augmentation is measured by hand with experiments/overfit_gate.sh none.

The floors are a ratchet: the share of the oracle's AP reached, rounded down to a multiple of 0.05 and one
notch lower where the share was within one person of the floor (on these 21 people one person crossing an
IoU threshold moves segm ~0.05), never lowered against the same oracle; and the lowest of the CPUs measured,
whose float rounding gives the same code and seed other trajectories. The goals: 0.90 of the oracle for
both tasks under the crop shift; 0.90 (keypoints) and 0.80 (segm) under all augmentation. History of all
augmentation, decoded once (keypoints / segm share): 0.12 / 0.00 before the gates were fixed; 0.70 / 0.60
with anti-aliased strided units and linear upsampling; 0.81 / 0.70 with separable expanded offset convs;
0.90 / 0.69 with R 16; 0.94 / 0.78 and 0.93 / 0.77 with zero-gamma residual branches; 0.95 / 0.76 and 0.96
/ 0.74 (seeds 0 / 1) with fused BatchNorm and the PGO sigmas at the low ends of the paper's ranges on the
AVX-512 CPU, 0.92 / 0.71 on the AVX2 CPU (docs/RESULTS.md, "Three units in tiny.flags: the overfit test on
another CPU"); 0.94 / 0.81 and 0.92 / 0.80 (seeds 0 / 1, AVX2 CPU) with MaskCentroid's loss weighed 4x at
the borders between people (tiny.flags' --maskcentroid_border=3; docs/RESULTS.md, "MaskCentroid's border
cells"), where seed 0 reached 0.71 without it; 0.82 and 0.83 in segm (AVX-512 CPU) with the masks ranked by
maskness to the 4th ("Ranking the masks"). Of the crop shift: 0.95 / 0.78 at 1500 steps; 1.03 / 0.87 at 3000;
with the border weight 1.01 / 0.86, 1.00 / 0.88, 1.00 / 0.91 (seeds 0-2, AVX2 CPU), 1.02 / 0.91, 1.02 / 0.87
(seeds 0 / 1, AVX-512 CPU); ranked by maskness to the 4th 1.02 / 0.91 and 1.02 / 0.88 (AVX-512 CPU).
"""

import json
import subprocess
import sys

import pytest

from cf_tf.flags import GATE_AUGMENTATION, augmentation_args
from conftest import REPO, make_synth

STEPS, BATCH, SIZE, SEED = 3000, 4, 257, 0
# The two gates' augmentation: the paper's crop shift alone, and its whole (DataConfig's defaults)
AUGMENTATION = {"crop shift": GATE_AUGMENTATION["shift"], "all augmentation": GATE_AUGMENTATION["all"]}
# Model AP / oracle AP on the same images, asserted; only ever raised (see the module docstring). The model
# that trains with flips is also scored with flip testing (--flip_test: its outputs averaged with those of the
# mirrored image, docs/RESULTS.md "PGO sigmas and flip testing on trained models").
FLOORS = {("crop shift", "decoded once"): {"keypoints": 0.95, "segm": 0.80},
          ("all augmentation", "decoded once"): {"keypoints": 0.90, "segm": 0.75},
          ("all augmentation", "flip-tested"): {"keypoints": 0.90, "segm": 0.75}}
GOAL = {"crop shift": {"keypoints": 0.90, "segm": 0.90}, "all augmentation": {"keypoints": 0.90, "segm": 0.80}}


def _start(module, log, *args):
    """`python -m module args` in the background, its output to log.out / log.err (files, not pipes: two
    trainings at once would block on a full pipe that nobody reads)."""
    with open(f"{log}.out", "w") as out, open(f"{log}.err", "w") as err:   # the child keeps its own copies
        return subprocess.Popen([sys.executable, "-m", module, *args], cwd=REPO, stdout=out, stderr=err)


def _results(runs, module):
    """{key: the JSON object on the last output line} of the `python -m module` runs {key: (log, process)}, once
    all have finished; if one failed, the others are not left running after the test."""
    try:
        results = {}
        for key, (log, proc) in runs.items():
            proc.wait()
            out, err = (open(f"{log}.{s}").read() for s in ("out", "err"))
            assert proc.returncode == 0, f"{module} failed:\n{out[-3000:]}\n{err[-3000:]}"
            results[key] = json.loads(out.strip().splitlines()[-1])
        return results
    finally:
        for _, proc in runs.values():
            if proc.poll() is None:
                proc.kill()


@pytest.fixture(scope="module")
def gates(tmp_path_factory):
    """Trains the two gate models on 8 synthetic images (the demo generator's settings), at once, and scores
    them and the oracle on those images: {(gate, "decoded once" | "flip-tested") | "oracle": COCOeval
    summary}."""
    out = tmp_path_factory.mktemp("overfit")
    ann, images, records = make_synth(out, num_images=8, seed=11, num_shards=1)
    models = {gate: out / gate.replace(" ", "_") for gate in AUGMENTATION}
    training = {gate: (models[gate], _start("cf_tf.train", models[gate], "--flagfile=experiments/tiny.flags",
                                            f"--train_records={records}", f"--batch_size={BATCH}",
                                            f"--input_size={SIZE}", f"--crop_size={SIZE}", f"--seed={SEED}",
                                            f"--train_steps={STEPS}", f"--checkpoint_every={STEPS}",
                                            f"--model_dir={models[gate]}", *augmentation_args(AUGMENTATION[gate])))
                for gate in AUGMENTATION}
    assert all(r["step"] == STEPS for r in _results(training, "cf_tf.train").values())

    def score(name, model, *flags):
        log = out / f"{name}_eval"
        return log, _start("cf_tf.evaluate", log, f"--annotations={ann}", f"--images={images}",
                           f"--output_dir={log}", f"--model_dir={model}", *flags)

    # the oracle: the ceiling of the targets the models trained on (tiny.flags' geometry, the gate's input size)
    scoring = {("crop shift", "decoded once"): score("shift", models["crop shift"]),
               ("all augmentation", "decoded once"): score("all", models["all augmentation"]),
               ("all augmentation", "flip-tested"): score("all_flip", models["all augmentation"], "--flip_test"),
               "oracle": score("oracle", models["all augmentation"], "--oracle")}
    results = _results(scoring, "cf_tf.evaluate")
    assert all(r["images"] == 8 for r in results.values())
    print(f"overfit gates: {json.dumps({' '.join(k) if isinstance(k, tuple) else k: v for k, v in results.items()})}")
    return results


@pytest.mark.parametrize("gate,decoding", sorted(FLOORS))
def test_tiny_model_fits_its_training_images_under_augmentation(gates, gate, decoding):
    """Trained on shifted (and, under all augmentation, scaled, rotated and flipped) crops of the 8 images, it
    must find their people as they are."""
    oracle, model = gates["oracle"], gates[gate, decoding]
    for task, floor in FLOORS[gate, decoding].items():
        share = model[task]["AP"] / oracle[task]["AP"]
        print(f"overfit gate, {gate}, {decoding}, {task}: model / oracle AP = {share:.3f} "
              f"(goal {GOAL[gate][task]:.2f})")
        assert share >= floor, (
            f"{gate}, {decoding}, {task}: the model reaches {model[task]['AP']} AP on the images it trained on, "
            f"{share:.2f} of the oracle's {oracle[task]['AP']:.3f}; the gate asks for {floor:.2f} "
            f"(goal {GOAL[gate][task]:.2f})")
