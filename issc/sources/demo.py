"""The generated demo scene: a car with a readable plate and a walking person, drawn in code."""

from __future__ import annotations

import math
import threading
import time

import cv2
import numpy as np

DEMO_PLATE = "ISSC42"


class DemoSource:
    """A generated street scene: a car with a readable plate drives past, a person walks by.

    Everything is drawn by this class, so the demo needs no media files and no network. The
    picture is labelled "Demo: generated scene" so nobody mistakes it for a real camera.
    """

    def __init__(self, stop: threading.Event, width: int = 640, height: int = 360, fps: float = 15.0) -> None:
        self.width = width
        self.height = height
        self.fps = fps
        self.dropped = 0
        self._stop = stop
        self._background = self._draw_background()
        self._t0 = 0.0
        self._index = 0

    def open(self) -> None:
        self._t0 = time.monotonic()
        self._index = 0

    def read(self) -> np.ndarray:
        due = self._t0 + self._index / self.fps
        delay = due - time.monotonic()
        if delay > 0:
            self._stop.wait(delay)
        t = self._index / self.fps
        self._index += 1
        return self.render(t)

    def close(self) -> None:
        pass

    def _draw_background(self) -> np.ndarray:
        w, h = self.width, self.height
        img = np.zeros((h, w, 3), np.uint8)
        sky = np.linspace(235, 170, h // 2, dtype=np.uint8)
        img[: h // 2] = np.stack([sky, sky - 20, sky - 60], axis=1)[:, None, :].clip(0, 255)
        img[h // 2 :] = (70, 72, 75)  # asphalt
        cv2.rectangle(img, (0, h // 2 - 6), (w, h // 2 + 4), (150, 150, 150), -1)  # kerb
        for x in range(0, w, 80):
            cv2.rectangle(img, (x, int(h * 0.78)), (x + 40, int(h * 0.78) + 6), (230, 230, 230), -1)
        for i, x in enumerate(range(20, w, 150)):
            top = h // 2 - 90 - 25 * (i % 3)
            cv2.rectangle(img, (x, top), (x + 110, h // 2 - 6), (120 + 20 * (i % 3), 110, 100), -1)
            for wy in range(top + 12, h // 2 - 20, 24):
                for wx in range(x + 10, x + 100, 26):
                    cv2.rectangle(img, (wx, wy), (wx + 14, wy + 12), (200, 220, 235), -1)
        return img

    def render(self, t: float) -> np.ndarray:
        """Draw the scene at ``t`` seconds (deterministic: the same t gives the same picture)."""
        img = self._background.copy()
        w, h = self.width, self.height
        # A car crossing from left to right every 8 seconds, seen from behind at an angle.
        period = 8.0
        phase = (t % period) / period
        car_w, car_h = 230, 110
        x = int(-car_w + phase * (w + car_w))
        y = int(h * 0.55)
        body = (40, 60, 170)
        cv2.rectangle(img, (x, y + 30), (x + car_w, y + car_h - 15), body, -1)
        cv2.rectangle(img, (x + 35, y), (x + car_w - 35, y + 35), body, -1)
        cv2.rectangle(img, (x + 45, y + 6), (x + car_w - 45, y + 30), (60, 50, 40), -1)
        for wx in (x + 40, x + car_w - 40):
            cv2.circle(img, (wx, y + car_h - 15), 17, (20, 20, 20), -1)
        cv2.rectangle(img, (x + 8, y + 42), (x + 30, y + 55), (0, 0, 220), -1)
        cv2.rectangle(img, (x + car_w - 30, y + 42), (x + car_w - 8, y + 55), (0, 0, 220), -1)
        # The plate: white with black characters, large enough to read.
        pw, ph = 124, 34
        px, py = x + (car_w - pw) // 2, y + 58
        cv2.rectangle(img, (px, py), (px + pw, py + ph), (245, 245, 245), -1)
        cv2.rectangle(img, (px, py), (px + pw, py + ph), (20, 20, 20), 2)
        (tw, th), _ = cv2.getTextSize(DEMO_PLATE, cv2.FONT_HERSHEY_SIMPLEX, 0.85, 2)
        cv2.putText(
            img,
            DEMO_PLATE,
            (px + (pw - tw) // 2, py + (ph + th) // 2),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.85,
            (15, 15, 15),
            2,
            cv2.LINE_AA,
        )
        # A person walking right to left on the pavement.
        px = int(w - ((t * 45) % (w + 60)))
        py = h // 2 - 10
        swing = int(10 * math.sin(t * 6))
        cv2.circle(img, (px, py - 70), 10, (150, 180, 220), -1)
        cv2.line(img, (px, py - 60), (px, py - 25), (60, 90, 30), 9)
        cv2.line(img, (px, py - 25), (px - swing, py), (50, 50, 60), 6)
        cv2.line(img, (px, py - 25), (px + swing, py), (50, 50, 60), 6)
        cv2.line(img, (px, py - 55), (px + swing, py - 35), (60, 90, 30), 5)
        # Label and clock.
        cv2.rectangle(img, (0, 0), (w, 26), (0, 0, 0), -1)
        cv2.putText(
            img,
            "Demo: generated scene, not a real camera",
            (8, 18),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.5,
            (0, 215, 255),
            1,
            cv2.LINE_AA,
        )
        cv2.putText(
            img, f"t={t:7.1f}s", (w - 110, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA
        )
        return img
