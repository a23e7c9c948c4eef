r"""Speed of every stage, on whatever device this runs on.

  python -m cf_tf.benchmark [--json] [--full] [--backbones=resnet50,resnet101,resnet152] [--sizes=401]

Rows: input pipeline images/s (decode + augment + targets, 401x401, default parallelism); the input
of one worker when it is 1 of 1 and 1 of 2 (processes on 127.0.0.1 under TF_CONFIG): examples/s and
CPU ms per example it hands its replica; train step
ms (resnet_tiny; with --full also R50/R101/R152) at batch 4; network forward ms per image (batch 1,
warm, median); decoder ms per image for 1, 5, 10, 20, 30 people (oracle outputs of synthetic
figures, so the people are really there; compiled once) on the 401 and the 641 canvas; for R101 at
401 and 641, the SavedModel on a 640x480 image: a per-stage table (preprocess, network, the four
decoder stages on 10 synthetic people, whole call), then end to end ms per image (signature call,
image in, masks out), each measured in a fresh process as a user meets it: cf_tf.predict's way
(inference.serving_runtime + load_saved_model, whose warm-up runs at load; load ms and first call)
and plain tf.saved_model.load (first call, as TF Serving without warm-up requests); device, TF
version, threads. --json ends with one JSON line; the 641 rows are the keys ending in _641.
--quick is for tests: tiny backbone, small sizes, few repeats, one canvas.
"""

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import tensorflow as tf

from cf_tf import cli
from cf_tf import flags as cf_flags
from cf_tf import losses, training
from cf_tf.config import DEMO_MODEL, DataConfig, DecodeConfig, ModelConfig, TrainConfig
from cf_tf.data import pipeline, synth
from cf_tf.data.augment import inference_canvas
from cf_tf.data.targets import build_targets
from cf_tf.data.tfrecords import convert
from cf_tf.flags import FLAGS, flag
from cf_tf.inference import Predictor, load_saved_model, serving_runtime
from cf_tf.model.centerfocus import build_model
from cf_tf.oracle import perfect_outputs
from cf_tf.postprocess.decode import assign_cells, decode_image, find_people, prepare_maps, to_image
from cf_tf.serving import export


def _median_ms(fn, repeats, warmup=1):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000.0)
    return statistics.median(times)


def _model_config(backbone):
    """The paper's fusion and heads for the ResNets; the demo's small ones for resnet_tiny, so every
    row of one backbone times the same network."""
    return DEMO_MODEL if backbone == "resnet_tiny" else ModelConfig(backbone=backbone)


def input_pipeline(workdir, crop, seconds):
    """Images/s of decode + augment + targets at crop x crop with the default parallelism."""
    synth.generate(os.path.join(workdir, "synth"), num_images=32, seed=0, size=max(256, crop + 64), progress=False)
    convert(os.path.join(workdir, "synth", "person_keypoints.json"), os.path.join(workdir, "synth", "images"),
            os.path.join(workdir, "rec"), num_shards=2, workers=1)
    ds = pipeline.train_dataset(os.path.join(workdir, "rec-*"), DataConfig(crop_size=crop), batch_size=4)
    it = iter(ds)
    next(it)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        next(it)
        n += 4
    return n / (time.perf_counter() - t0), os.path.join(workdir, "rec-*")


def local_cluster(n):
    """The TF_CONFIG of each of n MultiWorkerMirroredStrategy workers on 127.0.0.1 (free ports)."""
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    cluster = {"worker": [f"127.0.0.1:{s.getsockname()[1]}" for s in socks]}
    for s in socks:
        s.close()
    return [{"cluster": cluster, "task": {"type": "worker", "index": i}} for i in range(n)]


