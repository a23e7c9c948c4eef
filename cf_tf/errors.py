"""One-line reasons from TensorFlow errors, for the one-line messages of the command-line tools."""

import re

# An eager op's message starts with "{{function_node __wrapped__Op_device_...}}" and ends "[Op:Op]".
WRAPPER = re.compile(r"\{\{function_node [^}]*\}\}\s*|\s*\[Op:\w+\]")


def op_error_reason(error, limit=200):
    """The op's own sentence from a TensorFlow OpError (not its graph stack-trace boilerplate)."""
    lines = [line.strip() for line in error.message.splitlines()]
    useful = [line for line in lines if line and not line.startswith(("Graph execution", "Detected at",
                                                                       "<stack", "[[", "File ", "Additional GRPC"))]
    reason = useful[0] if useful else lines[0] if lines else type(error).__name__
    return WRAPPER.sub("", reason).strip()[:limit]


def image_error_reason(error):
    """Why an image file could not be decoded (an OpError of tf.io.decode_image), in a user's words."""
    reason = op_error_reason(error)
    if "Unknown image file format" in reason:
        return "not an image file (JPEG, PNG, GIF, BMP or WebP)"
    return f"not a readable image (truncated or corrupt file: {reason})"
