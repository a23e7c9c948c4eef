"""Training: overfitting one batch, distribution equals one device, resume, and clear failures."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from cf_tf import files, losses, training
from cf_tf.benchmark import local_cluster
from cf_tf.config import DEMO_MODEL, DataConfig, ModelConfig, TrainConfig
from cf_tf.data import pipeline
from cf_tf.outputs import OUTPUTS
from conftest import REPO, interruptible

DATA = DataConfig(crop_size=129, input_size=256)
TINY = ModelConfig(backbone="resnet_tiny", fusion_width=32, head_units=1)


@pytest.fixture(scope="module")
def batch(synth_data):
    """One fixed batch of 2 real (synthetic-image) examples with their targets."""
    _, _, pattern = synth_data
    return next(iter(pipeline.train_dataset(pattern, DATA, batch_size=2, seed=3)))


def _single_device():
    return tf.distribute.OneDeviceStrategy("/cpu:0")


def test_overfitting_one_batch_drives_every_loss_term_down(batch):
    keras.utils.set_random_seed(1)
    strategy = _single_device()
    model, optimizer = training.build(TINY, TrainConfig(learning_rate=2e-3), strategy)
    step = training.make_train_step(model, optimizer, strategy, losses.LossWeights())
    images, targets = batch
    first_total, first_terms = step(images, targets)
    for _ in range(250):
        total, terms = step(images, targets)
    assert float(total) < float(first_total) / 5.0, (float(first_total), float(total))
    for k in losses.TERMS:
        assert float(terms[k]) < float(first_terms[k]), k


def _replica_pair(seed):
    """The same tiny model on one device and mirrored over two logical CPUs."""
    keras.utils.set_random_seed(seed)
    one = _single_device()
    two = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert two.num_replicas_in_sync == 2
    model1, opt1 = training.build(TINY, TrainConfig(learning_rate=1e-3), one)
    model2, opt2 = training.build(TINY, TrainConfig(learning_rate=1e-3), two)
    model2.set_weights(model1.get_weights())
    return (one, model1, opt1), (two, model2, opt2)


def _distributed(strategy, images, targets):
    return next(iter(strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensors((images, targets)))))


def test_two_replicas_give_the_same_loss_as_one_device(batch):
    images, targets = batch
    (one, model1, opt1), (two, model2, opt2) = _replica_pair(2)
    t1, terms1 = training.make_train_step(model1, opt1, one, losses.LossWeights())(images, targets)
    t2, terms2 = training.make_train_step(model2, opt2, two, losses.LossWeights())(*_distributed(two, images, targets))
    np.testing.assert_allclose(float(t2), float(t1), rtol=1e-5)
    for k in losses.TERMS:
        np.testing.assert_allclose(float(terms2[k]), float(terms1[k]), rtol=1e-5)


def test_two_replicas_apply_the_same_gradient_as_one_device(batch):
    """With plain SGD the update is linear in the gradient, so a wrong replica sum would show. Two
    steps: each residual branch's last BatchNorm scale starts at zero (cf_tf/model/blocks.py), so the
    first step leaves the branches' other weights where they are; the second moves them."""
    images, targets = batch
    (one, model1, _), (two, model2, _) = _replica_pair(3)
    with one.scope():
        sgd1 = keras.optimizers.SGD(0.05)
        sgd1.build(model1.trainable_variables)
    with two.scope():
        sgd2 = keras.optimizers.SGD(0.05)
        sgd2.build(model2.trainable_variables)
    before = [v.numpy() for v in model1.trainable_variables]
    step1 = training.make_train_step(model1, sgd1, one, losses.LossWeights())
    step2 = training.make_train_step(model2, sgd2, two, losses.LossWeights())
    for _ in range(2):
        step1(images, targets)
        step2(*_distributed(two, images, targets))
    moved = 0
    for v0, v1, v2 in zip(before, model1.trainable_variables, model2.trainable_variables):
        d1, d2 = v1.numpy() - v0, v2.numpy() - v0
        # float32 sums in another order differ by up to ~2 % (BatchNorm gammas behind the 9x9 offset
        # convs); a halved or doubled gradient differs by 50-100 %
        assert np.linalg.norm(d2 - d1) <= 0.05 * np.linalg.norm(d1) + 1e-7, v1.path
        moved += np.abs(d1).sum() > 0
    assert moved > len(before) // 2


def _weights(model_dir):
    model, optimizer = training.build(TINY, TrainConfig(), _single_device())
    ckpt = tf.train.Checkpoint(model=model, optimizer=optimizer)
    ckpt.restore(tf.train.latest_checkpoint(os.path.join(model_dir, "checkpoints"))).expect_partial()
    return int(optimizer.iterations.numpy()), model.get_weights()


