"""cf_tf: CenterFocus (bottom-up pose estimation and instance segmentation) in TensorFlow."""

import logging
import os
import sys


def _import_tensorflow_quietly():
    """Imports TensorFlow with the C++ lines it prints while loading (oneDNN notices, "All log
    messages before absl::InitializeLog()") kept off stderr: they would bury cf_tf's own messages, and
    TF_CPP_MIN_LOG_LEVEL no longer silences them. TF_CPP_MIN_LOG_LEVEL=0 shows them again."""
    if "tensorflow" in sys.modules or os.environ.get("TF_CPP_MIN_LOG_LEVEL") == "0":
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")   # also hides the runtime oneDNN "E0000 ... DT_UINT8"
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    # TensorFlow's Python INFO lines ("Assets written to ...", checkpoint sharding timings) likewise
    tensorflow.get_logger().setLevel(logging.WARNING)


_import_tensorflow_quietly()
