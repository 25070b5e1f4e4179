"""OpenCV ``VideoCapture`` sources: local devices and rtsp/rtmp/udp streams, with FFmpeg timeouts."""

from __future__ import annotations

import cv2
import numpy as np

from issc.errors import SourceError
from issc.sources.base import NETWORK_TIMEOUT_S, FramePool


class CaptureSource:
    """OpenCV ``VideoCapture`` for devices and rtsp/rtmp/udp URLs, with FFmpeg timeouts.

    Args:
        target: A device index, or a URL FFmpeg can open.
        label: How errors name the camera (credentials already redacted).
    """

    def __init__(self, target: int | str, label: str) -> None:
        self.target = target
        self.label = label
        self.fps = 0.0
        self.dropped = 0
        self._cap: cv2.VideoCapture | None = None
        self._pool = FramePool()  # decoded frames reused once released (issc.sources.base)

    def open(self) -> None:
        if isinstance(self.target, int):
            cap = cv2.VideoCapture(self.target)
        else:
            timeout_ms = int(NETWORK_TIMEOUT_S * 1000)
            params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout_ms]
            cap = cv2.VideoCapture(self.target, cv2.CAP_FFMPEG, params)
        if not cap.isOpened():
            cap.release()
            raise SourceError(
                f"cannot open {self.label}: check that the camera is on and the address is right"
            )
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 0 < fps < 240 else 0.0
        self._cap = cap

    def read(self) -> np.ndarray:
        if self._cap is None:
            raise SourceError(f"{self.label} is not open")
        buffer = self._pool.take()
        ok, image = self._cap.read(buffer) if buffer is not None else self._cap.read()
        if not ok or image is None:
            raise SourceError(f"{self.label} stopped sending frames")
        self._pool.keep(image)
        return image

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
