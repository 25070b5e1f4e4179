"""Uploaded pictures: decode safely, refuse what cannot be used with a sentence for the user."""

from __future__ import annotations

import io

import cv2
import numpy as np
import PIL.Image

MAX_UPLOAD_MB = 20
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 1024 * 1024
MAX_UPLOAD_PIXELS = 40_000_000
UPLOAD_TYPES = ("png", "jpg", "jpeg", "webp", "bmp")
_PIL_FORMATS = ("PNG", "JPEG", "MPO", "WEBP", "BMP", "DIB")  # MPO: JPEG with a preview, from phones


class UploadRejected(ValueError):
    """An uploaded file that cannot be used as a picture; the message says why and what to do."""


def decode_upload(data: bytes) -> np.ndarray:
    """Decode an uploaded picture to BGR, refusing empty, oversized, huge or non-image files.

    The format and pixel count are read from the header first (PIL), so a small file that would
    decode to a huge picture (a "decompression bomb") is refused before it takes memory, and a file
    whose header PIL cannot identify reaches no decoder at all.

    Raises:
        UploadRejected: with one sentence for the user.
    """
    if not data:
        raise UploadRejected("The file is empty. Choose a PNG, JPEG, WebP or BMP picture.")
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadRejected(
            f"The file is {len(data) / 1024 / 1024:.1f} MB; pictures up to {MAX_UPLOAD_MB} MB are accepted. "
            "Resize or re-compress it (JPEG) and upload it again."
        )
    try:
        with PIL.Image.open(io.BytesIO(data)) as header:  # reads the header only
            width, height = header.size
            kind = header.format or ""
    except PIL.Image.DecompressionBombError:
        raise UploadRejected(
            f"The picture is far larger than {MAX_UPLOAD_PIXELS / 1e6:.0f} megapixels (a decompression "
            "bomb?). Scale it down and upload it again."
        ) from None
    except Exception:  # PIL cannot identify it: no decoder gets it before its size is known
        raise UploadRejected(
            "This file is not a picture that can be read (damaged, or another format with an image "
            "extension). Upload a PNG, JPEG, WebP or BMP picture."
        ) from None
    if kind not in _PIL_FORMATS:
        raise UploadRejected(
            f"This file is a {kind or 'unknown'} picture; upload a PNG, JPEG, WebP or BMP picture."
        )
    if width * height > MAX_UPLOAD_PIXELS:
        raise UploadRejected(
            f"The picture is {width}×{height} ({width * height / 1e6:.0f} megapixels); at most "
            f"{MAX_UPLOAD_PIXELS / 1e6:.0f} megapixels are accepted. Scale it down and upload it again."
        )
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise UploadRejected(
            "This file is not a picture that can be read (damaged, or another format with an image "
            "extension). Upload a PNG, JPEG, WebP or BMP picture."
        )
    if image.shape[0] * image.shape[1] > MAX_UPLOAD_PIXELS:
        raise UploadRejected(
            f"The picture has {image.shape[1]}×{image.shape[0]} pixels; at most "
            f"{MAX_UPLOAD_PIXELS / 1e6:.0f} megapixels are accepted. Scale it down and upload it again."
        )
    return image


PREVIEW_MAX_SIDE = 1920


def fit_within(image: np.ndarray, max_side: int = PREVIEW_MAX_SIDE) -> np.ndarray:
    """``image`` scaled down (never up) so that its longer side is at most ``max_side`` pixels."""
    h, w = image.shape[:2]
    scale = max_side / max(h, w)
    if scale >= 1:
        return image
    return cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
