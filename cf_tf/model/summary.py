r"""Parameter count and GFLOPs of the network at a given input size (compare with paper Table 7).

  python -m cf_tf.model.summary --backbone=resnet101 [--input_size=401]

GFLOPs are TensorFlow's profiler count of floating-point operations for one forward pass of one
image (a multiply-add counts as 2). Ends with one JSON line
{"backbone": ..., "input_size": ..., "params": <int>, "gflops": <float>}.
"""

import json

import tensorflow as tf

from cf_tf import cli
from cf_tf import flags as cf_flags
from cf_tf.model.centerfocus import build_model


def count_flops(model, input_size):
    """Forward-pass float operations for a [1, S, S, 3] input (TF profiler)."""
    fn = tf.function(lambda x: model(x, training=False))
    graph = fn.get_concrete_function(tf.TensorSpec([1, input_size, input_size, 3], tf.float32)).graph
    opts = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    opts["output"] = "none"
    return tf.compat.v1.profiler.profile(graph=graph, options=opts).total_float_ops


def summarize(model_cfg, input_size):
    model = build_model(model_cfg)
    return {"backbone": model_cfg.backbone, "input_size": input_size,
            "params": int(model.count_params()), "gflops": round(count_flops(model, input_size) / 1e9, 3)}


def main(argv):
    del argv
    # Table 7 is at the training size: 401 unless --input_size is given
    size = cf_flags.FLAGS.input_size if cf_flags.FLAGS["input_size"].present else 401
    result = summarize(cf_flags.model_config(), size)
    print(f"{result['backbone']} at {size}x{size}: {result['params'] / 1e6:.2f} M parameters, "
          f"{result['gflops']:.2f} GFLOPs (paper Table 7, ResNet-101: 44.5 M, 7.69 GFLOPs)")
    print(json.dumps(result))


if __name__ == "__main__":
    cli.run(main)
