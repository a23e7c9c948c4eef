"""The residual bottleneck unit (He et al. 2016) that the paper builds both heads from, and the
small layers the network needs. Used by resnet_tiny, the fusion neck and the heads alike."""

import keras
import tensorflow as tf
from keras import layers

from cf_tf.constants import UPSAMPLING


def batch_norm(name, gamma="ones"):
    """BatchNorm whose statistics are synchronised over replicas, so a batch split over devices
    trains exactly like the whole batch on one device (small per-device batches, paper: 4).
    `gamma`: the initializer of its scale."""
    return BatchNorm(synchronized=True, gamma_initializer=gamma, name=name)


@keras.saving.register_keras_serializable(package="cf_tf")
class BatchNorm(layers.BatchNormalization):
    """Keras' BatchNormalization, trained through TensorFlow's fused kernel where one replica holds the
    whole batch. Keras 3 computes batch statistics op by op (moments, then scale and shift, and their
    gradients), where the fused kernel does the same in one pass: the demo's training step 16 % faster
    on this CPU (docs/RESULTS.md, "Fused batch normalisation"). The same weights, statistics
    and results (channels last, as batch_norm makes it); inference, mixed precision and several
    replicas take Keras' own path."""

    def call(self, inputs, training=None, mask=None):
        context = tf.distribute.get_replica_context()
        if (not (training and self.trainable) or mask is not None or inputs.dtype != tf.float32
                or (context and context.num_replicas_in_sync > 1)):
            return super().call(inputs, training=training, mask=mask)
        y, mean, variance = tf.compat.v1.nn.fused_batch_norm(inputs, self.gamma, self.beta, epsilon=self.epsilon,
                                                             is_training=True)
        # the kernel returns the batch variance with Bessel's correction; Keras' moving variance has none
        count = tf.cast(tf.size(inputs) // tf.shape(inputs)[-1], variance.dtype)
        variance = variance * (count - 1.0) / count
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        return y


def bottleneck(x, filters, stride=1, name="unit", antialias=False):
    """ResNet v1 bottleneck: 1x1 (filters, stride) -> 3x3 (filters) -> 1x1 (4 filters) + shortcut.

    The stride sits on the 1x1 convolutions, as in keras.applications' ResNets, so a strided unit
    samples input cell 2i exactly and the cell-centre rule of cf_tf/constants.py holds for any size.
    With `antialias` a strided unit first low-passes its input (BlurPool, Zhang 2019) and then runs
    at stride 1: a 1x1 convolution with stride 2 reads one cell in four, so a shift of the image by
    less than a cell changed what every coarser cell saw (docs/RESULTS.md, "Learning under augmentation").
    The last BatchNorm's scale starts at zero (Goyal et al. 2017), so each unit starts as its
    shortcut and a deep stack trains as a shallow one first: the augmented overfit gates fitted
    faster with it (docs/RESULTS.md, "Zero-initialised residual branches").
    """
    out_ch = 4 * filters
    if antialias and stride != 1:
        x, stride = BlurPool(name=f"{name}_blur")(x), 1
    shortcut = x
    if stride != 1 or x.shape[-1] != out_ch:
        shortcut = layers.Conv2D(out_ch, 1, strides=stride, use_bias=False, name=f"{name}_proj")(x)
        shortcut = batch_norm(f"{name}_proj_bn")(shortcut)
    y = layers.Conv2D(filters, 1, strides=stride, use_bias=False, name=f"{name}_1x1a")(x)
    y = batch_norm(f"{name}_bn1")(y)
    y = layers.ReLU(name=f"{name}_relu1")(y)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_3x3")(y)
    y = batch_norm(f"{name}_bn2")(y)
    y = layers.ReLU(name=f"{name}_relu2")(y)
    y = layers.Conv2D(out_ch, 1, use_bias=False, name=f"{name}_1x1b")(y)
    y = batch_norm(f"{name}_bn3", gamma="zeros")(y)
    return layers.ReLU(name=f"{name}_out")(layers.Add(name=f"{name}_add")([shortcut, y]))


def _upsample_linear(x, axis):
    """x2 along `axis` on the cell-centre grid: fine cell 2j is coarse cell j, fine cell 2j + 1 the
    mean of coarse cells j and j + 1 (the last cell repeated past the edge)."""
    n = tf.shape(x)[axis]
    after = tf.gather(x, tf.minimum(tf.range(1, n + 1), n - 1), axis=axis)
    both = tf.stack([x, 0.5 * (x + after)], axis + 1)
    shape = tf.shape(x)
    return tf.reshape(both, tf.tensor_scatter_nd_update(shape, [[axis]], [2 * shape[axis]]))


@keras.saving.register_keras_serializable(package="cf_tf")
class BlurPool(layers.Layer):
    """Binomial [1 2 1] x [1 2 1] / 16 low-pass, then every other cell: output cell i is centred on
    input cell 2i (zero padding of one cell each side), so the grid rule of a strided unit holds."""

    def call(self, x):
        taps = tf.constant([1.0, 2.0, 1.0], x.dtype) / 4.0
        kernel = tf.tile((taps[:, None] * taps[None, :])[:, :, None, None], tf.stack([1, 1, tf.shape(x)[-1], 1]))
        padded = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])
        return tf.nn.depthwise_conv2d(padded, kernel, [1, 2, 2, 1], "VALID")


@keras.saving.register_keras_serializable(package="cf_tf")
class UpsampleAdd(layers.Layer):
    """coarse (stride 2s) upsampled x2, cropped to fine's size, added to fine.

    With the 'same' grid convention (cell i covers input pixel s*i) the coarse grid has ceil(n/2)
    cells and coarse cell j sits on fine cell 2j, so x2 then a crop lines the two grids up exactly.
    "linear" interpolates the fine cells between coarse ones; "nearest" repeats each coarse cell,
    whose blocks' edges then move against the people when a crop shifts them by a fraction of a
    cell, while the offset fields the heads write are ramps (docs/RESULTS.md, "Learning under augmentation":
    linear fits the crop-shift gate far better).
    """

    def __init__(self, mode="linear", **kwargs):
        super().__init__(**kwargs)
        if mode not in UPSAMPLING:
            raise ValueError(f"upsampling must be one of {UPSAMPLING}, got {mode!r}")
        self.mode = mode

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}

    def call(self, fine, coarse):
        if self.mode == "linear":
            up = _upsample_linear(_upsample_linear(coarse, 1), 2)
        else:
            up = tf.repeat(tf.repeat(coarse, 2, axis=1), 2, axis=2)
        shape = tf.shape(fine)
        return fine + tf.cast(up[:, : shape[1], : shape[2]], fine.dtype)


@keras.saving.register_keras_serializable(package="cf_tf")
class CaffePreprocess(layers.Layer):
    """RGB 0..255 -> BGR minus the ImageNet means: what keras.applications ResNets were trained on."""

    def call(self, images):
        mean = tf.constant([103.939, 116.779, 123.68], images.dtype)
        # tf.reverse, not images[..., ::-1]: the same values, a strided slice with a negative step
        # took 3.5 times as long on CPU (2.5 % of a tiny training step)
        return tf.reverse(images, [-1]) - mean
