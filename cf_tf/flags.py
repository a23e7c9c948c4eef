"""Every cf_tf command-line flag, defined once, grouped, with units and defaults in the help text.

Entry points import this module and turn flags into the typed configs of cf_tf/config.py; the
library itself never reads flags.
"""

from absl import flags

from cf_tf.config import ANCHOR_RULES, DataConfig, DecodeConfig, ModelConfig
from cf_tf.losses import TERMS, LossWeights
from cf_tf.model.backbones import BACKBONES

_D = DataConfig()
_M = ModelConfig()
_L = LossWeights()

# --- data
flags.DEFINE_integer("crop_size", _D.crop_size, "Training crop side, input pixels.")
flags.DEFINE_integer("input_size", _D.input_size,
                     "Inference: longest image side is resized to this many pixels, then padded to a square.")
flags.DEFINE_integer("pose_stride", _D.pose_stride, "Output stride of the pose head (8 or 16).")
flags.DEFINE_integer("seg_stride", _D.seg_stride, "Output stride of the segmentation head (4 or 8).")
flags.DEFINE_float("disk_radius", _D.radius, "Keypoint disk radius R, input pixels (paper: 32).")
flags.DEFINE_float("mid_scale", _D.mid_scale, "Unit of the mid-range offsets, input pixels.")
flags.DEFINE_float("mask_scale", _D.mask_scale, "Unit of the MaskCentroid offsets, input pixels.")
flags.DEFINE_float("scale_min", _D.scale_min, "Augmentation: smallest random scale factor "
                  "(1 = the inference scale, longest side -> input_size).")
flags.DEFINE_float("scale_max", _D.scale_max, "Augmentation: largest random scale.")
flags.DEFINE_float("max_rotation", _D.max_rotation, "Augmentation: rotation uniform in +-this, degrees.")
flags.DEFINE_float("flip_prob", _D.flip_prob, "Augmentation: probability of a horizontal flip.")
flags.DEFINE_float("max_shift", _D.max_shift, "Augmentation: random shift of the crop centre, up to this "
                   "fraction of the crop side (0..1), beyond the room a larger scaled image leaves.")
flags.DEFINE_enum("anchor_rule", _D.anchor_rule, ANCHOR_RULES,
                  "MaskCentroid anchor: right_shoulder (paper Fig. 5, falls back to the mean keypoint, "
                  "then the mask mean), mean_keypoints, or mask_mean (paper Eq. 3).")
flags.DEFINE_integer("seed", 0, "Random seed for the initial weights, data order and augmentation.")


# --- model
flags.DEFINE_enum("backbone", _M.backbone, BACKBONES, "Backbone network.")
flags.DEFINE_string("backbone_weights", _M.backbone_weights,
                    "imagenet (keras.applications, downloaded once into ~/.keras/models/), none, or a "
                    "path to a weights file.")
flags.DEFINE_integer("fusion_width", _M.fusion_width, "Channels of the fused feature maps and head units.")
flags.DEFINE_integer("head_units", _M.head_units, "Residual bottleneck units in each head.")
flags.DEFINE_integer("offset_kernel", _M.offset_kernel, "Side of the KeyCentroid and mid-range output convolutions, in "
                     "pose-stride cells (odd; 2 * R / pose_stride + 1 spans the keypoint disk; 1 = a 1x1 conv).")

# --- loss weights (SPEC defaults)
for _term in TERMS:
    flags.DEFINE_float(f"loss_{_term}", getattr(_L, _term), f"Weight of the {_term} loss term (>= 0).")

# --- training
flags.DEFINE_string("model_dir", None, "Folder for checkpoints, TensorBoard logs and cf_tf_config.json.")
flags.DEFINE_string("train_records", None, "TFRecord glob(s) to train on (comma-separated allowed).")
flags.DEFINE_integer("train_steps", 1000, "Total optimizer steps (training resumes up to this count).")
flags.DEFINE_integer("batch_size", 4, "Global batch size (split over replicas).")
flags.DEFINE_float("learning_rate", 1e-5, "Peak Adam learning rate (paper: 1e-5).")
flags.DEFINE_enum("lr_schedule", "constant", ("constant", "cosine"),
                  "After warm-up: constant, or cosine decay to 0 at train_steps.")
