"""Small graph-mode helpers shared by the decoder stages."""

import math

import tensorflow as tf


def bilinear_sample(grid, xy, stride):
    """Samples grid [H, W, C] at points xy [M, 2] (input pixels); cell (r, c) centre is s*(c, r) + 0.5.

    Points outside the grid take the value of the nearest border cell. Returns [M, C].
    """
    shape = tf.shape(grid)
    h, w = shape[0], shape[1]
    g = (xy - 0.5) / float(stride)
    gx = tf.clip_by_value(g[:, 0], 0.0, tf.cast(w - 1, tf.float32))
    gy = tf.clip_by_value(g[:, 1], 0.0, tf.cast(h - 1, tf.float32))
    x0, y0 = tf.floor(gx), tf.floor(gy)
    fx, fy = (gx - x0)[:, None], (gy - y0)[:, None]
    x0, y0 = tf.cast(x0, tf.int32), tf.cast(y0, tf.int32)
    x1, y1 = tf.minimum(x0 + 1, w - 1), tf.minimum(y0 + 1, h - 1)

    def at(y, x):
        return tf.gather_nd(grid, tf.stack([y, x], axis=-1))

    return ((1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x1))
            + fy * ((1 - fx) * at(y1, x0) + fx * at(y1, x1)))


def _nearest_cell(grid, xy, stride):
    """(row, col) int32 [M] of the cell of grid [H, W, C] whose centre is nearest to xy [M, 2]."""
    shape = tf.shape(grid)
    col = tf.clip_by_value(tf.cast(tf.round((xy[:, 0] - 0.5) / stride), tf.int32), 0, shape[1] - 1)
    row = tf.clip_by_value(tf.cast(tf.round((xy[:, 1] - 0.5) / stride), tf.int32), 0, shape[0] - 1)
    return row, col


def nearest_sample(grid, xy, stride):
    """grid [H, W, C] read at the cell nearest to each point xy [M, 2]: [M, C]."""
    row, col = _nearest_cell(grid, xy, stride)
    return tf.gather_nd(grid, tf.stack([row, col], -1))


def nearest_cell_targets(grid, xy, stride, unit):
    """Points each grid offset field points at, read at the cell nearest to xy [M, 2].

    grid [H, W, C] holds offsets (in `unit` pixels) from cell centres; returns [M, C/2, 2] absolute
    positions c + unit * offset(c). Reading one cell (not blending four) keeps two people's offset
    fields apart where their disks meet.
    """
    row, col = _nearest_cell(grid, xy, stride)
    centre = tf.stack([tf.cast(col, tf.float32), tf.cast(row, tf.float32)], -1) * stride + 0.5
    offsets = tf.reshape(tf.gather_nd(grid, tf.stack([row, col], -1)), [tf.shape(xy)[0], -1, 2])
    return centre[:, None] + unit * offsets


def gaussian_kernels(sigmas, peak_one=False):
    """Separable per-channel kernels for sigmas (cells): a [K, C] 1-D kernel, applied along y then x.

    sigma 0 gives the identity. peak_one: the 2-D kernel's centre is 1 (a Gaussian-weighted sum)
    instead of summing to 1.
    """
    radius = max(1, int(math.ceil(3.0 * max(sigmas))))
    r = tf.range(-radius, radius + 1, dtype=tf.float32)
    kernels = []
    for s in sigmas:
        if s <= 0:
            k = tf.cast(tf.equal(r, 0.0), tf.float32)
        else:
            k = tf.exp(-r * r / (2.0 * s * s))
            k = k if peak_one else k / tf.reduce_sum(k)
        kernels.append(k)
    return tf.stack(kernels, axis=-1)


def blur(maps, kernels):
    """Separable depthwise 'same' convolution of maps [H, W, C] with 1-D kernels [K, C]."""
    k = tf.shape(kernels)[0]
    along_y = tf.reshape(kernels, [k, 1, -1, 1])
    along_x = tf.reshape(kernels, [1, k, -1, 1])
    x = tf.nn.depthwise_conv2d(maps[None], along_y, strides=[1, 1, 1, 1], padding="SAME")
    return tf.nn.depthwise_conv2d(x, along_x, strides=[1, 1, 1, 1], padding="SAME")[0]
