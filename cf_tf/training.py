"""Training: a custom loop (no model.fit) under a tf.distribute strategy (python -m cf_tf.train).

MirroredStrategy over the visible GPUs when there are two or more, the default strategy on one
device (the CPU included), MultiWorkerMirroredStrategy when TF_CONFIG is set. Checkpoints
(tf.train.CheckpointManager) every checkpoint_every steps, at the end and on Ctrl-C; training
resumes from the latest checkpoint in model_dir. TensorBoard scalars for every loss term and the
learning rate, images of predicted vs target maps. A NaN/Inf loss stops training and keeps the last
good checkpoint.
"""

import collections
import dataclasses
import math
import glob
import json
import os
import re
import shutil
import tempfile
import time

import keras
import tensorflow as tf

from cf_tf import config as cf_config
from cf_tf import files
from cf_tf import losses
from cf_tf.constants import CHECKPOINTS
from cf_tf.data import pipeline, schema
from cf_tf.errors import op_error_reason
from cf_tf.inference import restore_model
from cf_tf.model import backbones
from cf_tf.model.centerfocus import build_model
from cf_tf.outputs import OUTPUTS
from cf_tf.progress import Progress


# The run's summary reports each loss term's mean over its last this many steps: one step's loss at a
# small batch is too noisy to compare two runs by.
RECENT_STEPS = 250
# A time-budgeted run (--train_minutes) measures its steps/s between these steps of its loop (the first
# ones trace the step function and fill the input pipeline), then ends its schedule where the budget runs
# out; a probe inside tiny.flags' warm-up leaves its learning rates those of any end.
BUDGET_PROBE = (10, 90)
BUDGET_FILE = "train_budget.json"   # in model_dir: the end a time-budgeted run chose, which a resume keeps


class TrainingError(RuntimeError):
    """Training cannot start or go on; the message says why."""


class WarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up to the peak rate, then constant or cosine decay to 0 at total_steps.

    total_steps is held in a variable, so that a time-budgeted run (--train_minutes) can move the end
    once it has measured its step rate, without tracing the train step again."""

    def __init__(self, peak, warmup_steps, total_steps, decay):
        self.peak, self.warmup, self.decay = peak, warmup_steps, decay
        self.total = tf.Variable(total_steps, trainable=False, dtype=tf.int64, name="schedule_total_steps")

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        warm = tf.minimum(1.0, (step + 1.0) / max(self.warmup, 1))
        if self.decay == "cosine":
            span = tf.maximum(tf.cast(self.total, tf.float32) - self.warmup, 1.0)
            frac = tf.clip_by_value((step - self.warmup) / span, 0.0, 1.0)
            return self.peak * warm * 0.5 * (1.0 + tf.cos(math.pi * frac))
        return self.peak * warm

    def get_config(self):
        return {"peak": self.peak, "warmup_steps": self.warmup, "total_steps": int(self.total.numpy()),
                "decay": self.decay}


def make_strategy():
    """MultiWorkerMirroredStrategy under TF_CONFIG, MirroredStrategy over 2+ GPUs, else the default
    strategy: on one device a MirroredStrategy or OneDeviceStrategy only adds the cost of
    distributing every step (docs/ARCHITECTURE.md, "The training loop")."""
    if os.environ.get("TF_CONFIG"):
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) >= 2:
        return tf.distribute.MirroredStrategy([d.name for d in gpus])
    return tf.distribute.get_strategy()


def _is_chief(strategy):
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    return resolver.task_type == "chief" or (resolver.task_type == "worker" and resolver.task_id == 0
                                             and "chief" not in resolver.cluster_spec().as_dict())


def build(model_cfg, train_cfg, strategy):
    """(model, optimizer) built inside the strategy scope, optimizer variables created (SPEC pitfall)."""
    return _build(model_cfg, train_cfg, strategy)[:2]


def _build(model_cfg, train_cfg, strategy):
    """build()'s (model, optimizer) and the optimizer's WarmupSchedule."""
    previous = keras.mixed_precision.global_policy()
    # layers take the policy when built; restoring it keeps later models in this process unaffected
    keras.mixed_precision.set_global_policy("mixed_float16" if train_cfg.mixed_precision else previous)
    with strategy.scope():
        try:
            model = build_model(model_cfg)
        finally:
            keras.mixed_precision.set_global_policy(previous)
        schedule = WarmupSchedule(train_cfg.learning_rate, train_cfg.warmup_steps,
                                  train_cfg.train_steps, train_cfg.lr_schedule)
        optimizer = keras.optimizers.Adam(learning_rate=schedule)
        if train_cfg.mixed_precision:
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        optimizer.build(model.trainable_variables)
    return model, optimizer, schedule


def make_train_step(model, optimizer, strategy, weights, jit_compile=False):
    """A tf.function (images, targets) -> (total loss, {term: loss}) over the global batch."""

    def replica_step(images, targets):
        with tf.GradientTape() as tape:
            outputs = model(images, training=True)
            sums = losses.loss_sums(outputs, targets)
            # Normalise by the global count of defined pixels so that replicas add up exactly.
            counts = tf.distribute.get_replica_context().all_reduce(
                "sum", [c for _, c in sums.values()])
            sums = {k: (s, c) for (k, (s, _)), c in zip(sums.items(), counts)}
            terms, total = losses.combine(sums, weights)
            scaled = optimizer.scale_loss(total)  # identity unless mixed precision
        grads = tape.gradient(scaled, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return total, terms

    replica_fn = tf.function(replica_step, jit_compile=jit_compile) if jit_compile else replica_step

    @tf.function
    def step(images, targets):
        total, terms = strategy.run(replica_fn, args=(images, targets))
        reduce = lambda x: strategy.reduce(tf.distribute.ReduceOp.SUM, x, axis=None)  # noqa: E731
        return reduce(total), {k: reduce(v) for k, v in terms.items()}

    return step


def _image_summaries(model, images, targets, step):
    """Each logit output of the first image, probability beside target (max over channels)."""
    outputs = model(images[:1], training=False)
    tf.summary.image("input", tf.cast(images[:1], tf.uint8), step=step)
    for out in OUTPUTS:
        if out.kind == "logit":
            pred = tf.reduce_max(tf.sigmoid(tf.cast(outputs[out.name], tf.float32)), -1, keepdims=True)
            target = tf.reduce_max(targets[out.name][:1], -1, keepdims=True)
            tf.summary.image(f"{out.name}/predicted_vs_target", tf.concat([pred, target], axis=2), step=step)


def restore_or_init(latest, checkpoint):
    """Restores checkpoint path `latest`, if any; a corrupt one raises TrainingError naming it."""
    if latest is None:
        return None
    try:
        checkpoint.restore(latest).assert_existing_objects_matched()
    except Exception as e:  # a damaged file fails in many ways (OpError, IndexError, ...)
        raise TrainingError(f"checkpoint {latest} is corrupt or from another model "
                            f"({type(e).__name__}: {str(e).splitlines()[0][:300]}); train into "
                            f"another --model_dir") from None
    return latest


def init_weights(model, model_cfg, source):
    """Sets the weights of `model` (built as model_cfg) to those of the latest checkpoint in `source`, a
    training or kept model folder of the same network (backbone weights aside: the checkpoint holds
    them all); returns that checkpoint's path. A warm start: the optimizer is not taken.

    The source may also have fewer head units (at least one): the network grows where the PoseSeg
    heads read. Every layer they share takes its weights; each added unit follows the source's last
    one, whose output is a ReLU's, and starts as its shortcut (its last BatchNorm's scale is zero,
    blocks.bottleneck), so the grown network computes exactly what the source did."""
    try:
        trained, source_cfg, _ = restore_model(source)
    except (FileNotFoundError, cf_config.CheckpointError) as e:
        raise TrainingError(f"--init_from={source}: {e}") from None
    grows = 1 <= source_cfg.head_units < model_cfg.head_units
    if dataclasses.replace(source_cfg, backbone_weights=model_cfg.backbone_weights,
                           head_units=model_cfg.head_units if grows else source_cfg.head_units) != model_cfg:
        raise TrainingError(f"--init_from={source} holds a model built as {source_cfg}, but the flags ask for "
                            f"{model_cfg} (only head_units may grow, from at least 1)")
    # by layer name: the same network shares every layer; a grown one all but its added units
    source_layers = {layer.name: layer for layer in trained.layers}
    for layer in model.layers:
        if layer.name in source_layers:
            layer.set_weights(source_layers[layer.name].get_weights())
    return cf_config.latest_checkpoint(os.path.join(source, CHECKPOINTS))


def distributed_input(strategy, records, data_cfg, train_cfg, repeat=True):
    """The training batches as the strategy's replicas take them. Each input pipeline (one per worker)
    reads, decodes and augments only its share of the records (pipeline.train_dataset with the
    InputContext), so a worker's input cost per example does not grow with the number of workers."""
    return strategy.distribute_datasets_from_function(
        lambda context: pipeline.train_dataset(records, data_cfg, train_cfg.batch_size, train_cfg.seed,
                                               train_cfg.shuffle_buffer, repeat, context))


