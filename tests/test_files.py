"""cf_tf/files.py: atomic writes on a full disk, and the refusals of output paths."""

import os

import numpy as np
import pytest

from cf_tf import files


@pytest.mark.parametrize("write", [lambda p: files.write_json(str(p), {"a": list(range(10000))}),
                                   lambda p: files.write_picture(str(p), np.zeros((64, 64, 3), np.uint8))])
def test_a_write_to_a_full_disk_keeps_the_old_file_and_leaves_nothing(tmp_path, full_disk, write):
    target = tmp_path / "out.png"
    target.write_text("the previous result")
    with pytest.raises(files.WriteError, match=f"{target}.*No space left on device"):
        write(target)
    assert os.listdir(tmp_path) == ["out.png"] and target.read_text() == "the previous result"


def test_written_files_are_as_readable_as_the_umask_allows(tmp_path):
    """The temporary file's 0600 once became every output's mode: results only their writer could read."""
    old = os.umask(0o022)
    try:
        files.write_json(str(tmp_path / "a.json"), {})
    finally:
        os.umask(old)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == files._FILE_MODE == 0o666 & ~old


def test_staging_folders_are_as_open_as_the_umask_allows(tmp_path):
    """keep and export build their folder in a mkdtemp and rename it into place: its 0700 became the
    mode of every SavedModel and kept model, which TF Serving under another user could not read."""
    folder = files.staging_folder(str(tmp_path), ".x-")
    assert os.path.dirname(folder) == str(tmp_path) and os.path.basename(folder).startswith(".x-")
    assert os.stat(folder).st_mode & 0o777 == files._DIR_MODE == 0o777 & ~files._umask()


def test_output_folder_refuses_files_and_paths_under_them(tmp_path):
    f = tmp_path / "f"
    f.write_text("x")
    for path in (f, f / "sub" / "deeper"):
        with pytest.raises(files.OutputPathError, match="is a file"):
            files.output_folder(str(path), "--output_dir")
    assert files.output_folder(str(tmp_path / "new" / "folder"), "--output_dir") == str(tmp_path / "new" / "folder")
    assert not (tmp_path / "new").exists(), "checking a path creates nothing"


def test_predict_reads_one_kind_of_file_in_folders_and_alone_and_counts_the_rest(tmp_path):
    """A folder's GIF, BMP and sub-folders were left out with no line while a single GIF was accepted,
    and a named pipe in the folder hung predict."""
    from cf_tf.prediction import image_files

    for name in ("a.jpg", "b.PNG", "c.gif", "d.bmp"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub.jpg").mkdir()
    os.mkfifo(tmp_path / "pipe.jpg")
    logs = []
    assert image_files(str(tmp_path), logs.append) == [str(tmp_path / "a.jpg"), str(tmp_path / "b.PNG")]
    assert logs == [f"{tmp_path}: 4 of its 6 entries left out: not .jpg/.jpeg/.png files (other types, "
                    f"sub-folders, pipes)"]
    for alone in ("c.gif", "pipe.jpg"):
        with pytest.raises(FileNotFoundError, match="not a .jpg/.jpeg/.png file"):
            image_files(str(tmp_path / alone))