def test_resume_continues_from_the_saved_step_and_weights(synth_data, tmp_path):
    _, _, pattern = synth_data
    cfg = TrainConfig(train_steps=4, batch_size=2, learning_rate=1e-3, checkpoint_every=100, summary_every=1,
                      image_summary_every=2, warmup_steps=2, lr_schedule="cosine")
    first = training.train(str(tmp_path), pattern, DATA, TINY, cfg, strategy=_single_device(), log=lambda m: None)
    assert first["step"] == 4 and first["checkpoint"].endswith("ckpt-4")
    step, saved = _weights(str(tmp_path))
    assert step == 4
    logs = []
    second = training.train(str(tmp_path), pattern, DATA, TINY, TrainConfig(**{**cfg.__dict__, "train_steps": 8}),
                            strategy=_single_device(), log=logs.append)
    assert second["step"] == 8 and any("resumed" in m and "step 4" in m for m in logs)
    # the summary's mean losses are over the steps this run took, every term and the total
    assert second["recent_steps"] == 4 and set(second["recent_losses"]) == set(first["recent_losses"])
    assert set(second["recent_losses"]) == {o.name for o in OUTPUTS} | {"total"}
    step8, after = _weights(str(tmp_path))
    assert step8 == 8
    assert any(not np.array_equal(a, b) for a, b in zip(saved, after))
    # TensorBoard's learning rate is the schedule's at each step (of the run's own length), not the first step's
    logged = _scalars(tmp_path / "train", "learning_rate")
    expected = {step: float(training.WarmupSchedule(1e-3, 2, 4 if step <= 4 else 8, "cosine")(step))
                for step in range(1, 9)}
    assert sorted(logged) == list(range(1, 9))
    assert logged == pytest.approx(expected, rel=1e-5)


def test_a_time_budget_ends_the_run_and_its_schedule_where_the_minutes_run_out(synth_data, tmp_path, monkeypatch):
    """--train_minutes: the steps/s measured over training.BUDGET_PROBE set the last step and the cosine's
    end (on a clock that takes 0.25 s a step, 30 s end at step 90 + 4 x (30 - 90 x 0.25) = 120, below the
    cap of 1000); a resume with the same minutes keeps that end; another budget measures again."""
    _, _, pattern = synth_data
    clock = [0.0]
    real_step = training.make_train_step

    def timed(*args, **kwargs):
        step = real_step(*args, **kwargs)

        def run(images, targets):
            clock[0] += 0.25
            return step(images, targets)
        return run

    monkeypatch.setattr(training, "make_train_step", timed)
    monkeypatch.setattr(training, "time", type("Clock", (), {"perf_counter": staticmethod(lambda: clock[0])}))
    cfg = TrainConfig(train_steps=1000, train_minutes=0.5, batch_size=2, learning_rate=1e-3, warmup_steps=100,
                      lr_schedule="cosine", checkpoint_every=1000, summary_every=1, image_summary_every=1000)
    logs = []
    small = DataConfig(crop_size=65, input_size=256)   # 264 steps in all: small crops
    result = training.train(str(tmp_path), pattern, small, TINY, cfg, strategy=_single_device(), log=logs.append)
    assert training.BUDGET_PROBE == (10, 90)   # the figures above
    assert result["step"] == 120 and result["checkpoint"].endswith("ckpt-120")
    assert any("4.00 steps/s" in m and "end at step 120" in m for m in logs), logs
    assert json.loads((tmp_path / training.BUDGET_FILE).read_text())["end"] == 120
    # every step's learning rate is the schedule that ends at 120 (the probe ran inside the warm-up)
    logged = _scalars(tmp_path / "train", "learning_rate")
    expected = {step: float(training.WarmupSchedule(1e-3, 100, 120, "cosine")(step)) for step in range(1, 121)}
    assert sorted(logged) == list(range(1, 121)) and logged == pytest.approx(expected, rel=1e-5)

    logs.clear()
    again = training.train(str(tmp_path), pattern, small, TINY, cfg, strategy=_single_device(), log=logs.append)
    assert again["step"] == 120 and any("chose to end at step 120" in m for m in logs), logs
    longer = TrainConfig(**{**cfg.__dict__, "train_minutes": 0.6})
    # another budget measures again from the resumed step, its minutes counted from this run's loop:
    # 36 s end 90 steps (22.5 s) and 4 x 13.5 steps after step 120
    assert training.train(str(tmp_path), pattern, small, TINY, longer, strategy=_single_device(),
                          log=logs.append)["step"] == 120 + 90 + 54
    with pytest.raises(ValueError, match="train_minutes"):
        TrainConfig(train_minutes=-1.0)


