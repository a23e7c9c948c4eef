"""Feature fusion (FPN-like): C2..C5 -> P2..P5 by 1x1 laterals, top-down x2 upsample + add.

The pose head reads P3 (stride 8) or P4 (stride 16); the segmentation head reads P2 (stride 4) or
P3 (stride 8): SPEC "Network" says why masks want stride 4.
"""

from keras import layers

from cf_tf.model.blocks import UpsampleAdd


def fuse(features, width, upsampling="linear"):
    """[C2, C3, C4, C5] -> {stride: P} for strides 4, 8, 16, 32, each with `width` channels;
    `upsampling` of the top-down path: one of constants.UPSAMPLING."""
    laterals = [layers.Conv2D(width, 1, name=f"fuse_lateral_c{k}")(c) for k, c in zip((2, 3, 4, 5), features)]
    p = laterals[3]
    fused = {32: p}
    for k, lat in zip((4, 3, 2), reversed(laterals[:3])):
        p = UpsampleAdd(upsampling, name=f"fuse_top_down_p{k}")(lat, p)
        fused[2 ** k] = p
    # a 3x3 conv on each output removes the blocky upsampling pattern (as in FPN)
    return {s: layers.Conv2D(width, 3, padding="same", name=f"fuse_smooth_s{s}")(p) for s, p in fused.items()}
