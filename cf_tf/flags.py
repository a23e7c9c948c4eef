"""Command-line flags: each defined once here (default, units in the help), in groups.

A command defines the groups it reads, and only when it runs as a program (`define`), so a flag that
belongs to another command is refused as unknown, and importing a command defines nothing. A flag
whose value a saved run fixes is refused too (`refuse_present`). The values become the typed configs
of cf_tf/config.py here; the library never reads flags.
"""

import dataclasses
import sys

from absl import flags

from cf_tf.config import ANCHOR_RULES, DataConfig, DecodeConfig, Geometry, ModelConfig, TrainConfig
from cf_tf.constants import BORDER_CELLS, MAX_PIXELS, UPSAMPLING
from cf_tf.losses import TERMS, LossWeights
from cf_tf.model import backbones
from cf_tf.postprocess import flip_test

FLAGS = flags.FLAGS
_G, _D, _M, _T, _L, _DC = Geometry(), DataConfig(), ModelConfig(), TrainConfig(), LossWeights(), DecodeConfig()


def flag(kind, name, default, help_text, **extra):
    return kind, name, default, help_text, extra


GEOMETRY = (
    flag("integer", "pose_stride", _G.pose_stride, "Output stride of the pose head, input pixels (4, 8 or 16)."),
    flag("integer", "seg_stride", _G.seg_stride, "Output stride of the segmentation head, input pixels (4 or 8)."),
    flag("float", "disk_radius", _G.radius, "Keypoint disk radius R, input pixels (paper: 32)."),
    flag("float", "mid_scale", _G.mid_scale, "Unit of the mid-range offsets, input pixels."),
    flag("float", "mask_scale", _G.mask_scale, "Unit of the MaskCentroid offsets, input pixels."),
    flag("enum", "anchor_rule", _G.anchor_rule, "MaskCentroid anchor: right_shoulder (paper Fig. 5, falls back to "
       "the mean keypoint, then the mask mean), mean_keypoints, or mask_mean (paper Eq. 3).", enum_values=ANCHOR_RULES),
)
INPUT_SIZE = (
    flag("integer", "input_size", _D.input_size,
       "Inference: longest image side is resized to this many pixels, then padded to a square."),
)
DATA = INPUT_SIZE + (
    flag("integer", "crop_size", _D.crop_size, "Training crop side, input pixels."),
    flag("float", "scale_min", _D.scale_min, "Augmentation: smallest random scale factor "
       "(1 = the inference scale, longest side -> input_size)."),
    flag("float", "scale_max", _D.scale_max, "Augmentation: largest random scale."),
    flag("float", "max_rotation", _D.max_rotation, "Augmentation: rotation uniform in +-this, degrees."),
    flag("float", "flip_prob", _D.flip_prob, "Augmentation: probability of a horizontal flip."),
    flag("float", "max_shift", _D.max_shift, "Augmentation: random shift of the crop centre, up to this "
       "fraction of the crop side (0..1), beyond the room a larger scaled image leaves."),
    flag("float", "maskcentroid_border", _D.maskcentroid_border, "Extra weight of the MaskCentroid loss on "
       f"cells within {BORDER_CELLS} seg cells of another person's, added to 1 (0: every cell alike, the paper's)."),
)
SEED = (flag("integer", "seed", _T.seed, "Random seed for the initial weights, data order and augmentation."),)
MODEL = (
    flag("enum", "backbone", _M.backbone, "Backbone network.", enum_values=backbones.names()),
    flag("string", "backbone_weights", _M.backbone_weights, "imagenet (keras.applications, downloaded once into "
       "~/.keras/models/), none, or a path to a weights file."),
    flag("integer", "fusion_width", _M.fusion_width, "Channels of the fused feature maps and head units."),
    flag("integer", "head_units", _M.head_units, "Residual bottleneck units in each head."),
    flag("enum", "upsampling", _M.upsampling, "Top-down x2 upsampling of the fusion: linear (between cells) or "
       "nearest (repeat each cell, FPN's).", enum_values=UPSAMPLING),
    flag("bool", "antialias", _M.antialias, "resnet_tiny: each strided unit low-passes its input before "
       "subsampling (BlurPool), so a shift by less than a cell changes little."),
    flag("bool", "antialias_stem", _M.antialias_stem, "resnet_tiny: the stem's 3x3 max-pool runs at stride 1 and "
       "BlurPool subsamples its output (Zhang 2019's MaxBlurPool)."),
    flag("integer", "offset_kernel", _M.offset_kernel, "Side of the KeyCentroid and mid-range output convolutions, "
       "in pose-stride cells (odd; 2 * R / pose_stride + 1 spans the keypoint disk; 1 = a 1x1 conv)."),
    flag("bool", "offset_separable", _M.offset_separable, "The KeyCentroid and mid-range output convolutions "
       "separable: a depthwise --offset_kernel conv, two per channel, then a 1x1 (a fifteenth of the multiply-adds)."),
    flag("integer", "offset_expansion", _M.offset_expansion, "With --offset_separable: a 1x1 conv first makes this "
       "many maps per output channel, one depthwise kernel each (0: no 1x1 first, two kernels per head channel)."),
)
LOSSES = tuple(flag("float", f"loss_{t}", getattr(_L, t), f"Weight of the {t} loss term (>= 0).") for t in TERMS)
MODEL_DIR = (flag("string", "model_dir", None, "Training folder: checkpoints, TensorBoard logs, cf_tf_config.json."),)
TRAINING = MODEL_DIR + SEED + (
    flag("string", "train_records", None, "TFRecord glob(s) to train on (comma-separated allowed)."),
    flag("integer", "train_steps", _T.train_steps, "Total optimizer steps (training resumes up to this count)."),
    flag("float", "train_minutes", _T.train_minutes, "Minutes of training (0 = off): the run measures its steps/s "
       "over its first steps, then ends (and ends its schedule) where this many minutes of its step loop run out, "
       "at most --train_steps; a resume keeps the end it chose (model_dir/train_budget.json). One worker only."),
    flag("integer", "batch_size", _T.batch_size, "Global batch size (split over replicas)."),
    flag("float", "learning_rate", _T.learning_rate, "Peak Adam learning rate (paper: 1e-5)."),
    flag("enum", "lr_schedule", _T.lr_schedule, "After warm-up: constant, or cosine decay to 0 at train_steps.",
       enum_values=("constant", "cosine")),
    flag("integer", "warmup_steps", _T.warmup_steps, "Linear learning-rate warm-up, steps."),
    flag("bool", "mixed_precision", _T.mixed_precision, "Train under the mixed_float16 policy with loss scaling (GPU)."),
    flag("bool", "jit_compile", _T.jit_compile, "XLA-compile the train step."),
    flag("integer", "checkpoint_every", _T.checkpoint_every, "Save a checkpoint every this many steps (and at the end)."),
    flag("integer", "keep_checkpoints", _T.keep_checkpoints, "Checkpoints kept in model_dir."),
    flag("integer", "summary_every", _T.summary_every, "TensorBoard scalars every this many steps."),
    flag("integer", "image_summary_every", _T.image_summary_every,
       "TensorBoard images of predicted vs target maps every this many steps."),
    flag("integer", "shuffle_buffer", _T.shuffle_buffer, "Examples in the tf.data shuffle buffer."),
    flag("string", "init_from", _T.init_from, "A training or kept model folder of the same network, or of one "
       "with fewer head units (at least 1; the added ones start as identities): a new run starts from the weights "
       "of its latest checkpoint, with a new optimizer and schedule from step 0 (a run that resumes from its own "
       "checkpoint ignores it)."),
)
_DECODE_HELP = {
    "hough_stride": "Hough map cell size, input pixels.",
    "pgo": "Point-wise Gaussian optimisation of the Hough maps (paper 3.1); off = 3x3 sum.",
    "hvk_sigma": "PGO sigma of elbows, wrists, knees, ankles, in pose-stride cells (paper: [0.1, 0.5)).",
    "lvk_sigma": "PGO sigma of the other keypoints, in pose-stride cells (paper: [0.5, 1.0)).",
    "peak_threshold": "Smallest Hough score (Gaussian-weighted vote mass, ~1 for a sure keypoint) of a candidate.",
    "max_candidates": "Candidates kept per keypoint type.",
    "bhm_rescoring": "Keypoint score = geometric mean of Hough score and BHM probability (paper 3.2).",
    "refine_steps": "KeyCentroid refinements of each keypoint grown along a mid-range offset.",
    "candidate_snap_radius": "A grown keypoint then moves onto the nearest Hough candidate of its type within this "
                             "many input pixels (0 = off).",
    "nms_radius": "A candidate this close (input pixels) to the same keypoint of a found person is dropped.",
    "oks_nms": "People whose OKS with a better person exceeds this are dropped.",
    "merge_radius": "Skeleton fragments whose MaskCentroid anchors agree within this many input pixels merge.",
    "max_people": "Most people per image (fixed size of every output).",
    "min_person_score": "People with a lower mean keypoint score are dropped.",
    "sfm_threshold": "SFM probability at which a cell is foreground (paper A.1: 0.5).",
    "anchor_min_score": "A decoded keypoint counts for the MaskCentroid anchor rule above this score.",
    "anchor_snap_radius": "A decoded person's MaskCentroid anchor moves to the mean of the foreground embeddings "
                          "within this many input pixels of it (two mean-shift steps; 0 = off).",
    "mask_clustering": "graph (histogram peaks, in the SavedModel) or dbscan (eager scikit-learn reference).",
    "cluster_radius": "Embeddings this close (input pixels) to a person's anchor belong to that person.",
    "claim_spread": "... and so do those within this many times the RMS spread of its embeddings near its "
                    "anchor (within --anchor_snap_radius), if that is farther (0 = --cluster_radius only).",
    "cluster_bin": "Histogram bin of the graph-mode density clustering, input pixels (integer).",
    "min_cluster_pixels": "Seg cells a mask-only cluster needs.",
    "mask_max_distance": "Cells whose embedding is farther (input pixels) from every centroid stay unassigned.",
    "mask_only_score": "Score of a person found by mask clustering alone = this x its mean SFM probability (its mask's "
                       "detection score).",
    "maskness_power": "A mask's score = its detection score x its maskness (mean soft map over the mask) to this power "
                      "(SOLOv2: 1; 0 = the detection score alone).",
    "igo_sigma": "Instance-wise Gaussian optimisation sigma, seg-stride cells (paper sweeps 0.1-0.5; 0 = off).",
    "flip_test": "Average the network's outputs with those of the horizontally mirrored input (twice the network's "
                 "time; not in the paper; needs input_size - 1 to be a multiple of both output strides).",
}


