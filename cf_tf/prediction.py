"""Running a SavedModel on image files: COCO-results JSON and a picture per image (python -m cf_tf.predict)."""

import os
import re

import numpy as np
import tensorflow as tf

from cf_tf import images, visualize
from cf_tf.constants import MAX_PIXELS
from cf_tf.coco import full_size_mask, person_results
from cf_tf.errors import image_error_reason
from cf_tf.files import WriteError, write_json, write_picture
from cf_tf.inference import load_saved_model
from cf_tf.progress import Progress


IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")


def _is_image_file(path):
    """One rule for a single --image and a folder's entries: a regular file (not a folder or a named
    pipe, which would hang the read) named .jpg, .jpeg or .png."""
    return os.path.isfile(path) and path.lower().endswith(IMAGE_EXTENSIONS)


def image_files(path, log=print):
    """The image files `path` names: itself, or its folder's image files (the others counted in one
    line); FileNotFoundError saying why there are none."""
    kinds = "/".join(IMAGE_EXTENSIONS)
    if os.path.isdir(path):
        entries = sorted(os.path.join(path, f) for f in os.listdir(path))
        files = [f for f in entries if _is_image_file(f)]
        if len(files) < len(entries):
            log(f"{path}: {len(entries) - len(files)} of its {len(entries)} entries left out: not {kinds} "
                f"files (other types, sub-folders, pipes)")
        if not files:
            raise FileNotFoundError(f"{path}: no {kinds} file in this folder")
        return files
    if not os.path.lexists(path):
        raise FileNotFoundError(f"{path}: no such file or folder")
    if not _is_image_file(path):
        raise FileNotFoundError(f"{path}: not a {kinds} file")
    return [path]


def image_id_for(path, index):
    digits = re.sub(r"\D", "", os.path.splitext(os.path.basename(path))[0])
    return int(digits) if digits else index


def filter_people(decoded, min_score):
    """Keeps the people scoring at least min_score (rows stay dense and in order)."""
    keep = [k for k in range(int(decoded["num_people"])) if decoded["scores"][k] >= min_score]
    out = {k: v[keep] for k, v in decoded.items() if k != "num_people"}
    out["num_people"] = len(keep)
    return out


def predict_file(serve, path, image_id, output_dir, min_score, max_pixels=MAX_PIXELS):
    """Runs one image FILE; writes FILE.json and FILE.png in output_dir; returns (the number of people,
    the EXIF orientation applied). The file is decoded once, here, for the network and for the picture,
    and turned as a viewer shows it: the people's coordinates are in that frame."""
    with open(path, "rb") as f:
        data = f.read()
    if not data:
        raise ValueError("empty file")
    images.check_pixels(data, path, max_pixels)
    image, orientation = images.viewer_frame(tf.io.decode_image(data, channels=3, expand_animations=False).numpy(),
                                             data)
    image = np.ascontiguousarray(image)
    out = serve(images=tf.constant(image[None]))
    decoded = filter_people({k: v.numpy()[0] for k, v in out.items()}, min_score)
    height, width = image.shape[:2]
    results = person_results(image_id, decoded, height, width)
    decoded["masks"] = np.stack([full_size_mask(m, height, width) for m in decoded["masks"]]) \
        if len(decoded["masks"]) else np.zeros((0, height, width), np.uint8)
    name = os.path.join(output_dir, os.path.basename(path))
    write_json(name + ".json", results)
    try:
        write_picture(name + ".png", visualize.draw(image, decoded))
    except BaseException:   # both or neither (a full disk, Ctrl-C): a JSON alone would look like a finished image
        os.remove(name + ".json")
        raise
    return decoded["num_people"], orientation


def predict(saved_model, image, output_dir, min_score=0.1, max_pixels=MAX_PIXELS, log=print):
    """Runs every image; returns {"images": ok count, "failed": [(path, reason)], "people": total,
    "turned": count of images turned upright by their EXIF orientation}."""
    files = image_files(image, log)
    inputs = {os.path.realpath(os.path.dirname(f)) for f in files}
    if os.path.realpath(output_dir) in inputs:
        raise ValueError(f"--output_dir={output_dir} is the folder of the input images: pictures and JSON "
                         f"there could replace inputs; choose another folder")
    serve = load_saved_model(saved_model).signatures["serving_default"]
    os.makedirs(output_dir, exist_ok=True)
    bar = Progress(len(files), "predict", unit="img")
    summary = {"images": 0, "failed": [], "people": 0, "turned": 0}
    for i, path in enumerate(files):
        try:
            people, orientation = predict_file(serve, path, image_id_for(path, i), output_dir, min_score, max_pixels)
            summary["people"] += people
            summary["images"] += 1
            summary["turned"] += orientation != 1
        except WriteError:   # the output, not the image: stop, and count nothing that was not written
            raise
        except tf.errors.OpError as e:
            reason = image_error_reason(e)
            log(f"skipped {path}: {reason}")
            summary["failed"].append((path, reason))
        except (ValueError, OSError) as e:
            reason = str(e) or type(e).__name__
            log(f"skipped {path}: {reason}")
            summary["failed"].append((path, reason))
        bar.update()
    bar.close()
    return summary
