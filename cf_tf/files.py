"""Writing files so that a reader never sees a half-written one."""

import json
import os


def write_json(path, obj, **dump_args):
    """Writes obj as JSON to path + '.tmp', then renames it to path."""
    with open(path + ".tmp", "w") as f:
        json.dump(obj, f, **dump_args)
    os.replace(path + ".tmp", path)
