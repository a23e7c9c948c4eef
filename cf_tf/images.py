"""Image files as people take them: their size from the header, EXIF orientation, a pixel limit.

A phone stores a portrait photo as landscape pixels plus an EXIF orientation tag that every viewer
applies. predict works in the frame a viewer shows (`viewer_frame`); evaluate and the converter work
in the frame the annotation file describes (`annotation_frame`): COCO's annotations were drawn on the
stored pixels, annotations made in a viewer on the oriented ones, and the image's width x height in
the file says which. The size is read from the header before anything is decoded, so an image too
large to decode (a 140 KB PNG can hold 12000 x 12000 pixels, 430 MB decoded) is refused by
`check_pixels` at no cost.
"""

import struct

import cv2
import numpy as np

# JPEG start-of-frame markers (baseline, progressive, lossless, arithmetic), which hold the size.
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_ORIENTATION_TAG = 0x0112
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class ImageTooLarge(ValueError):
    """An image with more pixels than the limit; the message names its size and the flag."""


def _jpeg_segments(data):
    """(marker, payload) of each JPEG header segment, up to the start of the scan."""
    i = 2
    while i + 4 <= len(data) and data[i] == 0xFF:
        marker = data[i + 1]
        if marker == 0xFF:       # fill byte
            i += 1
            continue
        if marker == 0xD8 or 0xD0 <= marker <= 0xD7:   # no length field
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2:i + 4])
        yield marker, data[i + 4:i + 2 + length]
        if marker == 0xDA:
            return
        i += 2 + length


def stored_size(data):
    """(height, width) of the stored pixels of JPEG or PNG bytes, from the header; None if unknown."""
    if data[:8] == PNG_SIGNATURE and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return height, width
    if data[:2] == b"\xff\xd8":
        for marker, payload in _jpeg_segments(data):
            if marker in _SOF and len(payload) >= 5:
                height, width = struct.unpack(">HH", payload[1:5])
                return height, width
    return None


def exif_orientation(data):
    """The EXIF orientation (1..8; 1 = as stored) of JPEG bytes; 1 where there is none."""
    if data[:2] != b"\xff\xd8":
        return 1
    for marker, payload in _jpeg_segments(data):
        if marker != 0xE1 or not payload.startswith(b"Exif\0\0"):
            continue
        tiff = payload[6:]
        order = {b"II": "<", b"MM": ">"}.get(tiff[:2])
        if order is None or len(tiff) < 8:
            return 1
        (ifd,) = struct.unpack(order + "I", tiff[4:8])
        if ifd + 2 > len(tiff):
            return 1
        (count,) = struct.unpack(order + "H", tiff[ifd:ifd + 2])
        for k in range(count):
            entry = tiff[ifd + 2 + 12 * k:ifd + 14 + 12 * k]
            if len(entry) < 12:
                break
            tag, _, _, value = struct.unpack(order + "HHI4s", entry)
            if tag == _ORIENTATION_TAG:
                (orientation,) = struct.unpack(order + "H", value[:2])
                return orientation if 1 <= orientation <= 8 else 1
        return 1
    return 1


def orient(image, orientation):
    """The pixels [H, W, C] as a viewer shows them under EXIF `orientation` (the TIFF/EXIF table)."""
    turned = np.swapaxes(image, 0, 1) if orientation >= 5 else image   # 5..8 swap the axes
    flips = {1: (), 2: (1,), 3: (0, 1), 4: (0,), 5: (), 6: (1,), 7: (0, 1), 8: (0,)}[orientation]
    return np.flip(turned, flips) if flips else turned


def oriented_size(size, orientation):
    height, width = size
    return (width, height) if orientation >= 5 else (height, width)


def check_pixels(data, path, max_pixels):
    """The stored (height, width) of an image file's bytes; ImageTooLarge above max_pixels pixels."""
    size = stored_size(data)
    if size is not None and size[0] * size[1] > max_pixels:
        raise ImageTooLarge(f"{path}: {size[1]}x{size[0]} pixels is more than --max_pixels={max_pixels} "
                            f"(about {3 * size[0] * size[1] / 1e9:.1f} GB decoded); raise --max_pixels to read it")
    return size


def viewer_frame(image, data):
    """(image as a viewer shows it, the EXIF orientation applied) for decoded pixels of `data`."""
    orientation = exif_orientation(data)
    return orient(image, orientation), orientation


def annotation_frame(data, width, height):
    """The EXIF orientation to apply to an image's stored pixels so that they are width x height (the
    annotation file's size): 1 when the stored frame matches (COCO's case), the EXIF orientation when
    only the oriented frame does; None when neither does."""
    stored = stored_size(data)
    if stored is None or stored == (height, width):
        return 1
    orientation = exif_orientation(data)
    return orientation if oriented_size(stored, orientation) == (height, width) else None


def decode_in_annotation_frame(data, path, width, height):
    """(uint8 RGB [height, width, 3] of JPEG or PNG bytes in the frame the annotations describe, the
    EXIF orientation applied to the stored pixels: `annotation_frame`); ValueError naming the file
    and both sizes where neither frame fits."""
    stored = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION) \
        if data[:2] == b"\xff\xd8" or data[:8] == PNG_SIGNATURE else None
    if stored is None:
        raise ValueError(f"{path}: unreadable or corrupt image (JPEG or PNG expected)")
    orientation = annotation_frame(data, width, height)
    if orientation is None:
        turned = oriented_size(stored.shape[:2], exif_orientation(data))
        shown = f", shown {turned[1]}x{turned[0]} by its EXIF orientation" if turned != stored.shape[:2] else ""
        raise ValueError(f"{path}: image is {stored.shape[1]}x{stored.shape[0]}{shown}, but the annotations say "
                         f"{width}x{height}")
    return cv2.cvtColor(orient(stored, orientation), cv2.COLOR_BGR2RGB), orientation
