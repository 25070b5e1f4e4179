"""JPEG encoding, one way for the live stream, the NO SIGNAL picture and stored evidence."""

from __future__ import annotations

import cv2
import numpy as np


def encode_jpeg(image: np.ndarray, quality: int = 80) -> bytes:
    """``image`` (BGR) as JPEG bytes at ``quality`` (0-100).

    Raises:
        ValueError: OpenCV could not encode it.
    """
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"cannot encode an image of shape {image.shape} as JPEG")
    return buf.tobytes()
