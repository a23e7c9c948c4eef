"""Round trip COCO JSON + images -> TFRecords -> decoded tensors, on real COCO and OCHuman samples."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from pycocotools.coco import COCO

from cf_tf.data import schema


@pytest.mark.parametrize("name", ["coco", "ochuman"])
def test_decoded_records_equal_the_source(sample_records, name):
    ann_path, image_dir, pattern = sample_records[name]
    coco = COCO(ann_path)
    with open(ann_path) as f:
        n_images = len(json.load(f)["images"])
    seen = set()
    for serialized in tf.data.TFRecordDataset(sorted(tf.io.gfile.glob(pattern))):
        raw = tf.io.parse_single_example(serialized, schema.FEATURES)
        d = schema.parse_example(serialized)
        image_id = int(d["image_id"])
        seen.add(image_id)
        info = coco.imgs[image_id]
        with open(os.path.join(image_dir, info["file_name"]), "rb") as f:
            assert raw["image/encoded"].numpy() == f.read(), "image bytes were re-encoded"
        assert d["image"].shape == (info["height"], info["width"], 3)
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[image_id], iscrowd=None))
        assert d["keypoints"].shape[0] == len(anns)
        for k, ann in enumerate(anns):
            np.testing.assert_array_equal(
                d["keypoints"][k].numpy(), np.asarray(ann["keypoints"], np.float32).reshape(17, 3))
            assert int(d["iscrowd"][k]) == ann["iscrowd"]
            expected = coco.annToMask(ann)
            np.testing.assert_array_equal(d["masks"][k].numpy(), expected)
            assert float(d["area"][k]) == expected.sum()
    assert len(seen) == n_images, "negatives (images with no person) must be kept"