def training_stream(records, data_cfg, train_cfg):
    """What a saved data position depends on: the record files, batch size, seed, shuffle buffer and
    the data settings (crop, augmentation)."""
    stream = {"records": [os.path.realpath(f) for f in pipeline.record_files(records)],
              "batch_size": train_cfg.batch_size, "seed": train_cfg.seed, "shuffle_buffer": train_cfg.shuffle_buffer,
              "data": {k: v for k, v in dataclasses.asdict(data_cfg).items() if k != "geometry"}}
    return json.loads(json.dumps(stream))   # as the run config will hold it, so that equal compares equal


def stream_changes(saved, current):
    """What differs between a saved training stream and the current one, in flag words ([] when the
    same, or when the folder saved none)."""
    if saved is None:
        return []
    out = []
    if saved.get("records") != current["records"]:
        out.append(f"--train_records: {len(saved.get('records') or [])} file(s) then, {len(current['records'])} "
                   f"now, not the same")
    for key in ("batch_size", "seed", "shuffle_buffer"):
        if saved.get(key) != current[key]:
            out.append(f"--{key}: {saved.get(key)} then, {current[key]} now")
    # a setting added since the folder was saved had its default then
    then = {**dataclasses.asdict(cf_config.DataConfig()), **(saved.get("data") or {})}
    out += [f"--{k}: {then.get(k)} then, {v} now" for k, v in current["data"].items() if then.get(k) != v]
    return out


def _batches(iterator, records):
    """The training batches; a record that cannot be read stops training with one line naming it."""
    while True:
        try:
            yield next(iterator)
        except StopIteration:   # the training stream repeats: it ends only when there is nothing in it
            raise TrainingError(f"--train_records={records}: the records hold no example (every shard is empty); "
                                f"convert the data again with fewer --num_shards") from None
        except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as e:
            if schema.NON_FINITE in e.message:
                image = re.search(schema.NON_FINITE + r"\W*(\d+)", e.message)
                raise TrainingError(f"--train_records={records}: the record of image id "
                                    f"{image.group(1) if image else '?'} holds NaN or infinite keypoints (records "
                                    f"converted before the converter refused them); convert the data again with "
                                    f"data_prep.coco_to_tfrecord, which names the bad annotations") from None
            raise TrainingError(f"--train_records={records}: a record cannot be read ({op_error_reason(e)}); the "
                                f"files must be TFRecords written by data_prep.coco_to_tfrecord") from None


def save_checkpoint(manager, model, step):
    """Saves checkpoint `step` only when every model variable, BatchNorm statistics included, is finite;
    otherwise raises TrainingError naming the last good checkpoint (a finite loss does not prove it)."""
    bad = [v.path for v in model.variables if not bool(tf.reduce_all(tf.math.is_finite(v)))]
    if bad:
        raise TrainingError(f"{len(bad)} variable(s) are not finite at step {step} (first: {bad[0]}); not saved, "
                            f"the last good checkpoint is {manager.latest_checkpoint}. Lower --learning_rate "
                            f"or check the data.")
    try:
        manager.save(checkpoint_number=step)
    except (OSError, tf.errors.OpError) as e:   # a full disk: TensorFlow leaves its ckpt-N_temp folder
        for partial in glob.glob(os.path.join(manager.directory, f"ckpt-{step}_temp*")):
            files.remove_tree(partial)
        raise TrainingError(f"could not write checkpoint {step} into {manager.directory}: "
                            f"{files.describe_os_error(e)}; the last good checkpoint is "
                            f"{manager.latest_checkpoint or 'none yet'}") from None


