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


def train_dataset(pattern, cfg, batch_size, seed=0, shuffle_buffer=256, repeat=True):
    """Batches of (image float32 [B, crop, crop, 3], targets dict) for training."""
    files = record_files(pattern)
    ds = tf.data.Dataset.from_tensor_slices(files).shuffle(len(files), seed=seed)
    ds = ds.interleave(tf.data.TFRecordDataset, cycle_length=min(len(files), 8),
                       num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.shuffle(shuffle_buffer, seed=seed).enumerate()
    ds = ds.map(lambda i, s: parser.parse_train(schema.parse_example(s), tf.stack([tf.cast(seed, tf.int64), i]), cfg),
                num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    # Under MultiWorkerMirroredStrategy every worker reads all records and keeps its part of each global
    # batch, so N workers train on exactly the batches of one process (sharding by file would not).
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE).with_options(options)


def inference_dataset(pattern, cfg, with_targets=False):
    """Unbatched inference features (cf_tf/data/parser.parse_inference), in file order."""
    ds = tf.data.TFRecordDataset(record_files(pattern))
    return ds.map(lambda s: parser.parse_inference(schema.parse_example(s), cfg, with_targets),
                  num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(tf.data.AUTOTUNE)
