"""Cutting plate crops from a frame and judging them: padding around a box, sharpness.

Shared by the per-track voter (which reads only crops worth reading) and the still-image reader.
"""

from __future__ import annotations

import cv2
import numpy as np


def sharpness(image: np.ndarray) -> float:
    """Variance of the Laplacian of the grey image: higher is sharper."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def pad_box(
    xyxy: np.ndarray | tuple[float, ...], shape: tuple[int, ...], pad_x: float, pad_y: float
) -> tuple[int, int, int, int]:
    """Grow a box by fractions of its size and clamp it to an image of ``shape``."""
    x0, y0, x1, y1 = (float(v) for v in xyxy)
    gx, gy = pad_x * (x1 - x0), pad_y * (y1 - y0)
    h, w = shape[:2]
    return (
        int(max(0, np.floor(x0 - gx))),
        int(max(0, np.floor(y0 - gy))),
        int(min(w, np.ceil(x1 + gx))),
        int(min(h, np.ceil(y1 + gy))),
    )
