"""Shared fixtures: the bundled sample data (../shared/data), converted records, synthetic data."""

import os
import pathlib

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED = pathlib.Path(os.environ.get("CF_SHARED", REPO.parent / "shared"))
COCO_SAMPLE = SHARED / "data" / "coco_sample"
OCHUMAN_SAMPLE = SHARED / "data" / "ochuman_sample"
SAMPLES = {
    "coco": (COCO_SAMPLE / "person_keypoints.json", COCO_SAMPLE / "images"),
    "ochuman": (OCHUMAN_SAMPLE / "annotations.json", OCHUMAN_SAMPLE / "images"),
}


@pytest.fixture(scope="session")
def sample_records(tmp_path_factory):
    """{name: (annotations, images, record glob)} for the bundled COCO and OCHuman samples."""
    from cf_tf.data.tfrecords import convert

    out = tmp_path_factory.mktemp("records")
    records = {}
    for name, (ann, images) in SAMPLES.items():
        assert ann.is_file(), f"sample data missing: {ann} (CI needs ../shared beside the clone)"
        convert(str(ann), str(images), str(out / name), num_shards=2, workers=1)
        records[name] = (str(ann), str(images), str(out / f"{name}-*"))
    return records


def interruptible():
    """Popen preexec_fn: Ctrl-C (SIGINT) reaches the child even when the tests run in the background,
    where the shell starts them with SIGINT ignored and children inherit that."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def make_synth(out, num_images, seed, num_shards):
    """Synthetic images (the demo generator's settings, 256 px) in out/set and their records
    out/synth-*: returns (annotations, images, record glob)."""
    from cf_tf.data.tfrecords import convert
    from cf_tf.data.synth import generate

    generate(str(out / "set"), num_images=num_images, seed=seed, size=256, progress=False)
    ann, images = out / "set" / "person_keypoints.json", out / "set" / "images"
    convert(str(ann), str(images), str(out / "synth"), num_shards=num_shards, workers=1)
    return str(ann), str(images), str(out / "synth-*")


@pytest.fixture(scope="session")
def synth_data(tmp_path_factory):
    """A small synthetic dataset and its records: (annotations, images, record glob)."""
    return make_synth(tmp_path_factory.mktemp("synth"), num_images=24, seed=7, num_shards=2)


def _two_logical_cpus():
    """Two logical CPU devices, so distribution tests can run MirroredStrategy over them.

    Must happen before TensorFlow initialises its devices, hence at conftest import."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])


_two_logical_cpus()


@pytest.fixture
def full_disk(monkeypatch):
    """Every atomic write's temporary file is /dev/full: writes fail with ENOSPC, as on a full disk."""
    import tempfile

    from cf_tf import files

    real = tempfile.mkstemp

    def mkstemp(*args, **kwargs):
        fd, path = real(*args, **kwargs)
        os.close(fd)
        return os.open("/dev/full", os.O_WRONLY), path

    monkeypatch.setattr(files.tempfile, "mkstemp", mkstemp)