flags.DEFINE_integer("warmup_steps", 0, "Linear learning-rate warm-up, steps.")
flags.DEFINE_bool("mixed_precision", False, "Train under the mixed_float16 policy with loss scaling (GPU).")
flags.DEFINE_bool("jit_compile", False, "XLA-compile the train step.")
flags.DEFINE_integer("checkpoint_every", 500, "Save a checkpoint every this many steps (and at the end).")
flags.DEFINE_integer("keep_checkpoints", 3, "Checkpoints kept in model_dir.")
flags.DEFINE_integer("summary_every", 50, "TensorBoard scalars every this many steps.")
flags.DEFINE_integer("image_summary_every", 500, "TensorBoard images of predicted vs target maps every this many steps.")
flags.DEFINE_integer("shuffle_buffer", 256, "Examples in the tf.data shuffle buffer.")

# --- decoding (SPEC "Decoding"); strides, R, offset units and anchor rule come from the data flags
_DECODE_HELP = {
    "hough_stride": "Hough map cell size, input pixels.",
    "pgo": "Point-wise Gaussian optimisation of the Hough maps (paper 3.1); off = 3x3 sum.",
    "hvk_sigma": "PGO sigma of elbows, wrists, knees, ankles, in pose-stride cells (paper: [0.1, 0.5)).",
    "lvk_sigma": "PGO sigma of the other keypoints, in pose-stride cells (paper: [0.5, 1.0)).",
    "peak_threshold": "Smallest Hough score (Gaussian-weighted vote mass, ~1 for a sure keypoint) of a candidate.",
    "max_candidates": "Candidates kept per keypoint type.",
    "bhm_rescoring": "Keypoint score = geometric mean of Hough score and BHM probability (paper 3.2).",
    "refine_steps": "KeyCentroid refinements of each keypoint grown along a mid-range offset.",
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
    "cluster_bin": "Histogram bin of the graph-mode density clustering, input pixels (integer).",
    "min_cluster_pixels": "Seg cells a mask-only cluster needs.",
    "mask_max_distance": "Cells whose embedding is farther (input pixels) from every centroid stay unassigned.",
    "mask_only_score": "Score of a person found by mask clustering alone = this x its mean SFM probability.",
    "igo_sigma": "Instance-wise Gaussian optimisation sigma, seg-stride cells (paper sweeps 0.1-0.5; 0 = off).",
}
_DC = DecodeConfig()
for _name, _help in _DECODE_HELP.items():
    _default = getattr(_DC, _name)
    if isinstance(_default, bool):
        flags.DEFINE_bool(_name, _default, _help)
    elif isinstance(_default, int):
        flags.DEFINE_integer(_name, _default, _help)
    elif isinstance(_default, float):
        flags.DEFINE_float(_name, _default, _help)
    else:
        flags.DEFINE_string(_name, _default, _help)

# --- entry points: evaluate, export, predict, benchmark, data.show
flags.DEFINE_string("annotations", None, "evaluate: COCO-format person-keypoints JSON of the evaluation set.")
flags.DEFINE_string("images", None, "evaluate: folder of the evaluation images.")
flags.DEFINE_string("saved_model", None, "evaluate/predict: a SavedModel folder written by python -m cf_tf.export.")
flags.DEFINE_bool("oracle", False, "evaluate: score perfect outputs built from the ground truth (no model).")
flags.DEFINE_bool("perfect_assignment", False, "evaluate with --oracle: output the ground-truth people, each seg "
                  "cell given to its true owner and resampled by the decoder: the resolution ceiling of segm "
                  "(its keypoints AP is 1 by construction).")
