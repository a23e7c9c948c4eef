"""Writing files so that a reader never sees a half-written one, and one writer per folder."""

import contextlib
import json
import os
import socket

LOCK_FILE = ".cf_tf.lock"


def write_json(path, obj, **dump_args):
    """Writes obj as JSON to path + '.tmp', then renames it to path."""
    with open(path + ".tmp", "w") as f:
        json.dump(obj, f, **dump_args)
    os.replace(path + ".tmp", path)


class FolderLockedError(RuntimeError):
    """Another live process holds the folder's lock; the message names it."""


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # someone else's process: alive
        return True
    return True


@contextlib.contextmanager
def folder_lock(folder, what):
    """Holds folder/.cf_tf.lock (pid and host of the owner) while the block runs.

    A lock whose process is gone on this host is stale and taken over; a live one, or one from
    another host (its process cannot be checked from here), raises FolderLockedError.
    """
    created = not os.path.isdir(folder)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, LOCK_FILE)
    me = f"{os.getpid()} {socket.gethostname()}"
    while True:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            with open(path) as f:
                pid, _, host = f.read().strip().partition(" ")
            if host != socket.gethostname() or (pid.isdigit() and _alive(int(pid))):
                raise FolderLockedError(f"{folder} is in use by process {pid} on {host or '?'} ({what}); "
                                        f"wait for it, use another folder, or delete {path} if that process "
                                        f"is gone") from None
            os.remove(path)   # stale: its process has ended
            continue
        with os.fdopen(fd, "w") as f:
            f.write(me)
        break
    try:
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)
        if created and not os.listdir(folder):   # a run that wrote nothing leaves no folder
            os.rmdir(folder)