def _kind(value):
    return "bool" if isinstance(value, bool) else "integer" if isinstance(value, int) else \
        "float" if isinstance(value, float) else "string"


# decoding knobs (SPEC "Decoding"); the geometry comes from the outputs' own (the saved run's)
DECODING = tuple(flag(_kind(getattr(_DC, n)), n, getattr(_DC, n), h) for n, h in _DECODE_HELP.items())
OUTPUT_DIR = (flag("string", "output_dir", None, "Output folder: evaluate (results JSONs; default MODEL/eval), "
                 "predict (FILE.json + FILE.png per image FILE; not the images' own folder), show (pictures)."),)
PIXEL_LIMIT = (flag("integer", "max_pixels", MAX_PIXELS, "Images with more pixels (width x height) are "
                    "refused before decoding, which takes 3 bytes per pixel (predict, evaluate)."),)
SAVED_MODEL = (flag("string", "saved_model", None, "A SavedModel folder written by python -m cf_tf.export."),)


def define(*groups):
    """Defines the flags of `groups` (tuples above, or a command's own) for the program that runs, so
    its --help lists them; a name in two groups once."""
    for group in groups:
        for kind, name, default, help_text, extra in group:
            if name not in FLAGS:
                getattr(flags, f"DEFINE_{kind}")(name=name, default=default, help=help_text,
                                                 module_name=sys.argv[0], **extra)