def worker_input_child(records, crop, seconds):
    """Runs in a fresh interpreter under TF_CONFIG (worker_input): one worker's training input as
    `cf_tf.train` builds it (training.distributed_input), iterated for `seconds` without training.
    Prints {"examples_per_s", "cpu_ms_per_example"} of the examples this worker hands its replicas
    (the useful ones) as JSON; CPU time is the whole process's, so it counts work done and dropped."""
    strategy = training.make_strategy()
    dataset = training.distributed_input(strategy, records, DataConfig(crop_size=crop), TrainConfig(batch_size=8))
    it = iter(dataset)
    next(it)
    n, t0, cpu0 = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < seconds:
        images, _ = next(it)
        n += sum(int(x.shape[0]) for x in strategy.experimental_local_results(images))
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    print(json.dumps({"examples_per_s": n / wall, "cpu_ms_per_example": 1000.0 * cpu / n}))


def worker_input(records, crop, seconds, workers=(1, 2)):
    """{"1 of N": worker 0's worker_input_child figures} for clusters of N MultiWorkerMirroredStrategy
    processes on 127.0.0.1 (global batch 8). Their CPUs are shared: examples/s falls with N on a
    small machine whatever the input does; CPU ms per useful example is the cost that must not grow."""
    out = {}
    for n in workers:
        code = f"from cf_tf.benchmark import worker_input_child; worker_input_child({records!r}, {crop}, {seconds})"
        procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, env={**os.environ, "TF_CONFIG": json.dumps(c)})
                 for c in local_cluster(n)]
        runs = [p.communicate() + (p.returncode,) for p in procs]
        for _, err, rc in runs:
            if rc:
                raise RuntimeError(f"worker input benchmark failed:\n{err[-2000:]}")
        out[f"1 of {n}"] = json.loads(runs[0][0].strip().splitlines()[-1])
    return out


def train_step_ms(backbone, records, crop, repeats, batch=4, mixed_precision=False, jit_compile=False):
    strategy = tf.distribute.get_strategy()
    train_cfg = TrainConfig(mixed_precision=mixed_precision, jit_compile=jit_compile)
    model, optimizer = training.build(_model_config(backbone), train_cfg, strategy)
    step = training.make_train_step(model, optimizer, strategy, losses.LossWeights(), jit_compile)
    images, targets = next(iter(pipeline.train_dataset(records, DataConfig(crop_size=crop), batch_size=batch)))
    return _median_ms(lambda: float(step(images, targets)[0]), repeats, warmup=2)


def forward_ms(backbone, size, repeats):
    model = build_model(_model_config(backbone))
    fn = tf.function(lambda x: model(x, training=False))
    x = tf.random.uniform([1, size, size, 3], 0, 255)
    return _median_ms(lambda: fn(x)["sfm"].numpy(), repeats, warmup=2)


def _oracle_outputs(n, size, data):
    kps, masks = synth.grid_of_figures(n, size, seed=n)
    t = build_targets(tf.constant(kps), tf.constant(np.transpose(masks, [1, 2, 0])), tf.zeros([n], tf.int32),
                      size, size, data)
    return perfect_outputs(t)


def decoder_ms(people, size, repeats):
    """{n: ms} for oracle outputs of n synthetic people, one compiled decoder for all n."""
    data = DataConfig(crop_size=size, input_size=size)
    cfg = DecodeConfig.matching(data)
    fn = tf.function(lambda o: decode_image(o, tf.constant(1.0), size, size, size, cfg))
    out = {}
    for n in people:
        outputs = _oracle_outputs(n, size, data)
        out[str(n)] = _median_ms(lambda: fn(outputs)["masks"].numpy(), repeats, warmup=2)
    return out, fn.experimental_get_tracing_count()