def train(model_dir, records, data_cfg, model_cfg, train_cfg, weights=losses.LossWeights(),
          strategy=None, log=print):
    """Trains to train_cfg.train_steps (or, with train_minutes, to the step where they run out, at most
    that), resuming from model_dir; returns a summary dict.

    The chief holds model_dir's lock (cf_tf/files.py) throughout: a second run on the same folder
    stops with a message instead of replacing the first one's checkpoints."""
    strategy = strategy or make_strategy()
    if not _is_chief(strategy):
        # Every worker takes part in saving (MultiWorkerMirroredStrategy); only the chief's checkpoints
        # are kept, in model_dir: the others go to a temporary folder, removed at the end.
        tmp = tempfile.mkdtemp(prefix="cf_tf_worker_")
        try:
            return _train(model_dir, records, data_cfg, model_cfg, train_cfg, weights, strategy, log, tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    try:
        with files.folder_lock(model_dir, "training"):
            return _train(model_dir, records, data_cfg, model_cfg, train_cfg, weights, strategy, log)
    except files.FolderLockedError as e:
        raise TrainingError(str(e)) from None
    except (OSError, tf.errors.ResourceExhaustedError) as e:   # a write into model_dir (full disk), not memory
        if os.path.abspath(model_dir) not in str(e):
            raise
        raise TrainingError(f"could not write into {model_dir}: {files.describe_os_error(e)}") from None


@dataclasses.dataclass
class _Run:
    """What the step loop needs, once the model, optimizer, data and checkpoint are set up."""
    model: keras.Model
    optimizer: keras.optimizers.Optimizer
    manager: tf.train.CheckpointManager
    batches: object          # iterator of (images, targets)
    first: object            # the first batch, already read (None when nothing is left to train)
    start: int               # the step training resumes from
    chief: bool
    schedule: WarmupSchedule
    end: int                 # the step it trains to: train_steps, or the end a time budget chose
    probe: bool              # a time budget whose end is still to choose


def _train(model_dir, records, data_cfg, model_cfg, train_cfg, weights, strategy, log, ckpt_dir=None):
    """train() once the folder is this process's: ckpt_dir (default model_dir/checkpoints) is where
    it saves; every worker resumes from the chief's latest checkpoint."""
    run = _start(model_dir, records, data_cfg, model_cfg, train_cfg, strategy, log, ckpt_dir)
    return _loop(run, model_dir, train_cfg, weights, strategy, log)


def _start(model_dir, records, data_cfg, model_cfg, train_cfg, strategy, log, ckpt_dir):
    """Checks the settings, builds the model and optimizer, restores the latest checkpoint, reads the
    first batch and, on the chief, writes the run config."""
    replicas = strategy.num_replicas_in_sync
    if train_cfg.train_minutes and isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        raise TrainingError("--train_minutes measures one process's steps/s, and every worker must stop at the "
                            "same step: with several workers give --train_steps alone")
    if train_cfg.batch_size % replicas:
        raise TrainingError(f"--batch_size={train_cfg.batch_size} is not divisible by the {replicas} replicas")
    if data_cfg.geometry != model_cfg.geometry:
        raise TrainingError(f"the data and the model must share one geometry ({data_cfg.geometry} vs "
                            f"{model_cfg.geometry})")
    try:
        pipeline.record_files(records)
    except pipeline.RecordsNotFoundError as e:
        raise TrainingError(str(e)) from None
    saved = os.path.join(model_dir, cf_config.RUN_CONFIG)
    if os.path.isfile(saved):
        prev_model, _ = cf_config.load_run_config(model_dir)
        if prev_model != model_cfg:
            raise TrainingError(f"{model_dir} holds a model built as {prev_model}, but the flags ask for "
                                f"{model_cfg}: use another --model_dir")
    keras.utils.set_random_seed(train_cfg.seed)   # the same flags give the same initial weights
    try:
        model, optimizer, schedule = _build(model_cfg, train_cfg, strategy)
    except backbones.BackboneError as e:
        raise TrainingError(str(e)) from None
    chief = _is_chief(strategy)
    chief_dir = os.path.join(model_dir, CHECKPOINTS)
    iterator = iter(distributed_input(strategy, records, data_cfg, train_cfg))
    # On one device the iterator is saved too, so a resumed run continues the data order instead of
    # restarting it; tf.distribute's iterators over several replicas cannot be saved.
    state = {"data": iterator} if isinstance(iterator, tf.data.Iterator) else {}
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, **state)
    latest = cf_config.latest_checkpoint(chief_dir)   # before the manager, which reads the same index
    manager = tf.train.CheckpointManager(checkpoint, ckpt_dir or chief_dir, max_to_keep=train_cfg.keep_checkpoints)
    stream = training_stream(records, data_cfg, train_cfg)
    changed = stream_changes(cf_config.saved_stream(model_dir), stream) if latest else []
    # a data position saved for other records or batches does not fit this stream: model and optimizer only
    restored = restore_or_init(latest, tf.train.Checkpoint(model=model, optimizer=optimizer) if changed and state
                               else checkpoint)
    if not restored and train_cfg.init_from:
        log(f"started from the weights of {init_weights(model, model_cfg, train_cfg.init_from)} (warm start: "
            f"a new optimizer and schedule)")
    start = int(optimizer.iterations.numpy())
    chosen = _budget_end(model_dir, train_cfg) if restored else None
    if chosen is not None:
        schedule.total.assign(chosen)
        log(f"time budget: this run chose to end at step {chosen} ({model_dir}/{BUDGET_FILE})")
    end = train_cfg.train_steps if chosen is None else chosen
    batches = _batches(iterator, records)
    first = next(batches) if start < end else None
    if chief:   # only once a batch was read: records that cannot be read leave no folder tied to them
        cf_config.save_run_config(model_dir, model_cfg, data_cfg, stream)
    if restored and changed and state:
        log(f"resumed the model and optimizer from {restored} at step {start}; the training stream changed since "
            f"({'; '.join(changed)}), so the saved data position does not apply: the data order restarts")
    elif restored:
        log(f"resumed from {restored} at step {start}")
    return _Run(model, optimizer, manager, batches, first, start, chief, schedule, end,
                probe=bool(train_cfg.train_minutes) and chosen is None)