def test_a_warm_start_takes_the_weights_of_another_folder_and_a_new_schedule(synth_data, tmp_path):
    """--init_from: the weights of a trained (or kept) folder, the optimizer and schedule from step 0; a
    run that resumes from its own checkpoint ignores it; another network is refused, naming both."""
    _, _, pattern = synth_data
    cfg = TrainConfig(train_steps=3, batch_size=2, learning_rate=1e-3, checkpoint_every=100)
    source = tmp_path / "source"
    training.train(str(source), pattern, DATA, TINY, cfg, strategy=_single_device(), log=lambda m: None)
    _, trained = _weights(str(source))

    keras.utils.set_random_seed(5)
    model, _ = training.build(TINY, cfg, _single_device())
    assert any(not np.array_equal(a, b) for a, b in zip(model.get_weights(), trained))
    assert training.init_weights(model, TINY, str(source)).endswith("ckpt-3")
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), trained))

    warm, logs = tmp_path / "warm", []
    warm_cfg = TrainConfig(**{**cfg.__dict__, "train_steps": 2, "init_from": str(source)})
    result = training.train(str(warm), pattern, DATA, TINY, warm_cfg, strategy=_single_device(), log=logs.append)
    assert result["step"] == 2 and any("started from the weights of" in m and "ckpt-3" in m for m in logs)
    logs.clear()
    training.train(str(warm), pattern, DATA, TINY, TrainConfig(**{**warm_cfg.__dict__, "train_steps": 4}),
                   strategy=_single_device(), log=logs.append)
    assert any("resumed" in m and "step 2" in m for m in logs) and not any("started from" in m for m in logs)

    wider = ModelConfig(backbone="resnet_tiny", fusion_width=16, head_units=1)
    with pytest.raises(training.TrainingError, match="--init_from=.*fusion_width=32.*fusion_width=16"):
        training.train(str(tmp_path / "wider"), pattern, DATA, wider, warm_cfg, strategy=_single_device(), log=print)
    assert not (tmp_path / "wider").exists()   # refused before anything was written
    with pytest.raises(training.TrainingError, match="--init_from=.*no checkpoint|--init_from=.*not found"):
        training.train(str(tmp_path / "none"), pattern, DATA, TINY,
                       TrainConfig(**{**cfg.__dict__, "init_from": str(tmp_path / "missing")}),
                       strategy=_single_device(), log=print)


def test_a_warm_start_may_add_head_units_and_the_grown_network_computes_what_the_source_did(synth_data, tmp_path):
    """--init_from a network with fewer head units: shared layers take its weights, the added units start
    as their shortcuts, so the outputs are the source's; growing from no unit, or shrinking, is refused."""
    _, _, pattern = synth_data
    cfg = TrainConfig(train_steps=3, batch_size=2, learning_rate=1e-3, checkpoint_every=100)
    source = tmp_path / "source"
    training.train(str(source), pattern, DATA, TINY, cfg, strategy=_single_device(), log=lambda m: None)
    trained, _, _ = training.restore_model(str(source))
    images = tf.random.stateless_uniform((1, 65, 65, 3), seed=(1, 2), minval=-1.0)
    expected = trained(images, training=False)

    grown_cfg = ModelConfig(**{**TINY.__dict__, "head_units": 3})
    grown, _ = training.build(grown_cfg, cfg, _single_device())
    assert len(grown.weights) > len(trained.weights)
    training.init_weights(grown, grown_cfg, str(source))
    got = grown(images, training=False)
    for name in expected:   # the same outputs, not merely close ones: each added unit adds exactly zero
        np.testing.assert_allclose(got[name].numpy(), expected[name].numpy(), rtol=0, atol=1e-6, err_msg=name)
    # and the grown network trains from there (the added units' scales receive gradients)
    result = training.train(str(tmp_path / "grown"), pattern, DATA, grown_cfg,
                            TrainConfig(**{**cfg.__dict__, "init_from": str(source)}),
                            strategy=_single_device(), log=lambda m: None)
    assert result["step"] == 3
    refit, _, _ = training.restore_model(str(tmp_path / "grown"))
    assert np.any(refit.get_layer("pose_u2_bn3").get_weights()[0] != 0)

    # 0 -> 1: a unit after the fusion's linear output would not start as identity (no ReLU before it); 2 -> 1 shrinks
    for units in (0, 2):
        narrow = ModelConfig(**{**TINY.__dict__, "head_units": units})
        folder = tmp_path / f"units{units}"
        training.train(str(folder), pattern, DATA, narrow, TrainConfig(**{**cfg.__dict__, "train_steps": 1}),
                       strategy=_single_device(), log=lambda m: None)
        target = ModelConfig(**{**TINY.__dict__, "head_units": 1})
        with pytest.raises(training.TrainingError, match=f"head_units={units}.*head_units=1.*only head_units may grow"):
            training.init_weights(training.build(target, cfg, _single_device())[0], target, str(folder))