def stage_ms(backbone, canvas, repeats, people=10, height=480, width=640):
    """{stage: ms} of one image's inference, each stage compiled alone and fed the previous one's
    output: preprocess (resize + pad to the canvas), network, then the decoder's four stages on the
    oracle outputs of `people` synthetic figures (a random network finds nobody to decode)."""
    data = DataConfig(crop_size=canvas, input_size=canvas)
    cfg = DecodeConfig.matching(data)
    image = tf.constant(np.random.default_rng(0).integers(0, 255, (1, height, width, 3), dtype=np.uint8))
    preprocess = tf.function(lambda im: inference_canvas(im, canvas))
    model = build_model(_model_config(backbone))
    network = tf.function(lambda x: model(x, training=False))
    outputs = _oracle_outputs(people, canvas, data)
    scale = tf.constant(canvas / max(height, width))
    maps_fn = tf.function(lambda o: prepare_maps(o, canvas, cfg))
    people_fn = tf.function(lambda m: find_people(m, canvas, cfg))
    assign_fn = tf.function(lambda m, p: assign_cells(m, *p, canvas, cfg))
    image_fn = tf.function(lambda a, prob: to_image(a[0], prob, *a[1:], scale, height, width, cfg))
    x = preprocess(image)[0]
    maps = maps_fn(outputs)
    found = people_fn(maps)
    assigned = assign_fn(maps, found)

    def sync(out):
        return [t.numpy() for t in tf.nest.flatten(out)]

    times = {
        "preprocess": _median_ms(lambda: sync(preprocess(image)), repeats),
        "network": _median_ms(lambda: sync(network(x)), repeats),
        "decoder: voting + PGO": _median_ms(lambda: sync(maps_fn(outputs)), repeats),
        "decoder: peaks + grouping + OKS-NMS": _median_ms(lambda: sync(people_fn(maps)), repeats),
        "decoder: MaskCentroid assignment": _median_ms(lambda: sync(assign_fn(maps, found)), repeats),
        "decoder: mask resampling": _median_ms(lambda: sync(image_fn(assigned, maps["sfm_prob"])), repeats),
    }
    return times


def serving_child(path, repeats, plain, batch=1):
    """Runs in a fresh interpreter (end_to_end_ms): prints {"load", "first", "steady"} ms per call as
    JSON, for a batch of `batch` 640x480 images."""
    image = tf.constant(np.random.default_rng(0).integers(0, 255, (batch, 480, 640, 3), dtype=np.uint8))
    t0 = time.perf_counter()
    if plain:
        fn = tf.saved_model.load(path).signatures["serving_default"]
    else:
        serving_runtime()
        fn = load_saved_model(path).signatures["serving_default"]
    load = (time.perf_counter() - t0) * 1000.0
    t0 = time.perf_counter()
    fn(images=image)["masks"].numpy()
    first = (time.perf_counter() - t0) * 1000.0
    steady = _median_ms(lambda: fn(images=image)["masks"].numpy(), repeats, warmup=0)
    print(json.dumps({"load": load, "first": first, "steady": steady}))


def end_to_end_ms(backbone, size, workdir, repeats, batches=(1,), plain_too=True):
    """[{"load", "first", "steady"} ms per call the cf_tf way for each batch size in `batches`, then the
    same with plain tf.saved_model.load for batch 1 if plain_too] of the SavedModel's serving_default on
    640x480 images, each in a fresh interpreter, so nothing this process built is reused."""
    data = DataConfig(input_size=size)
    model = build_model(_model_config(backbone))
    path = export(Predictor(model, data, DecodeConfig.matching(data)), os.path.join(workdir, f"sm_{backbone}{size}"))
    out = []
    for plain, batch in [(False, b) for b in batches] + ([(True, 1)] if plain_too else []):
        code = f"from cf_tf.benchmark import serving_child; serving_child({path!r}, {repeats}, {plain}, {batch})"
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
        if run.returncode:
            raise RuntimeError(f"serving benchmark failed:\n{run.stderr[-2000:]}")
        out.append(json.loads(run.stdout.strip().splitlines()[-1]))
    return out