def _budget_end(model_dir, train_cfg):
    """The end a time-budgeted run in model_dir chose for these minutes and at most train_steps, or None."""
    if not train_cfg.train_minutes:
        return None
    try:
        with open(os.path.join(model_dir, BUDGET_FILE)) as f:
            saved = json.load(f)
        if saved["train_minutes"] == train_cfg.train_minutes:
            return min(int(saved["end"]), train_cfg.train_steps)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def _choose_end(run, model_dir, train_cfg, step, seconds, elapsed, log):
    """After the probe (BUDGET_PROBE): the step at which train_minutes of this loop run out at the probe's
    rate, at most train_steps; set as the schedule's end and, on the chief, saved for a resume."""
    rate = (BUDGET_PROBE[1] - BUDGET_PROBE[0]) / seconds
    end = min(train_cfg.train_steps, step + max(int(rate * (60 * train_cfg.train_minutes - elapsed)), 0))
    run.schedule.total.assign(end)
    if run.chief:
        files.write_json(os.path.join(model_dir, BUDGET_FILE),
                         {"train_minutes": train_cfg.train_minutes, "end": end, "probe_steps_per_s": rate})
    capped = " (--train_steps)" if end == train_cfg.train_steps else ""
    log(f"time budget: {rate:.2f} steps/s over steps {BUDGET_PROBE[0]}-{BUDGET_PROBE[1]} of this run, so "
        f"{train_cfg.train_minutes:g} minutes end at step {end}{capped}")
    return end