def _scalars(folder, tag):
    """{step: value} of one TensorBoard scalar in the event files of `folder`."""
    from tensorflow.core.util import event_pb2
    values = {}
    for path in sorted(folder.glob("events*")):
        for record in tf.data.TFRecordDataset(str(path)):
            event = event_pb2.Event.FromString(record.numpy())
            values.update({event.step: float(tf.make_ndarray(v.tensor)) for v in event.summary.value if v.tag == tag})
    return values


def _record_batches(monkeypatch):
    """A list that each training step from now on appends its batch's pixel sum to."""
    seen = []
    real = training.make_train_step

    def recording(*args, **kwargs):
        step = real(*args, **kwargs)

        def run(images, targets):
            seen.append(round(float(tf.reduce_sum(images)), 1))
            return step(images, targets)
        return run

    monkeypatch.setattr(training, "make_train_step", recording)
    return seen


def test_resume_continues_the_data_order(synth_data, tmp_path, monkeypatch):
    """The data iterator is in the checkpoint (on one device, the default strategy, as the command line
    runs): 3 steps + resume to 6 sees the batches of one 6-step run."""
    _, _, pattern = synth_data
    seen = _record_batches(monkeypatch)
    cfg = TrainConfig(train_steps=6, batch_size=2, learning_rate=1e-3, shuffle_buffer=8)
    default = tf.distribute.get_strategy()
    training.train(str(tmp_path / "straight"), pattern, DATA, TINY, cfg, strategy=default, log=lambda m: None)
    straight, seen[:] = list(seen), []
    for steps in (3, 6):
        training.train(str(tmp_path / "resumed"), pattern, DATA, TINY, TrainConfig(**{**cfg.__dict__, "train_steps": steps}),
                       strategy=default, log=lambda m: None)
    assert len(straight) == 6 and len(set(straight)) == 6
    assert seen == straight


def test_resume_with_other_records_or_batches_says_so_and_restarts_the_data_order(synth_data, tmp_path, monkeypatch):
    """A data position saved for other records once restored silently (buffered examples of the old
    records) or failed with "corrupt ... delete it". The model and optimizer resume; the message says
    what changed; the data order restarts, as a fresh stream over the new records."""
    _, _, pattern = synth_data
    seen = _record_batches(monkeypatch)
    default = tf.distribute.get_strategy()
    cfg = TrainConfig(train_steps=3, batch_size=2, learning_rate=1e-3, shuffle_buffer=8)
    one_shard = sorted(pipeline.record_files(pattern))[0]
    training.train(str(tmp_path / "fresh"), one_shard, DATA, TINY, cfg, strategy=default, log=lambda m: None)
    fresh, seen[:] = list(seen), []
    training.train(str(tmp_path / "run"), pattern, DATA, TINY, cfg, strategy=default, log=lambda m: None)
    logs = []
    out = training.train(str(tmp_path / "run"), one_shard, DATA, TINY, TrainConfig(**{**cfg.__dict__, "train_steps": 6}),
                         strategy=default, log=logs.append)
    assert out["step"] == 6
    line = [m for m in logs if "resumed" in m]
    assert len(line) == 1 and "at step 3" in line[0] and "--train_records: 2 file(s) then, 1 now" in line[0] \
        and "the data order restarts" in line[0] and "delete" not in line[0], logs
    assert seen[3:] == fresh
    logs = []
    out = training.train(str(tmp_path / "run"), one_shard, DATA, TINY,
                         TrainConfig(**{**cfg.__dict__, "train_steps": 7, "batch_size": 4}), strategy=default,
                         log=logs.append)
    assert out["step"] == 7 and any("--batch_size: 2 then, 4 now" in m for m in logs), logs
    logs = []
    training.train(str(tmp_path / "run"), one_shard, DATA, TINY,
                   TrainConfig(**{**cfg.__dict__, "train_steps": 8, "batch_size": 4}), strategy=default, log=logs.append)
    assert any(m.startswith("resumed from") and "step 7" in m for m in logs), logs


