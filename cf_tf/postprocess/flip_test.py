"""Flip testing: the network's outputs averaged with those of the mirrored input.

The mirrored canvas's outputs are mirrored back by each output's `mirror` rule (cf_tf/outputs.py):
the grid reversed along x, the channels of left and right keypoints (or of the directed edges they
make) swapped, and the x of every offset negated. Cell c of a grid of n cells then lies on cell
n - 1 - c exactly when input_size - 1 is a multiple of the stride (its centre s*c + 0.5 mirrors to
input_size - (s*c + 0.5)), so that is asked of both grids. An output whose mirror is not itself
(MaskCentroid points at the right shoulder, which the mirror makes a left one) keeps the first pass's.
Logits are averaged as logits, offsets as vectors. Not in the paper (which reports single- and
multi-scale testing); off by default (DecodeConfig.flip_test).
"""

import tensorflow as tf

from cf_tf.constants import DIRECTED_EDGES, FLIP_PERM
from cf_tf.outputs import OUTPUTS

_EDGE_PERM = tuple(DIRECTED_EDGES.index((FLIP_PERM[a], FLIP_PERM[b])) for a, b in DIRECTED_EDGES)
_PERM = {"keypoints": FLIP_PERM, "edges": _EDGE_PERM}


def check_input_size(input_size, geometry):
    """Raises ValueError unless both output grids mirror onto themselves at this input size."""
    strides = (geometry.pose_stride, geometry.seg_stride)
    if any((input_size - 1) % s for s in strides):
        raise ValueError(f"flip_test needs an input size of k x {max(strides)} + 1 px, so that the mirrored "
                         f"output grids fall on their own cells (got input_size {input_size}; e.g. "
                         f"{(input_size - 1) // max(strides) * max(strides) + 1})")


def _channel_order(out):
    """Output channel order of the mirrored pass that lines it up with the first pass's channels."""
    perm = _PERM.get(out.mirror)
    if perm is None:
        return None
    if out.kind == "offset":
        return [2 * p + c for p in perm for c in (0, 1)]
    return list(perm)


def unmirror(outputs):
    """The outputs [B, H, W, C] of mirrored inputs, mirrored back onto the unmirrored inputs' cells and
    channels; outputs whose mirror rule is "none" are left out."""
    result = {}
    for out in OUTPUTS:
        if out.mirror == "none":
            continue
        x = tf.reverse(outputs[out.name], [2])
        order = _channel_order(out)
        if order is not None:
            x = tf.gather(x, order, axis=-1)
        if out.kind == "offset":
            x = x * tf.tile(tf.constant([-1.0, 1.0]), [out.vectors])
        result[out.name] = x
    return result


def average(outputs, mirrored):
    """Each output the mean of the first pass and the mirrored pass mirrored back (float32 dicts)."""
    back = unmirror(mirrored)
    return {k: 0.5 * (v + back[k]) if k in back else v for k, v in outputs.items()}


def run(model, canvas):
    """The model's float32 outputs on `canvas` [B, H, W, 3], averaged with those of its mirror (one call)."""
    both = model(tf.concat([canvas, tf.reverse(canvas, [2])], 0), training=False)
    b = tf.shape(canvas)[0]
    both = {k: tf.cast(v, tf.float32) for k, v in both.items()}
    return average({k: v[:b] for k, v in both.items()}, {k: v[b:] for k, v in both.items()})
