"""One worker of a two-process cluster (TF_CONFIG) reading one epoch of training input the way
`cf_tf.train` does (training.distributed_input), for tests/test_train.py.

  python tests/input_worker.py RECORDS OUT.json

Counts what this process decodes: each parse_train call carries its example's image id into the
batch, so OUT.json lists {"decoded": [[image id, random key index], ...], "batched": [image id, ...]}.
"""

import sys

import tensorflow as tf

from cf_tf import training
from cf_tf.config import DataConfig, TrainConfig
from cf_tf.data import parser
from cf_tf.files import write_json

decoded = []


def counting_parse_train(example, key, cfg, real=parser.parse_train):
    def record(image_id, index):
        decoded.append([int(image_id), int(index)])
        return image_id

    image, targets = real(example, key, cfg)
    targets = {**targets, "image_id": tf.py_function(record, [example["image_id"], key[1]], tf.int64)}
    return image, targets


def main(records, out):
    parser.parse_train = counting_parse_train
    strategy = training.make_strategy()
    dataset = training.distributed_input(strategy, records, DataConfig(crop_size=65),
                                         TrainConfig(batch_size=4), repeat=False)
    batched = []
    for _, targets in dataset:
        for ids in strategy.experimental_local_results(targets["image_id"]):
            batched.extend(int(i) for i in ids.numpy())
    write_json(out, {"decoded": decoded, "batched": batched})


if __name__ == "__main__":
    main(*sys.argv[1:])