def test_records_that_are_not_tfrecords_stop_with_one_line_and_leave_no_folder(tmp_path):
    bad = tmp_path / "bad-00000-of-00001.tfrecord"
    bad.write_text("not a TFRecord file\n" * 100)
    model_dir = tmp_path / "model"
    proc = subprocess.run(
        [sys.executable, "-m", "cf_tf.train", "--flagfile=experiments/tiny.flags", f"--model_dir={model_dir}",
         f"--train_records={tmp_path}/bad-*", "--train_steps=2"], cwd=REPO, capture_output=True, text=True,
        timeout=300)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith(
        f"error: --train_records={tmp_path}/bad-*: a record cannot be read")
    assert not model_dir.exists(), "no cf_tf_config.json ties the folder to records that cannot be read"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl_c", "sigterm"])
def test_a_stop_saves_the_step_the_optimizer_took(synth_data, tmp_path, sig):
    """SIGINT (Ctrl-C) or SIGTERM (kill, a scheduler) mid-run: one line, exit 1, and the checkpoint's
    number is the step its optimizer holds."""
    _, _, pattern = synth_data
    model_dir = tmp_path / "model"
    proc = subprocess.Popen(
        [sys.executable, "-m", "cf_tf.train", "--flagfile=experiments/tiny.flags", f"--model_dir={model_dir}",
         f"--train_records={pattern}", "--train_steps=100000", "--batch_size=2", "--crop_size=65",
         "--checkpoint_every=5"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=interruptible)
    # steps were taken once the first periodic checkpoint is there (a fixed wait stopped a slower CPU
    # still tracing its first step); the stop lands a few steps later
    deadline = time.time() + 240
    while not any((model_dir / "checkpoints").glob("ckpt-*.index")) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    time.sleep(1)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1 and "Traceback" not in err
    match = re.search(r"error: interrupted at step (\d+); saved (\S+)", err)
    assert match, err[-2000:]
    step, path = int(match.group(1)), match.group(2)
    assert step >= 1 and path.endswith(f"ckpt-{step}")
    reader = tf.train.load_checkpoint(path)
    key = "optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE"
    assert int(reader.get_tensor(key)) == step


def test_bad_inputs_stop_with_clear_messages(synth_data, tmp_path):
    _, _, pattern = synth_data
    cfg = TrainConfig(train_steps=2, batch_size=2)
    with pytest.raises(training.TrainingError, match="no TFRecord file matches"):
        training.train(str(tmp_path / "a"), str(tmp_path / "none-*"), DATA, TINY, cfg, strategy=_single_device())
    with pytest.raises(ValueError, match="learning_rate must be > 0"):
        TrainConfig(learning_rate=-1e-5)
    with pytest.raises(training.TrainingError, match="unknown backbone"):
        training.train(str(tmp_path / "b"), pattern, DATA, ModelConfig(backbone="vgg"), cfg, strategy=_single_device())
    good = tmp_path / "c"
    training.train(str(good), pattern, DATA, TINY, cfg, strategy=_single_device())
    for name in os.listdir(good / "checkpoints"):
        if ".data-" in name:
            (good / "checkpoints" / name).write_bytes(b"\0garbage" * 10)
    with pytest.raises(training.TrainingError, match="corrupt"):
        training.train(str(good), pattern, DATA, TINY, TrainConfig(train_steps=4, batch_size=2),
                       strategy=_single_device())


def test_command_line_reports_missing_records(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "cf_tf.train", "--flagfile=experiments/tiny.flags", f"--model_dir={tmp_path}",
         f"--train_records={tmp_path}/missing-*"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and "no TFRecord file matches" in proc.stderr


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(synth_data, tmp_path, monkeypatch):
    _, _, pattern = synth_data
    cfg = TrainConfig(train_steps=2, batch_size=2, learning_rate=1e-3)
    training.train(str(tmp_path), pattern, DATA, TINY, cfg, strategy=_single_device(), log=lambda m: None)
    real_combine = losses.combine

    def poisoned(sums, weights):
        terms, total = real_combine(sums, weights)
        return terms, total * float("nan")

    monkeypatch.setattr(losses, "combine", poisoned)
    with pytest.raises(training.TrainingError, match="loss is nan at step 3.*last good checkpoint is .*ckpt-2"):
        training.train(str(tmp_path), pattern, DATA, TINY, TrainConfig(**{**cfg.__dict__, "train_steps": 5}),
                       strategy=_single_device(), log=lambda m: None)
    assert tf.train.latest_checkpoint(str(tmp_path / "checkpoints")).endswith("ckpt-2")


def _losses_of_steps(batch, n, **train_flags):
    """The total loss of n train steps of TINY from one initialisation on one batch, with train_flags
    (TrainConfig fields) set."""
    images, targets = batch
    strategy = _single_device()
    train_cfg = TrainConfig(learning_rate=1e-3, **train_flags)
    keras.utils.set_random_seed(0)
    model, optimizer = training.build(TINY, train_cfg, strategy)
    step = training.make_train_step(model, optimizer, strategy, losses.LossWeights(), train_cfg.jit_compile)
    return model, optimizer, [float(step(images, targets)[0]) for _ in range(n)]


def test_the_gpu_paths_xla_and_mixed_precision_train_like_float32(batch):
    """--jit_compile and --mixed_precision, the GPU paths, on this CPU. XLA only fuses and reorders
    float32 ops: the first loss (the same forward pass) agrees to 1e-5 relative. After it the two
    trajectories part: Adam's first steps move each weight by about the learning rate whatever its
    gradient's size, so a reordered sum's last-bit difference in a near-zero gradient can flip a
    step-sized move (CI measured 1.04e-3 relative at step 3 once, 1.16e-2 another time). What a wrong
    XLA gradient would change is the loss drop itself, so the losses are compared to it: each within
    20 % of the reference's drop over the 3 steps (CI's worst: 0.087 of about 2.6, 3 %); a gradient
    of the wrong sign or size would miss by about the whole drop. Under mixed_float16 activations
    keep about 3 decimal digits (float16's 11-bit significand): the first loss agrees to 1 %. Dynamic
    loss scaling starts at 2^15 and skips each step whose float16 gradients overflow, halving the
    scale (the first few steps here: the loss stays put); then it trains."""
    _, _, reference = _losses_of_steps(batch, 3)
    _, _, xla = _losses_of_steps(batch, 3, jit_compile=True)
    model, optimizer, mixed = _losses_of_steps(batch, 12, mixed_precision=True)
    assert keras.mixed_precision.global_policy().name == "float32"   # not leaked to later models
    assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
    assert any(layer.compute_dtype == "float16" for layer in model.layers)
    assert all(v.dtype == tf.float32 for v in model(batch[0][:1]).values())
    assert all(np.isfinite(reference + xla + mixed)) and reference[-1] < reference[0]
    np.testing.assert_allclose(xla[0], reference[0], rtol=1e-5)
    drop = reference[0] - reference[-1]
    assert np.max(np.abs(np.subtract(xla, reference))) <= 0.2 * drop, (xla, reference)
    np.testing.assert_allclose(mixed[0], reference[0], rtol=0.01)
    assert float(optimizer.dynamic_scale) < 2.0 ** 15 and min(mixed) < 0.9 * mixed[0], mixed


def test_a_mixed_precision_run_exports_a_float32_savedmodel(synth_data, tmp_path):
    """The run config does not hold the precision: export rebuilds the network in float32 and loads the
    float32 weights, so the SavedModel's outputs are float32 and match the in-process decoder's."""
    from cf_tf import serving
    from cf_tf.config import DecodeConfig
    from cf_tf.inference import Predictor, load_saved_model, restore_model

    _, _, pattern = synth_data
    training.train(str(tmp_path / "run"), pattern, DATA, TINY, TrainConfig(train_steps=2, batch_size=2,
                                                                            mixed_precision=True),
                   strategy=_single_device(), log=lambda m: None)
    model, _, data_cfg = restore_model(str(tmp_path / "run"))
    assert all(v.dtype == "float32" for v in model.weights) and \
        all(layer.compute_dtype == "float32" for layer in model.layers if hasattr(layer, "compute_dtype"))
    predictor = Predictor(model, data_cfg, DecodeConfig.matching(data_cfg))
    serving.export(predictor, str(tmp_path / "sm"))
    image = tf.constant(np.random.default_rng(0).integers(0, 255, (1, 96, 128, 3)), tf.uint8)
    out = load_saved_model(str(tmp_path / "sm")).signatures["serving_default"](images=image)
    assert {k: v.dtype for k, v in out.items()} == {
        "keypoints": tf.float32, "scores": tf.float32, "mask_scores": tf.float32, "masks": tf.uint8,
        "boxes": tf.float32, "num_people": tf.int32}
    here = predictor(image)
    np.testing.assert_allclose(out["keypoints"].numpy(), here["keypoints"].numpy(), atol=1e-3)


def test_diverging_run_never_saves_a_checkpoint_with_non_finite_weights(synth_data, tmp_path):
    """lr 1e3 drives BatchNorm statistics to inf before the loss turns NaN: those steps must not be saved."""
    _, _, pattern = synth_data
    cfg = TrainConfig(train_steps=60, batch_size=2, learning_rate=1e3, checkpoint_every=1, keep_checkpoints=100)
    with pytest.raises(training.TrainingError, match=r"variable\(s\) are not finite at step") as stop:
        training.train(str(tmp_path), pattern, DATA, TINY, cfg, strategy=_single_device(), log=lambda m: None)
    bad_step = int(re.search(r"not finite at step (\d+)", str(stop.value)).group(1))
    saved = tf.train.get_checkpoint_state(str(tmp_path / "checkpoints")).all_model_checkpoint_paths
    assert saved, "the steps before the divergence were saved"
    assert str(stop.value).endswith(f"last good checkpoint is {saved[-1]}. Lower --learning_rate or check the data.")
    assert [int(p.rsplit("-", 1)[1]) for p in saved] == list(range(1, bad_step))
    for path in saved:
        reader = tf.train.load_checkpoint(path)
        for name in reader.get_variable_to_shape_map():
            value = np.asarray(reader.get_tensor(name))
            if np.issubdtype(value.dtype, np.floating):
                assert np.isfinite(value).all(), (path, name)


def test_a_live_lock_on_model_dir_stops_a_second_run_and_a_stale_one_is_taken_over(synth_data, tmp_path):
    _, _, pattern = synth_data
    cfg = TrainConfig(train_steps=2, batch_size=2, learning_rate=1e-3)
    lock = tmp_path / files.LOCK_FILE
    lock.write_text(f"{os.getpid()} {socket.gethostname()}")   # this test's process: alive
    with pytest.raises(training.TrainingError, match=f"{tmp_path} is in use by process {os.getpid()} on "):
        training.train(str(tmp_path), pattern, DATA, TINY, cfg, strategy=_single_device(), log=lambda m: None)
    assert sorted(os.listdir(tmp_path)) == [files.LOCK_FILE], "the running owner's folder is untouched"
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lock.write_text(f"{ended.stdout.strip()} {socket.gethostname()}")   # a process that has exited
    result = training.train(str(tmp_path), pattern, DATA, TINY, cfg, strategy=_single_device(), log=lambda m: None)
    assert result["step"] == 2 and not lock.exists()


def test_failed_start_leaves_no_model_dir(tmp_path):
    with pytest.raises(training.TrainingError, match="no TFRecord file matches"):
        training.train(str(tmp_path / "new"), str(tmp_path / "none-*"), DATA, TINY, TrainConfig(train_steps=2),
                       strategy=_single_device())
    assert not (tmp_path / "new").exists()


def _train_cli(model_dir, pattern, steps, tf_config=None, *flags):
    """`python -m cf_tf.train` on the tiny model (global batch 4, 65 px crops) with `flags`, as a process."""
    env = dict(os.environ)
    env.pop("TF_CONFIG", None)
    if tf_config:
        env["TF_CONFIG"] = json.dumps(tf_config)
    return subprocess.Popen(
        [sys.executable, "-m", "cf_tf.train", "--flagfile=experiments/tiny.flags", f"--model_dir={model_dir}",
         f"--train_records={pattern}", f"--train_steps={steps}", "--batch_size=4", "--crop_size=65",
         "--checkpoint_every=100000", *flags], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)


def _two_workers(model_dir, pattern, steps):
    """Two training workers on 127.0.0.1, worker 0 the chief."""
    return [_train_cli(model_dir, pattern, steps, tf_config) for tf_config in local_cluster(2)]


def test_two_worker_processes_train_together_and_only_the_chief_writes(synth_data, tmp_path):
    """Two workers train 3 steps of global batch 4; only the chief writes --model_dir, and every
    weight of its checkpoint moved from the initialisation."""
    _, _, pattern = synth_data
    workers = _two_workers(tmp_path / "cluster", pattern, 3)
    for proc in workers:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]
    assert sorted(os.listdir(tmp_path / "cluster")) == ["cf_tf_config.json", "checkpoints", "train"]
    assert sorted(n for n in os.listdir(tmp_path / "cluster" / "checkpoints") if n.startswith("ckpt-")) == \
        ["ckpt-3.data-00000-of-00001", "ckpt-3.index"]
    keras.utils.set_random_seed(TrainConfig().seed)   # the initialisation both workers started from
    initial, _ = training.build(DEMO_MODEL, TrainConfig(), _single_device())
    trained, optimizer = training.build(DEMO_MODEL, TrainConfig(), _single_device())
    tf.train.Checkpoint(model=trained, optimizer=optimizer).restore(
        str(tmp_path / "cluster" / "checkpoints" / "ckpt-3")).expect_partial()
    assert int(optimizer.iterations.numpy()) == 3
    moved = [np.abs(a.numpy() - b.numpy()).max() for a, b in zip(initial.trainable_variables,
                                                                   trained.trainable_variables)]
    # three Adam steps early in the warm-up move a weight by at most the sum of their learning rates,
    # 1.2e-4: the chief started from the seeded initialisation and took exactly those steps
    assert len(moved) > 20 and 0 < min(moved) and max(moved) < 2e-4


def test_a_time_budget_on_several_workers_is_refused_in_one_line_before_any_step(synth_data, tmp_path):
    """--train_minutes: each worker would measure its own steps/s and choose its own last step, where all
    must stop together."""
    _, _, pattern = synth_data
    workers = [_train_cli(tmp_path / "cluster", pattern, 3, tf_config, "--train_minutes=1")
               for tf_config in local_cluster(2)]
    for proc in workers:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 1 and "Traceback" not in err, err[-3000:]
        assert err.strip().splitlines()[-1].startswith("error: --train_minutes measures one process's steps/s")
    assert not (tmp_path / "cluster" / "checkpoints").exists()


@pytest.mark.parametrize("shards", [2, 1], ids=["by file", "by element"])
def test_each_of_two_workers_decodes_only_its_share_and_every_example_is_used_once(tmp_path, shards):
    """Per-worker input (distribute_datasets_from_function): over one epoch of 24 records, each
    worker decodes 12 (2 shards: one file each; 1 shard: every other record) and batches what it
    decoded; together they use each example exactly once, and no two share a random key."""
    from conftest import make_synth

    ann, _, pattern = make_synth(tmp_path, num_images=24, seed=5, num_shards=shards)
    env = {**os.environ, "PYTHONPATH": REPO}
    procs = [subprocess.Popen([sys.executable, "tests/input_worker.py", pattern, str(tmp_path / f"w{i}.json")],
                              cwd=REPO, env={**env, "TF_CONFIG": json.dumps(c)}, stderr=subprocess.PIPE, text=True)
             for i, c in enumerate(local_cluster(2))]
    for proc in procs:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]
    workers = [json.loads((tmp_path / f"w{i}.json").read_text()) for i in range(2)]
    everyone = json.loads(open(ann).read())["images"]
    for w in workers:
        assert len(w["decoded"]) == 12 and sorted(w["batched"]) == sorted(i for i, _ in w["decoded"])
    used = workers[0]["batched"] + workers[1]["batched"]
    assert sorted(used) == sorted(image["id"] for image in everyone)
    keys = [k for w in workers for _, k in w["decoded"]]
    assert len(set(keys)) == len(keys) == 24

