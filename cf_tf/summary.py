r"""Parameter count and GFLOPs of the network at a given input size (compare with paper Table 7).

  python -m cf_tf.summary --backbone=resnet101 [--input_size=401] [model flags]

Ends with one JSON line {"backbone": ..., "input_size": ..., "params": <int>, "gflops": <float>}
(cf_tf/model/complexity.py).
"""

import json

from cf_tf import cli
from cf_tf import flags as cf_flags
from cf_tf.flags import FLAGS, flag
from cf_tf.model.complexity import summarize

# Table 7 is at the training size
SUMMARY = (flag("integer", "input_size", 401, "Square input side, pixels."),)


def main(argv):
    del argv
    result = summarize(cf_flags.model_config(cf_flags.geometry()), FLAGS.input_size)
    print(f"{result['backbone']} at {FLAGS.input_size}x{FLAGS.input_size}: {result['params'] / 1e6:.2f} M parameters, "
          f"{result['gflops']:.2f} GFLOPs (paper Table 7, ResNet-101: 44.5 M, 7.69 GFLOPs)")
    print(json.dumps(result))


if __name__ == "__main__":
    cf_flags.define(SUMMARY, cf_flags.GEOMETRY, cf_flags.MODEL)
    cli.run(main)
