"""Synthetic pictures for overlay and engine tests: a textured plate moving on a plain background."""

from __future__ import annotations

import threading
import time

import numpy as np


class MovingPatch:
    """A 80x20 textured patch whose left edge is at ``x0 + speed * (t - t0)`` (``t`` monotonic)."""

    def __init__(self, x0: float = 100.0, y: int = 150, speed: float = 100.0, size=(640, 360)) -> None:
        self.x0, self.y, self.speed = x0, y, speed
        self.width, self.height = size
        self.t0 = 0.0
        self.texture = np.random.default_rng(7).integers(0, 255, (20, 80, 3), dtype=np.uint8)

    def x_at(self, t: float) -> float:
        return self.x0 + self.speed * (t - self.t0)

    def box_at(self, t: float) -> list[float]:
        x = self.x_at(t)
        return [x, self.y, x + 80, self.y + 20]

    def render(self, t: float) -> np.ndarray:
        image = np.full((self.height, self.width, 3), 90, np.uint8)
        x = round(self.x_at(t))
        lo, hi = max(x, 0), min(x + 80, self.width)
        if hi > lo:
            image[self.y : self.y + 20, lo:hi] = self.texture[:, lo - x : hi - x]
        return image


class PatchSource:
    """A ``Source`` playing a ``MovingPatch`` at 30 fps; ``open`` sets the patch's ``t0``."""

    def __init__(self, scene: MovingPatch, stop: threading.Event, fps: float = 30.0) -> None:
        self.scene = scene
        self.fps = fps
        self.dropped = 0
        self._stop = stop
        self._next = 0.0

    def open(self) -> None:
        self.scene.t0 = self._next = time.monotonic()

    def read(self) -> np.ndarray:
        delay = self._next - time.monotonic()
        if delay > 0:
            self._stop.wait(delay)
        self._next += 1.0 / self.fps
        return self.scene.render(time.monotonic())

    def close(self) -> None:
        pass