flags.DEFINE_list("perfect_heads", [], "evaluate with --model_dir: replace these model outputs (skfm, keycentroid, "
                  "mid_offsets, bhm, sfm, maskcentroid) by perfect ones from the ground truth, to see which head "
                  "limits the model. Default: none.")
flags.DEFINE_bool("head_report", False, "evaluate with --model_dir: score each raw output against its target "
                  "(heat-map AUC, offset L1 next to predicting 0) instead of decoding; writes head_report.json.")
flags.DEFINE_integer("max_images", 0, "evaluate: only the first N images (0 = all).")
flags.DEFINE_string("output_dir", None, "Output folder: evaluate (results JSONs; default MODEL/eval), "
                    "predict (FILE.json + FILE.png per image FILE; not the images' own folder), "
                    "data.show (pictures).")
flags.DEFINE_string("output", None, "export: the SavedModel folder to write.")
flags.DEFINE_bool("overwrite", False, "export: replace --output if it exists.")
flags.DEFINE_string("image", None, "predict: an image file, or a folder of images (.jpg, .jpeg, .png).")
flags.DEFINE_float("min_score", 0.1, "predict: people scoring below this (0..1) are left out.")
flags.DEFINE_string("records", None, "data.show: TFRecord glob to draw.")
flags.DEFINE_integer("num_examples", 4, "data.show: how many examples to draw.")
flags.DEFINE_bool("json", False, "benchmark: end with one JSON line of all measurements.")
flags.DEFINE_bool("full", False, "benchmark: also time R50/R101/R152 training steps (slow on a CPU).")
flags.DEFINE_list("backbones", ["resnet50", "resnet101", "resnet152"], "benchmark: backbones of the forward rows.")
flags.DEFINE_list("sizes", ["401"], "benchmark: square input sizes (pixels) of the forward rows.")
flags.DEFINE_list("people", ["1", "5", "10", "20", "30"], "benchmark: crowd sizes of the decoder rows.")
flags.DEFINE_integer("repeats", 5, "benchmark: timed repeats per row (median reported).")
flags.DEFINE_bool("quick", False, "benchmark: tiny backbone, small sizes, 2 repeats (checks every row runs).")

FLAGS = flags.FLAGS


def data_config():
    """DataConfig from the flags; a bad value exits with a message naming the flag."""
    try:
        return DataConfig(
            crop_size=FLAGS.crop_size, input_size=FLAGS.input_size, pose_stride=FLAGS.pose_stride,
            seg_stride=FLAGS.seg_stride, radius=FLAGS.disk_radius, mid_scale=FLAGS.mid_scale,
            mask_scale=FLAGS.mask_scale, scale_min=FLAGS.scale_min, scale_max=FLAGS.scale_max,
            max_rotation=FLAGS.max_rotation, flip_prob=FLAGS.flip_prob,
            max_shift=FLAGS.max_shift, anchor_rule=FLAGS.anchor_rule)
    except ValueError as e:
        raise SystemExit(f"error: bad flag value: {e}") from None


def model_config():
    try:
        return ModelConfig(backbone=FLAGS.backbone, backbone_weights=FLAGS.backbone_weights,
                           pose_stride=FLAGS.pose_stride, seg_stride=FLAGS.seg_stride,
                           fusion_width=FLAGS.fusion_width, head_units=FLAGS.head_units,
                           offset_kernel=FLAGS.offset_kernel)
    except ValueError as e:
        raise SystemExit(f"error: bad flag value: {e}") from None


def loss_weights():
    try:
        return LossWeights(**{t: getattr(FLAGS, f"loss_{t}") for t in TERMS})
    except ValueError as e:
        raise SystemExit(f"error: bad flag value: {e}") from None


def decode_config(data_cfg):
    """DecodeConfig for outputs made with data_cfg, with the decoding flags applied."""
    try:
        return DecodeConfig.matching(data_cfg, **{n: getattr(FLAGS, n) for n in _DECODE_HELP})
    except ValueError as e:
        raise SystemExit(f"error: bad flag value: {e}") from None
