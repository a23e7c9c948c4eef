"""Where cf_tf may write, and how: the one place that refuses an output path, writes a file
atomically, and keeps one writer per folder.

- `output_folder` refuses, before any work, a folder path that is a regular file, lies under one, or
  cannot be written; `replaceable_export` is the only rule for what `export --overwrite` may delete.
- `atomic_write` writes to a temporary file beside the target and renames it into place, so a reader
  never sees a half-written file and a failed write (a full disk) leaves nothing behind.
- `folder_lock` / `path_lock`: one writer per folder or per output path.
"""

import contextlib
import json
import os
import shutil
import socket
import tempfile

import cv2

from cf_tf.constants import CHECKPOINTS, RUN_CONFIG
from cf_tf.errors import WRAPPER

LOCK_FILE = ".cf_tf.lock"
# What makes a folder a training folder, and what export writes into every SavedModel it makes, so
# that --overwrite replaces nothing else.
MODEL_DIR_MARKERS = (RUN_CONFIG, CHECKPOINTS)
EXPORT_MARKER = "cf_tf_export.json"


class OutputPathError(ValueError):
    """An output path cf_tf must not write or replace; the message names the path and why."""


class WriteError(OSError):
    """A write that failed (full disk, read-only file system); nothing partial was left."""


def describe_os_error(e):
    """A short reason for an OSError or a TensorFlow write error ("No space left on device"): for
    TensorFlow's "PATH; REASON" messages, the reason."""
    text = str(getattr(e, "strerror", None) or getattr(e, "message", None) or e).strip()
    text = WRAPPER.sub("", text.splitlines()[0] if text else "").strip()
    return text.rsplit("; ", 1)[-1][:200] or type(e).__name__


def output_folder(path, flag):
    """The absolute path of a folder cf_tf is about to write, or OutputPathError if it is a regular
    file, lies under one, or its nearest existing folder cannot be written."""
    if not path:
        raise OutputPathError(f"{flag} is required")
    path = os.path.abspath(path)
    probe = path
    while not os.path.lexists(probe):
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe):
        where = "is a file" if probe == path else f"lies under {probe}, which is a file"
        raise OutputPathError(f"{flag}={path} {where}, not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise OutputPathError(f"{flag}={path}: {probe} is not writable")
    return path


def is_model_dir(path):
    """Whether `path` is a training folder (holds cf_tf_config.json or checkpoints/)."""
    return any(os.path.lexists(os.path.join(path, m)) for m in MODEL_DIR_MARKERS)


def replaceable_export(output, flag="--output"):
    """Refuses (OutputPathError) to let `export --overwrite` delete `output` unless it is a SavedModel
    that export wrote (it holds EXPORT_MARKER) that neither is, holds nor lies inside a training
    folder. A path that does not exist needs no check."""
    output = os.path.abspath(output)
    if not os.path.lexists(output):
        return
    if not os.path.isdir(output) or os.path.islink(output):
        raise OutputPathError(f"{flag}={output} is not a folder: --overwrite replaces only a SavedModel "
                              f"that cf_tf.export wrote")
    parent = output
    while parent != os.path.dirname(parent):
        if is_model_dir(parent):
            raise OutputPathError(f"{flag}={output} {'is' if parent == output else 'lies inside'} the training "
                                  f"folder {parent}: --overwrite never replaces a training folder or anything in it")
        parent = os.path.dirname(parent)
    if not os.path.isfile(os.path.join(output, EXPORT_MARKER)):
        raise OutputPathError(f"{flag}={output} exists and is not a SavedModel that cf_tf.export wrote (no "
                              f"{EXPORT_MARKER}): --overwrite replaces only those; choose another --output")
    for root, dirs, _ in os.walk(output):
        if any(is_model_dir(os.path.join(root, d)) for d in dirs):
            raise OutputPathError(f"{flag}={output} holds a training folder: --overwrite never replaces one")


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()
_FILE_MODE = 0o666 & ~_UMASK
_DIR_MODE = 0o777 & ~_UMASK


def staging_folder(parent, prefix):
    """A new hidden folder in `parent` to build an output in before renaming it into place, with the
    mode a folder made by hand gets: mkdtemp's 0700 would make every renamed output (a SavedModel for
    TF Serving under another user, a kept model) private to its writer."""
    tmp = tempfile.mkdtemp(prefix=prefix, dir=parent)
    os.chmod(tmp, _DIR_MODE)
    return tmp


@contextlib.contextmanager
def atomic_write(path, mode="w"):
    """Yields a file object whose contents become `path` only when the block ends without error.

    The data goes to a hidden temporary file beside `path` (unique, so two writers never share it)
    and is renamed onto `path`; on any error, a full disk included, the temporary file is removed,
    `path` is left as it was, and an OSError is raised as WriteError naming `path`.
    """
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
        os.chmod(tmp, _FILE_MODE)   # mkstemp's 0600 would make every output private to its writer
        os.replace(tmp, path)
    except OSError as e:
        raise WriteError(f"could not write {path}: {describe_os_error(e)}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)


def write_json(path, obj, **dump_args):
    """Writes obj as JSON to `path` atomically (atomic_write)."""
    with atomic_write(path) as f:
        json.dump(obj, f, **dump_args)


def write_picture(path, image, params=()):
    """Encodes a BGR uint8 picture by `path`'s extension (OpenCV) and writes it atomically; a picture
    that cannot be encoded or written raises WriteError (cv2.imwrite only returns False)."""
    ok, data = cv2.imencode(os.path.splitext(path)[1], image, list(params))
    if not ok:
        raise WriteError(f"could not encode the picture {path}")
    with atomic_write(path, "wb") as f:
        f.write(data.tobytes())


def remove_tree(path):
    """Removes a folder cf_tf made (a staging or temporary folder), ignoring one already gone."""
    shutil.rmtree(path, ignore_errors=True)


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
def _lock(path, holder, what):
    """Holds the lock file `path` (pid and host of the owner) while the block runs: `holder` names
    what it guards in the message. A lock whose process is gone on this host is stale and taken over;
    a live one, or one from another host (its process cannot be checked from here), raises
    FolderLockedError."""
    me = f"{os.getpid()} {socket.gethostname()}"
    while True:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                with open(path) as f:
                    pid, _, host = f.read().strip().partition(" ")
            except FileNotFoundError:   # its owner just released it
                continue
            if host != socket.gethostname() or (pid.isdigit() and _alive(int(pid))):
                raise FolderLockedError(f"{holder} is in use by process {pid} on {host or '?'} ({what}); "
                                        f"wait for it, use another folder, or delete {path} if that process "
                                        f"is gone") from None
            with contextlib.suppress(FileNotFoundError):
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


@contextlib.contextmanager
def folder_lock(folder, what):
    """Holds folder/.cf_tf.lock while the block runs (see _lock); a folder the block wrote nothing
    into is removed again if this call made it."""
    created = not os.path.isdir(folder)
    os.makedirs(folder, exist_ok=True)
    try:
        with _lock(os.path.join(folder, LOCK_FILE), folder, what) as path:
            yield path
    finally:
        if created and os.path.isdir(folder) and not os.listdir(folder):   # a run that wrote nothing leaves no folder
            os.rmdir(folder)


@contextlib.contextmanager
def path_lock(target, what):
    """Holds a lock on an output path that is replaced whole (a SavedModel folder): the lock file
    .NAME.cf_tf.lock lies beside it, so two writers of the same path cannot both succeed."""
    target = os.path.abspath(target)
    lock = os.path.join(os.path.dirname(target), f".{os.path.basename(target)}{LOCK_FILE}")
    with _lock(lock, target, what) as path:
        yield path
