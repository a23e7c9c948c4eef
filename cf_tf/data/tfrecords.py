"""COCO-format person keypoints + image folder -> sharded TFRecords (cf_tf/data/schema.py).

The library half of `python -m data_prep.coco_to_tfrecord`: convert_image turns one image and its
annotations into a serialized Example (evaluate uses it too, to build targets exactly as training
does); convert writes a whole annotation file as shards, atomically.
"""

import contextlib
import multiprocessing
import os
import shutil
import tempfile

import cv2
import numpy as np

from cf_tf import images
from cf_tf.constants import NUM_KEYPOINTS
from cf_tf.data import annotations as coco_ann
from cf_tf.data.schema import encode_example
from cf_tf.files import describe_os_error
from cf_tf.progress import Progress


class ConversionError(RuntimeError):
    """An input that cannot be converted; the message names the file or annotation."""


def shard_paths(prefix, num_shards):
    return [f"{prefix}-{i:05d}-of-{num_shards:05d}.tfrecord" for i in range(num_shards)]


def convert_image(task, max_pixels=None):
    """(image info, its annotations, image folder) -> (serialized Example, degenerate-mask count).

    The image is taken in the frame its annotations describe (cf_tf/images.py): stored pixels, or,
    for an image annotated as a viewer shows it (its EXIF orientation turns it), those pixels.
    With max_pixels, a larger image is refused by its header before it is decoded (evaluate)."""
    img, anns, image_dir = task
    path = os.path.join(image_dir, img["file_name"])
    if not os.path.isfile(path):
        raise ConversionError(f"{path}: image file not found (image id {img['id']})")
    with open(path, "rb") as f:
        data = f.read()
    height, width = int(img["height"]), int(img["width"])
    try:
        if max_pixels is not None:
            images.check_pixels(data, path, max_pixels)
        decoded, orientation = images.decode_in_annotation_frame(data, path, width, height)
    except ValueError as e:
        raise ConversionError(f"{e} (image id {img['id']})") from None
    if orientation != 1:
        # annotated as a viewer shows it: store those pixels (PNG, lossless), as training decodes stored pixels
        data = cv2.imencode(".png", cv2.cvtColor(decoded, cv2.COLOR_RGB2BGR))[1].tobytes()
    keypoints, iscrowd, masks, degenerate = [], [], [], 0
    for ann in anns:
        try:
            mask, bad = coco_ann.annotation_mask(ann, height, width)
        except (coco_ann.AnnotationError, ValueError, TypeError) as e:
            raise ConversionError(f"{path}: annotation {ann.get('id', '?')}: {e}") from None
        degenerate += bad
        keypoints.append(np.asarray(ann.get("keypoints", [0] * 3 * NUM_KEYPOINTS), np.float32))
        iscrowd.append(int(ann.get("iscrowd", 0)))
        masks.append(mask)
    masks = np.stack(masks) if masks else np.zeros((0, height, width), np.uint8)
    example = encode_example(data, height, width, int(img["id"]),
                             np.reshape(keypoints, (-1, NUM_KEYPOINTS, 3)), iscrowd, masks)
    return example, degenerate


def convert(annotations, images, output, num_shards=8, workers=1, skip_empty=False, log=print):
    """Converts a whole annotation file; returns {"images", "people", "degenerate_masks", "shards"}."""
    import tensorflow as tf  # heavy; only needed once the inputs are known to be valid

    if num_shards < 1 or workers < 1:
        raise ConversionError(f"--num_shards and --workers must be >= 1 (got {num_shards}, {workers})")
    if not os.path.isdir(images):
        raise ConversionError(f"{images}: image folder not found")
    try:
        data, cat_id = coco_ann.load_person_keypoints(annotations)
    except coco_ann.AnnotationError as e:
        raise ConversionError(str(e)) from None
    by_image = coco_ann.person_annotations_by_image(data, cat_id)
    tasks = [(img, by_image[img["id"]], images) for img in data["images"]
             if by_image[img["id"]] or not skip_empty]
    if not tasks:
        raise ConversionError(f"{annotations}: no image to convert")

    final = shard_paths(output, num_shards)
    blocked = [p for p in final if os.path.exists(p) and not os.path.isfile(p)]
    if blocked:
        raise ConversionError(f"{blocked[0]}: exists and is not a file; remove it or choose another --output")
    out_dir = os.path.dirname(os.path.abspath(output))
    created = not os.path.isdir(out_dir)
    try:
        os.makedirs(out_dir, exist_ok=True)
        # every shard is written in a hidden folder beside the output, then renamed: all or nothing
        staging = tempfile.mkdtemp(prefix=f".{os.path.basename(output)}-tmp-", dir=out_dir)
    except OSError as e:
        raise ConversionError(f"--output={output}: cannot write there ({e.strerror or e})") from None
    temps = [os.path.join(staging, os.path.basename(p)) for p in final]
    stats = {"images": 0, "people": 0, "degenerate_masks": 0, "shards": final}
    bar = Progress(len(tasks), "coco_to_tfrecord", unit="img")
    pool, writers, moved, ok = None, [], [], False
    try:
        writers.extend(tf.io.TFRecordWriter(t) for t in temps)
        if workers > 1:
            pool = multiprocessing.get_context("spawn").Pool(workers)
            results = pool.imap(convert_image, tasks, chunksize=4)
        else:
            results = map(convert_image, tasks)
        for i, (example, degenerate) in enumerate(results):
            writers[i % num_shards].write(example)
            stats["images"] += 1
            stats["people"] += len(tasks[i][1])
            stats["degenerate_masks"] += degenerate
            bar.update()
        for w in writers:
            w.close()
        for t, p in zip(temps, final):
            os.replace(t, p)
            moved.append(p)
        ok = True
    except (OSError, tf.errors.OpError) as e:
        raise ConversionError(f"cannot write the shards of {output}: {describe_os_error(e)}") from None
    finally:
        bar.close()
        if pool is not None:
            pool.terminate()
        for w in writers:   # a writer whose disk filled fails again on close: the clean-up must still run
            with contextlib.suppress(Exception):
                w.close()
        if not ok:   # no half set: shards already renamed by this run go too
            for p in moved:
                os.remove(p)
        shutil.rmtree(staging, ignore_errors=True)
        if not ok and created and not os.listdir(out_dir):
            os.rmdir(out_dir)
    if stats["images"] < num_shards:
        log(f"warning: {num_shards - stats['images']} of the {num_shards} shards hold no example ({stats['images']} "
            f"image(s)); --num_shards={max(stats['images'], 1)} or fewer gives every shard some")
    if stats["degenerate_masks"]:
        log(f"warning: {stats['degenerate_masks']} annotation(s) had degenerate polygons or empty "
            f"masks; their masks are empty or partial")
    return stats
