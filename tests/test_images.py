"""Image files as people take them (cf_tf/images.py): EXIF orientation, the annotation frame, sizes
from the header and the pixel limit."""

import struct

import cv2
import numpy as np
import pytest

from cf_tf import evaluation, images
from cf_tf.config import DataConfig
from cf_tf.data import schema
from cf_tf.data.tfrecords import ConversionError, convert_image

HEIGHT, WIDTH = 40, 64   # stored landscape; orientations 5..8 show it 64 high, 40 wide


def _jpeg(height=HEIGHT, width=WIDTH):
    y, x = np.mgrid[0:height, 0:width]
    img = np.stack([x * 4 % 256, y * 6 % 256, (x + 2 * y) % 256], -1).astype(np.uint8)
    return cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()


def with_exif(jpeg, orientation, order="<"):
    """JPEG bytes with an EXIF APP1 segment whose IFD0 holds one tag, the orientation."""
    tiff = ({"<": b"II", ">": b"MM"}[order] + struct.pack(order + "HI", 42, 8) + struct.pack(order + "H", 1)
            + struct.pack(order + "HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack(order + "I", 0))
    payload = b"Exif\0\0" + tiff
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


@pytest.mark.parametrize("order", ["<", ">"])
def test_exif_orientation_is_read_from_the_header_and_applied_as_viewers_do(order):
    """OpenCV's default decode applies EXIF orientation (as viewers do): ours must match it for all 8."""
    plain = _jpeg()
    stored = cv2.imdecode(np.frombuffer(plain, np.uint8), cv2.IMREAD_COLOR)
    for orientation in range(1, 9):
        data = with_exif(plain, orientation, order)
        assert images.exif_orientation(data) == orientation
        assert images.stored_size(data) == (HEIGHT, WIDTH)
        shown = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        assert images.oriented_size((HEIGHT, WIDTH), orientation) == shown.shape[:2]
        np.testing.assert_array_equal(images.orient(stored, orientation), shown, err_msg=f"orientation {orientation}")
    assert images.exif_orientation(plain) == 1
    png = cv2.imencode(".png", stored)[1].tobytes()
    assert images.stored_size(png) == (HEIGHT, WIDTH) and images.exif_orientation(png) == 1


def test_evaluate_and_the_converter_read_the_frame_the_annotations_describe(tmp_path):
    """COCO's annotations were drawn on stored pixels, a viewer-annotated photo's on the turned ones:
    the annotation's width x height says which, and a size neither frame has is an error naming both."""
    data = with_exif(_jpeg(), 6)
    path = tmp_path / "photo.jpg"
    path.write_bytes(data)
    stored = cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION),
                          cv2.COLOR_BGR2RGB)
    as_stored = evaluation.read_image(str(path), WIDTH, HEIGHT)
    np.testing.assert_array_equal(as_stored, stored)
    as_shown = evaluation.read_image(str(path), HEIGHT, WIDTH)
    np.testing.assert_array_equal(as_shown, np.rot90(stored, -1))
    with pytest.raises(evaluation.EvaluationError, match=r"image is 64x40, shown 40x64 by its EXIF orientation, "
                                                         r"but the annotations say 50x50"):
        evaluation.read_image(str(path), 50, 50)
    # the converter: what training decodes from the record is the annotated frame's pixels
    for width, height, expected in ((WIDTH, HEIGHT, stored), (HEIGHT, WIDTH, np.rot90(stored, -1))):
        info = {"id": 1, "file_name": "photo.jpg", "width": width, "height": height}
        example, _ = convert_image((info, [], str(tmp_path)))
        decoded = schema.parse_example(example)["image"].numpy()
        assert decoded.shape == expected.shape   # and the same pixels, up to two JPEG decoders' rounding
        assert np.abs(decoded.astype(int) - expected.astype(int)).mean() < 2
    with pytest.raises(ConversionError, match="shown 40x64 by its EXIF orientation.*image id 1"):
        convert_image(({"id": 1, "file_name": "photo.jpg", "width": 50, "height": 50}, [], str(tmp_path)))


def test_the_pixel_limit_is_checked_from_the_header_before_decoding(tmp_path):
    """A PNG header claiming 100000 x 100000 pixels, with no pixel data: refused by its size (decoding
    would fail differently, after trying to allocate 30 GB), in one line naming the flag."""
    ihdr = struct.pack(">II", 100_000, 100_000) + b"\x08\x02\x00\x00\x00"
    huge = images.PNG_SIGNATURE + struct.pack(">I", 13) + b"IHDR" + ihdr + b"\0\0\0\0"
    assert images.stored_size(huge) == (100_000, 100_000)
    with pytest.raises(images.ImageTooLarge, match=r"big\.png: 100000x100000 pixels is more than "
                                                   r"--max_pixels=50000000 \(about 30\.0 GB decoded\)"):
        images.check_pixels(huge, "big.png", 50_000_000)
    path = tmp_path / "small.jpg"
    path.write_bytes(_jpeg())
    with pytest.raises(evaluation.EvaluationError, match="64x40 pixels is more than --max_pixels=1000"):
        evaluation.read_image(str(path), WIDTH, HEIGHT, max_pixels=1000)
    # the oracle, --perfect_heads and the head report build targets through the converter: the same limit
    info = {"id": 1, "file_name": "small.jpg", "width": WIDTH, "height": HEIGHT}
    with pytest.raises(ConversionError, match="64x40 pixels is more than --max_pixels=1000"):
        evaluation.features_with_targets(info, [], str(tmp_path), DataConfig(), max_pixels=1000)
    assert images.check_pixels(_jpeg(), "small.jpg", HEIGHT * WIDTH) == (HEIGHT, WIDTH)
