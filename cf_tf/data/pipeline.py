"""shards -> decode -> augment -> targets -> batch -> prefetch (tf.data, graph mode throughout).

Randomness is stateless and keyed by (seed, example index), so a seeded pipeline gives the same
batches whatever the parallelism.
"""

import tensorflow as tf

from cf_tf.data import parser, schema


class RecordsNotFoundError(FileNotFoundError):
    """A TFRecord pattern matched no file."""


def record_files(pattern):
    """Sorted files matching a glob (or comma-separated globs); raises RecordsNotFoundError."""
    files = sorted(f for p in pattern.split(",") if p for f in tf.io.gfile.glob(p))
    if not files:
        raise RecordsNotFoundError(f"no TFRecord file matches {pattern!r} (run `make tfrecords`?)")
    return files


def train_dataset(pattern, cfg, batch_size, seed=0, shuffle_buffer=256, repeat=True, context=None):
    """Batches of (image float32 [b, crop, crop, 3], targets dict) for training.

    batch_size is the global batch. Under tf.distribute, `context` (the tf.distribute.InputContext
    that distribute_datasets_from_function passes) says which of the input pipelines, one per worker,
    this is: it reads and processes only its share of the records and yields per-replica batches
    (b = batch_size / replicas). The share is by file when there are at least as many files as
    pipelines (the converter writes 8 shards by default), else by element, after reading and before
    decoding. Pipelines are seeded apart: each example's random key is its index in the union of the
    pipelines' streams, and each shuffles its share with its own seed. One pipeline (no context) is
    the one-process stream.
    """
    context = context or tf.distribute.InputContext()
    pipelines, index = context.num_input_pipelines, context.input_pipeline_id
    files = record_files(pattern)
    by_file = len(files) >= pipelines
    if by_file:
        files = files[index::pipelines]
    # By element, every pipeline must see the same record order to take disjoint parts of it: the file
    # order's seed is shared.
    ds = tf.data.Dataset.from_tensor_slices(files).shuffle(len(files), seed=seed)
    ds = ds.interleave(tf.data.TFRecordDataset, cycle_length=min(len(files), 8),
                       num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if not by_file:
        ds = ds.shard(pipelines, index)
    if repeat:
        ds = ds.repeat()
    ds = ds.shuffle(shuffle_buffer, seed=seed * pipelines + index).enumerate()

    def parse(i, serialized):
        key = tf.stack([tf.cast(seed, tf.int64), i * pipelines + index])
        return parser.parse_train(schema.parse_example(serialized), key, cfg)

    ds = ds.map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.batch(context.get_per_replica_batch_size(batch_size), drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def inference_dataset(pattern, cfg, with_targets=False):
    """Unbatched inference features (cf_tf/data/parser.parse_inference), in file order."""
    ds = tf.data.TFRecordDataset(record_files(pattern))
    return ds.map(lambda s: parser.parse_inference(schema.parse_example(s), cfg, with_targets),
                  num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(tf.data.AUTOTUNE)
