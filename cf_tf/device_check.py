r"""The GPU figures in one run, written as one JSON (experiments/device_check.sh calls this).

  python -m cf_tf.device_check --output=device_check.json [--quick]

On the machine it runs on: train steps/s of resnet50 and resnet101 at 401x401, batch 4 and 16, in
float32, mixed precision (--mixed_precision) and mixed precision + XLA (--jit_compile); the input
pipeline's images/s on that machine's cores (decode + augment + targets, 401x401); the SavedModel end
to end (640x480 images in, masks out, a fresh process each) in ms per image at the 401 and 641
canvases for resnet101 and resnet152, batch 1 and 8, first call and steady. The paper's figure to
meet: 34 ms per image for pose + segmentation, ResNet-152, Titan RTX (Table 10).

--quick runs every row with the tiny model at small sizes, a few steps, on any CPU: `make test` runs
it, so the script cannot rot before a GPU is at hand.
"""

import json
import os
import shutil
import sys
import tempfile

import tensorflow as tf

from cf_tf import benchmark, cli
from cf_tf import flags as cf_flags
from cf_tf.files import WriteError, write_json
from cf_tf.flags import FLAGS, flag

PRECISIONS = {"float32": {}, "mixed": {"mixed_precision": True},
              "mixed+xla": {"mixed_precision": True, "jit_compile": True}}


def plan(quick):
    """What is measured: (train backbones, train batches, crop, serving backbones, canvases, serving
    batches, repeats, input-pipeline seconds)."""
    if quick:
        return ("resnet_tiny",), (2,), 129, ("resnet_tiny",), (129,), (1, 2), 2, 2
    return ("resnet50", "resnet101"), (4, 16), 401, ("resnet101", "resnet152"), (401, 641), (1, 8), 10, 20


def run(quick=False, log=print):
    """Every row as one dictionary (ms unless named otherwise)."""
    train_bbs, train_batches, crop, serve_bbs, canvases, serve_batches, repeats, seconds = plan(quick)
    gpus = tf.config.list_physical_devices("GPU")
    result = {"device": tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU") if gpus
              else f"CPU ({os.cpu_count()} cores)", "gpus": len(gpus), "cpu_cores": os.cpu_count(),
              "tf": tf.__version__, "quick": quick}
    workdir = tempfile.mkdtemp(prefix="cf_tf_device_check_")
    try:
        result["input_images_per_s"], records = benchmark.input_pipeline(workdir, crop, seconds)
        log(f"input pipeline ({crop}x{crop}, {os.cpu_count()} cores): {result['input_images_per_s']:.1f} images/s")
        result["train_steps_per_s"] = {}
        for bb in train_bbs:
            for batch in train_batches:
                for name, precision in PRECISIONS.items():
                    ms = benchmark.train_step_ms(bb, records, crop, repeats, batch=batch, **precision)
                    key = f"{bb} batch {batch} {name}"
                    result["train_steps_per_s"][key] = 1000.0 / ms
                    log(f"train {key} ({crop}x{crop}): {1000.0 / ms:.2f} steps/s, {batch * 1000.0 / ms:.1f} images/s")
        result["end_to_end_ms_per_image"] = {}
        for bb in serve_bbs:
            for canvas in canvases:
                calls = benchmark.end_to_end_ms(bb, canvas, workdir, repeats, batches=serve_batches, plain_too=False)
                for batch, call in zip(serve_batches, calls):
                    key = f"{bb} {canvas} batch {batch}"
                    result["end_to_end_ms_per_image"][key] = {"first": call["first"] / batch,
                                                              "steady": call["steady"] / batch}
                    log(f"SavedModel {key}: {call['steady'] / batch:.1f} ms per image steady, first call "
                        f"{call['first'] / batch:.1f} ms per image")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return result


DEVICE_CHECK = (
    flag("string", "output", None, "The JSON file to write (refused if it is a folder)."),
    flag("bool", "quick", False, "Tiny model, small sizes, a few steps: checks on a CPU that every row runs."),
)


def main(argv):
    del argv
    if not FLAGS.output:
        sys.exit("error: --output is required (the JSON file to write)")
    if os.path.isdir(FLAGS.output):
        sys.exit(f"error: --output={FLAGS.output} is a folder; name the JSON file to write")
    cli.output_folder(os.path.dirname(os.path.abspath(FLAGS.output)), "--output")
    result = run(FLAGS.quick)
    os.makedirs(os.path.dirname(os.path.abspath(FLAGS.output)), exist_ok=True)
    try:
        write_json(FLAGS.output, result, indent=1)
    except WriteError as e:
        sys.exit(f"error: {e}")
    print(json.dumps(result))


if __name__ == "__main__":
    cf_flags.define(DEVICE_CHECK)
    cli.run(main)