def refuse_present(group, reason):
    """Exits with a message if any flag of `group` was given: `reason` says what fixes its value."""
    given = [name for _, name, _, _, _ in group if name in FLAGS and FLAGS[name].present]
    if given:
        sys.exit(f"error: {', '.join('--' + n for n in given)}: {reason}; leave {'it' if len(given) == 1 else 'them'} out")


def _config(cls, **kwargs):
    try:
        return cls(**kwargs)
    except ValueError as e:
        raise SystemExit(f"error: bad flag value: {e}") from None


def geometry():
    f = FLAGS
    return _config(Geometry, pose_stride=f.pose_stride, seg_stride=f.seg_stride, radius=f.disk_radius,
                   mid_scale=f.mid_scale, mask_scale=f.mask_scale, anchor_rule=f.anchor_rule)


# DataConfig's augmentation fields, each a DATA flag of the same name
AUGMENTATION = ("scale_min", "scale_max", "max_rotation", "flip_prob", "max_shift")


def data_config():
    """DataConfig from the DATA and GEOMETRY flags; a bad value exits with a message naming it."""
    f = FLAGS
    return _config(DataConfig, crop_size=f.crop_size, input_size=f.input_size, geometry=geometry(),
                   maskcentroid_border=f.maskcentroid_border, **{name: getattr(f, name) for name in AUGMENTATION})