def test_a_worker_that_dies_stops_the_other_with_one_line(synth_data, tmp_path):
    _, _, pattern = synth_data
    chief, other = _two_workers(tmp_path / "cluster", pattern, 100000)
    deadline = time.time() + 300
    while not (tmp_path / "cluster" / "train").exists() and time.time() < deadline and chief.poll() is None:
        time.sleep(0.5)
    time.sleep(5)   # some steps
    other.kill()
    other.communicate()
    _, err = chief.communicate(timeout=120)   # bounded: raises TimeoutExpired if the chief hangs
    assert chief.returncode == 1 and "Traceback" not in err, err[-3000:]
    assert err.strip().splitlines()[-1].startswith("error: a worker of the cluster stopped or cannot be reached")


def test_a_checkpoint_the_disk_cannot_hold_is_one_line_and_leaves_no_temp_folder(synth_data, tmp_path, monkeypatch):
    """A full disk ended training in a raw ResourceExhaustedError and left ckpt-N_temp/ behind."""
    _, _, pattern = synth_data

    def full_disk(self, checkpoint_number=None, **kwargs):
        os.makedirs(os.path.join(self.directory, f"ckpt-{checkpoint_number}_temp"))
        raise tf.errors.ResourceExhaustedError(None, None, f"{self.directory}/ckpt-{checkpoint_number}_temp/part; "
                                               f"No space left on device")

    monkeypatch.setattr(tf.train.CheckpointManager, "save", full_disk)
    with pytest.raises(training.TrainingError, match="could not write checkpoint 2 .*No space left on device"):
        training.train(str(tmp_path), pattern, DATA, TINY, TrainConfig(train_steps=2, batch_size=2),
                       strategy=_single_device(), log=lambda m: None)
    assert os.listdir(tmp_path / "checkpoints") == []


def test_a_stream_saved_before_a_data_setting_existed_reads_it_at_its_default():
    """A folder saved before --maskcentroid_border keeps its data position when resumed at the default,
    and a run that changes it is told so."""
    data = {k: v for k, v in DataConfig().__dict__.items() if k != "geometry"}
    current = {"records": ["/r/a.tfrecord"], "batch_size": 4, "seed": 0, "shuffle_buffer": 256, "data": data}
    older = {**current, "data": {k: v for k, v in data.items() if k != "maskcentroid_border"}}
    assert training.stream_changes(older, current) == []
    emphasised = {**current, "data": {**data, "maskcentroid_border": 3.0}}
    assert training.stream_changes(older, emphasised) == ["--maskcentroid_border: 0.0 then, 3.0 now"]