def run(quick=False, full=False, backbones=("resnet50", "resnet101", "resnet152"), sizes=(401,),
        people=(1, 5, 10, 20, 30), repeats=5, log=print):
    """All rows as the --json dictionary (milliseconds unless named otherwise)."""
    crop = 129 if quick else 401
    e2e_backbone = "resnet_tiny" if quick else "resnet101"
    if quick:
        backbones, sizes, repeats = ("resnet_tiny",), (129,), 2
    device = tf.config.list_logical_devices("GPU")
    result = {"device": (tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0])
                         .get("device_name", "GPU") if device else f"CPU ({os.cpu_count()} cores)"),
              "tf": tf.__version__,
              "threads": int(tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count())}
    workdir = tempfile.mkdtemp(prefix="cf_tf_bench_")
    try:
        result["input_images_per_s"], records = input_pipeline(workdir, crop, 3 if quick else 15)
        log(f"input pipeline ({crop}x{crop}): {result['input_images_per_s']:.1f} images/s")
        result["worker_input"] = worker_input(records, crop, 3 if quick else 20)
        for name, w in result["worker_input"].items():
            log(f"input of one worker, {name} ({crop}x{crop}, global batch 8): {w['examples_per_s']:.1f} "
                f"examples/s, {w['cpu_ms_per_example']:.1f} CPU ms per example it hands its replica")
        result["train_step_ms"] = {}
        for bb in ["resnet_tiny"] + (["resnet50", "resnet101", "resnet152"] if full else []):
            result["train_step_ms"][bb] = train_step_ms(bb, records, crop, repeats)
            log(f"train step {bb} (batch 4, {crop}x{crop}): {result['train_step_ms'][bb]:.1f} ms")
        result["forward_ms"] = {}
        for bb in backbones:
            for size in sizes:
                key = bb if len(sizes) == 1 else f"{bb}@{size}"
                result["forward_ms"][key] = forward_ms(bb, int(size), repeats)
                log(f"forward {bb} ({size}x{size}, batch 1): {result['forward_ms'][key]:.1f} ms")
        for canvas in (crop,) if quick else (crop, 641):
            suffix = "" if canvas == crop else f"_{canvas}"
            result["decoder_ms" + suffix], traces = decoder_ms([int(n) for n in people], canvas, repeats)
            log(f"decoder ({canvas}x{canvas} canvas, compiled {traces}x): "
                + ", ".join(f"{n} people {ms:.1f} ms" for n, ms in result["decoder_ms" + suffix].items()))
            stages = stage_ms(e2e_backbone, canvas, repeats)
            ours, plain = end_to_end_ms(e2e_backbone, canvas, workdir, repeats)
            stages["whole SavedModel call (end to end)"] = ours["steady"]
            result["stages_ms" + suffix] = stages
            log(f"stages of {e2e_backbone} at the {canvas} canvas, 640x480 image (median ms):\n"
                + "\n".join(f"  {name:<40} {ms:8.1f}" for name, ms in stages.items()))
            result["end_to_end_ms" + suffix] = {e2e_backbone: ours["steady"]}
            result["end_to_end_first_call_ms" + suffix] = {e2e_backbone: ours["first"]}
            result["end_to_end_load_ms" + suffix] = {e2e_backbone: ours["load"]}
            result["end_to_end_plain_first_call_ms" + suffix] = {e2e_backbone: plain["first"]}
            log(f"end to end / network: {ours['steady'] / stages['network']:.2f}")
            log(f"end to end SavedModel {e2e_backbone} ({canvas} canvas, 640x480 image): {ours['steady']:.1f} ms, "
                f"first call {ours['first']:.1f} ms after load_saved_model {ours['load']:.0f} ms (warm-up "
                f"included); plain tf.saved_model.load {plain['load']:.0f} ms, first call {plain['first']:.1f} ms")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return result


BENCHMARK = (
    flag("bool", "json", False, "End with one JSON line of all measurements."),
    flag("bool", "full", False, "Also time R50/R101/R152 training steps (slow on a CPU)."),
    flag("list", "backbones", ["resnet50", "resnet101", "resnet152"], "Backbones of the forward rows."),
    flag("list", "sizes", ["401"], "Square input sizes (pixels) of the forward rows."),
    flag("list", "people", ["1", "5", "10", "20", "30"], "Crowd sizes of the decoder rows."),
    flag("integer", "repeats", 5, "Timed repeats per row (median reported)."),
    flag("bool", "quick", False, "Tiny backbone, small sizes, 2 repeats (checks every row runs)."),
)


def main(argv):
    del argv
    result = run(FLAGS.quick, FLAGS.full, FLAGS.backbones, [int(s) for s in FLAGS.sizes],
                 [int(n) for n in FLAGS.people], FLAGS.repeats)
    if FLAGS.json:
        print(json.dumps(result))


if __name__ == "__main__":
    cf_flags.define(BENCHMARK)
    cli.run(main)
