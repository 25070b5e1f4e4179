"""Frames pushed in by another thread (the browser webcam page) and read by the capture thread."""

from __future__ import annotations

import threading

import numpy as np


class PushSource:
    """Frames pushed in by someone else (the browser webcam page), read by the capture thread.

    ``read()`` waits for the next pushed frame; while none comes the camera simply has no new
    frames (the engine reports it stale), so a closed browser tab costs no CPU.
    """

    def __init__(self, stop: threading.Event, fps: float = 0.0) -> None:
        self.fps = fps
        self.dropped = 0
        self._stop = stop
        self._cond = threading.Condition()
        self._image: np.ndarray | None = None
        self._pushed = 0
        self._taken = 0

    def push(self, image: np.ndarray) -> int:
        """Hand over a BGR picture; returns how many frames were pushed so far."""
        with self._cond:
            if self._image is not None:
                self.dropped += 1  # the capture thread had not taken the previous one yet
            self._image = image
            self._pushed += 1
            self._cond.notify_all()
            return self._pushed

    def open(self) -> None:
        pass

    def read(self) -> np.ndarray:
        with self._cond:
            while self._image is None and not self._stop.is_set():
                self._cond.wait(0.25)
            image, self._image = self._image, None
        if image is None:  # stopping
            return np.zeros((1, 1, 3), np.uint8)
        self._taken += 1
        return image

    def close(self) -> None:
        with self._cond:
            self._cond.notify_all()