def _loop(run, model_dir, train_cfg, weights, strategy, log):
    """The step loop: summaries, checkpoints, and the errors that stop it; returns train()'s summary."""
    model, optimizer, manager, batches, first, start, end = (run.model, run.optimizer, run.manager, run.batches,
                                                             run.first, run.start, run.end)
    replicas = strategy.num_replicas_in_sync
    writer = tf.summary.create_file_writer(os.path.join(model_dir, "train")) if run.chief else tf.summary.create_noop_writer()
    step_fn = make_train_step(model, optimizer, strategy, weights, train_cfg.jit_compile)
    # the schedule's value at the optimizer's step: Keras computes it on each read of learning_rate, so
    # it is read again at every summary (a tensor read once stays the first step's rate)
    adam = optimizer.inner_optimizer if train_cfg.mixed_precision else optimizer
    first_total = last_total = None
    recent = collections.deque(maxlen=RECENT_STEPS)   # {term: loss, "total": loss} of the last steps
    bar = Progress(max(end - start, 0), "train", unit="step")
    step = saved_step = start
    t0 = probe_t0 = time.perf_counter()
    try:
        with writer.as_default():
            while step < end:
                images, targets = first if first is not None else next(batches)
                first = None
                total, terms = step_fn(images, targets)
                total_v = float(total)
                if not math.isfinite(total_v):
                    raise TrainingError(
                        f"loss is {total_v} at step {step + 1} (terms: "
                        f"{ {k: float(v) for k, v in terms.items()} }); stopped without saving, the last good "
                        f"checkpoint is {manager.latest_checkpoint}. Lower --learning_rate or check the data.")
                step += 1
                if run.probe and step - start == BUDGET_PROBE[0]:
                    probe_t0 = time.perf_counter()
                elif run.probe and step - start == BUDGET_PROBE[1]:
                    now = time.perf_counter()
                    end = _choose_end(run, model_dir, train_cfg, step, now - probe_t0, now - t0, log)
                    bar.total = max(end - start, 0)
                first_total = total_v if first_total is None else first_total
                last_total, last_terms = total_v, {k: float(v) for k, v in terms.items()}
                recent.append({**last_terms, "total": total_v})
                ips = (step - start) * train_cfg.batch_size / (time.perf_counter() - t0)
                bar.update(loss=total_v, img_per_s=ips)
                if step % train_cfg.summary_every == 0 or step == end:
                    tf.summary.scalar("loss/total", total_v, step=step)
                    for k, v in last_terms.items():
                        tf.summary.scalar(f"loss/{k}", v, step=step)
                    tf.summary.scalar("learning_rate", float(adam.learning_rate), step=step)
                    tf.summary.scalar("images_per_second", ips, step=step)
                if step % train_cfg.image_summary_every == 0:
                    _image_summaries(model, images if replicas == 1 else strategy.experimental_local_results(images)[0],
                                     targets if replicas == 1 else strategy.experimental_local_results(targets)[0],
                                     step)
                if step % train_cfg.checkpoint_every == 0:
                    save_checkpoint(manager, model, step)
                    saved_step = step
    except (tf.errors.UnavailableError, tf.errors.AbortedError, tf.errors.DeadlineExceededError) as e:
        bar.close()
        # MultiWorkerMirroredStrategy: a worker died or cannot be reached; the others cannot go on alone
        raise TrainingError(f"a worker of the cluster stopped or cannot be reached after step {step} "
                            f"({type(e).__name__}: {op_error_reason(e)}); restart every worker to resume from "
                            f"the last checkpoint, {manager.latest_checkpoint}") from None
    except KeyboardInterrupt:
        bar.close()
        # the optimizer's counter, not ours: an interrupt may land after a step ran but before `step` moved
        step = int(optimizer.iterations.numpy())
        save_checkpoint(manager, model, step)
        raise TrainingError(f"interrupted at step {step}; saved {manager.latest_checkpoint}") from None
    bar.close()
    if step != saved_step:
        save_checkpoint(manager, model, step)
    elapsed = time.perf_counter() - t0
    result = {"step": step, "first_loss": first_total, "last_loss": last_total,
              "recent_losses": {k: sum(r[k] for r in recent) / len(recent) for k in recent[0]} if recent else {},
              "recent_steps": len(recent),
              "steps_per_s": (step - start) / elapsed if step > start else 0.0,
              "checkpoint": manager.latest_checkpoint}
    return result
