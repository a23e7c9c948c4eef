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


def _nearest_cell(xy, stride, shape):
    """(col, row) int32 [M, 2] of the cell of a grid of `shape` [H, W, ...] whose centre is nearest
    to each point xy [M, 2]."""
    return tf.clip_by_value(tf.cast(tf.round((xy - 0.5) / stride), tf.int32), 0, tf.stack([shape[1], shape[0]]) - 1)


def nearest_sample(grid, xy, stride):
    """grid [H, W, C] read at the cell nearest to each point xy [M, 2]: [M, C]."""
    return tf.gather_nd(grid, tf.reverse(_nearest_cell(xy, stride, tf.shape(grid)), [1]))


def cell_target_reader(grid, stride, unit):
    """A function (xy [M, 2], vector [M] int32) -> [M, 2]: the point that offset vector `vector` of
    grid [H, W, 2V] (offsets in `unit` pixels from cell centres) points at, c + unit * offset(c),
    read at the cell c nearest to each xy. Reading one cell (not blending four) keeps two people's
    offset fields apart where their disks meet. The grid's flat view and shape are made once, here,
    so that a graph loop calling the reader runs only the per-point ops."""
    shape = tf.shape(grid)
    flat = tf.reshape(grid, [-1])

    def read(xy, vector):
        cell = _nearest_cell(xy, stride, shape)
        index = ((cell[:, 1] * shape[1] + cell[:, 0]) * shape[2] + 2 * vector)[:, None] + tf.constant([0, 1])
        return tf.cast(cell, tf.float32) * stride + 0.5 + unit * tf.gather(flat, index)

    return read


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