def augmentation_args(cfg):
    """The DATA flags that train with DataConfig `cfg`'s augmentation whatever a flagfile before them
    says (the overfit gates: the paper's augmentation, tiny.flags' network)."""
    return [f"--{name}={getattr(cfg, name)}" for name in AUGMENTATION]


# The overfit gates' augmentation, by variant (tests/test_overfit.py, experiments/overfit_gate.sh): the paper's
# whole (DataConfig's defaults: scale, rotation, flip, crop shift), its crop shift alone, and none.
_GATE_SHIFT = dataclasses.replace(DataConfig(), scale_min=1.0, scale_max=1.0, max_rotation=0.0, flip_prob=0.0)
GATE_AUGMENTATION = {"all": DataConfig(), "shift": _GATE_SHIFT, "none": dataclasses.replace(_GATE_SHIFT, max_shift=0.0)}


def inference_data_config():
    """DataConfig from INPUT_SIZE and GEOMETRY alone (no augmentation at inference)."""
    return _config(DataConfig, input_size=FLAGS.input_size, geometry=geometry())


def model_config(geometry_cfg):
    f = FLAGS
    return _config(ModelConfig, backbone=f.backbone, backbone_weights=f.backbone_weights, geometry=geometry_cfg,
                   fusion_width=f.fusion_width, head_units=f.head_units, offset_kernel=f.offset_kernel,
                   offset_separable=f.offset_separable, offset_expansion=f.offset_expansion,
                   upsampling=f.upsampling, antialias=f.antialias,
                   antialias_stem=f.antialias_stem)


def loss_weights():
    return _config(LossWeights, **{t: getattr(FLAGS, f"loss_{t}") for t in TERMS})


def train_config():
    return _config(TrainConfig, **{name: getattr(FLAGS, name) for name in
                                   ("train_steps", "batch_size", "learning_rate", "lr_schedule", "warmup_steps",
                                    "mixed_precision", "jit_compile", "checkpoint_every", "keep_checkpoints",
                                    "summary_every", "image_summary_every", "shuffle_buffer", "seed",
                                    "init_from", "train_minutes")})


def decode_config(data_cfg):
    """DecodeConfig for outputs made with data_cfg, with the decoding flags applied."""
    cfg = _config(DecodeConfig, geometry=data_cfg.geometry, **{n: getattr(FLAGS, n) for n in _DECODE_HELP})
    if cfg.flip_test:
        try:
            flip_test.check_input_size(data_cfg.input_size, cfg.geometry)
        except ValueError as e:
            raise SystemExit(f"error: --{e}") from None
    return cfg

