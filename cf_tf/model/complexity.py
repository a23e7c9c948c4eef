"""Parameter count and GFLOPs of the network at a given input size (python -m cf_tf.summary).

GFLOPs are TensorFlow's profiler count of floating-point operations for one forward pass of one
image (a multiply-add counts as 2).
"""

import tensorflow as tf

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
