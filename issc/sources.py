"""Camera sources: device, video file, network URL, and the generated demo scene.

One verb: ``source.read() -> np.ndarray`` returns the next BGR picture, blocking at most until it
is due (files are paced at their own fps) and raising ``SourceError`` when the source fails. The
capture worker in ``issc.engine`` owns reconnecting and health; sources only open, read and close.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Iterator
from typing import Protocol

import cv2
import numpy as np
import requests

from issc.config import CameraConfig, redact_url
from issc.errors import SourceError

logger = logging.getLogger(__name__)

NETWORK_TIMEOUT_S = 5.0


class Source(Protocol):
    """A stream of pictures. Not thread-safe: one capture thread owns it."""

    fps: float
    dropped: int  # frames skipped to stay real-time

    def open(self) -> None: ...

    def read(self) -> np.ndarray: ...

    def close(self) -> None: ...


def video_frames(path: str | os.PathLike[str]) -> Iterator[np.ndarray]:
    """Every frame of a video file, decoded in order, as fast as possible (evaluation, benches).

    Raises:
        SourceError: the file cannot be opened as a video.
    """
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise SourceError(f"cannot open video file {str(path)!r}: is it a video OpenCV can decode?")
    try:
        while True:
            ok, image = cap.read()
            if not ok or image is None:
                return
            yield image
    finally:
        cap.release()


def make_source(camera: CameraConfig, stop: threading.Event) -> Source:
    """Build the right source for a configured camera. ``stop`` interrupts pacing waits."""
    if camera.kind == "demo":
        return DemoSource(stop=stop)
    if camera.kind == "file":
        return FileSource(camera.source, stop=stop)
    if camera.kind == "device":
        return CaptureSource(int(camera.source), label=f"device {camera.source}")
    if camera.source.lower().startswith(("http://", "https://")):
        return HttpSource(camera.source, stop=stop)
    return CaptureSource(camera.source, label=redact_url(camera.source))


class CaptureSource:
    """OpenCV ``VideoCapture`` for devices and rtsp/rtmp/udp URLs, with FFmpeg timeouts."""

    def __init__(self, target: int | str, label: str) -> None:
        self.target = target
        self.label = label
        self.fps = 0.0
        self.dropped = 0
        self._cap: cv2.VideoCapture | None = None

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
        ok, image = self._cap.read()
        if not ok or image is None:
            raise SourceError(f"{self.label} stopped sending frames")
        return image

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class FileSource:
    """A video file played in a loop at its own frame rate (not decoded as fast as possible).

    When decoding falls behind the file's clock, late frames are grabbed without decoding and
    counted in ``dropped``, so the picture stays real-time.

    Args:
        path: The video file.
        stop: Interrupts pacing waits.
        loop: Start again at the end (else ``read`` raises ``SourceError`` there).
        gap_s: Seconds of a plain grey picture played between two loops, so that each play is a
            separate pass of what the clip shows (benchmarks); 0 for none.

    Attributes:
        position: Index in the file of the picture ``read`` returned last; -1 for a gap picture.
        plays: Plays of the file finished so far.
    """

    GAP_GREY = 128

    def __init__(self, path: str, stop: threading.Event, loop: bool = True, gap_s: float = 0.0) -> None:
        if gap_s < 0:
            raise ValueError(f"gap_s must be 0 or more seconds, got {gap_s}")
        self.path = path
        self.loop = loop
        self.gap_s = gap_s
        self.fps = 0.0
        self.dropped = 0
        self.frames = 0
        self.position = -1
        self.plays = 0
        self._stop = stop
        self._cap: cv2.VideoCapture | None = None
        self._t0 = 0.0
        self._index = 0  # pictures delivered (or skipped) since _t0
        self._next_position = 0  # index in the file of the next frame to decode
        self._gap_left = 0  # grey pictures still to play before the file starts again
        self._gap_image: np.ndarray | None = None

    def open(self) -> None:
        cap = cv2.VideoCapture(self.path)
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"cannot open video file {self.path!r}: is it a video OpenCV can decode?")
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 0 < fps < 240 else 25.0
        self.frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self._cap = cap
        self._restart_clock()
        self._next_position = 0
        self._gap_left = 0

    def read(self) -> np.ndarray:
        if self._cap is None:
            raise SourceError(f"{self.path!r} is not open")
        behind = self._wait_until_due()
        if self._gap_left > 0 and self._gap_image is not None:
            skipped = min(behind, self._gap_left - 1)
            self._index += skipped + 1
            self.dropped += skipped
            self._gap_left -= skipped + 1
            self.position = -1
            return self._gap_image
        # Behind the file's clock by whole frames: skip them without decoding.
        for _ in range(behind):
            if not self._cap.grab():
                break
            self._index += 1
            self._next_position += 1
            self.dropped += 1
        ok, image = self._cap.read()
        if not ok or image is None:
            if not self.loop:
                raise SourceError(f"{self.path!r} ended")
            self.plays += 1
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            self._next_position = 0
            self._restart_clock()
            if self.gap_s > 0 and self._gap_image is not None:
                self._gap_left = max(round(self.gap_s * self.fps), 1) - 1
                self._index += 1
                self.position = -1
                return self._gap_image
            ok, image = self._cap.read()
            if not ok or image is None:
                raise SourceError(f"cannot decode frames from {self.path!r}")
        self._index += 1
        self.position = self._next_position
        self._next_position += 1
        if self.gap_s > 0 and (self._gap_image is None or self._gap_image.shape != image.shape):
            self._gap_image = np.full(image.shape, self.GAP_GREY, np.uint8)
            self._gap_image.flags.writeable = False
        return image

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def _restart_clock(self) -> None:
        self._t0 = time.monotonic()
        self._index = 0

    def _wait_until_due(self) -> int:
        """Wait until the next picture is due; returns how many whole pictures it is late."""
        period = 1.0 / self.fps
        delay = self._t0 + self._index * period - time.monotonic()
        if delay > 0:
            self._stop.wait(delay)
            return 0
        return int(-delay / period)


class HttpSource:
    """An http(s) camera: MJPEG (``multipart/x-mixed-replace``) parsed here, anything else via FFmpeg.

    The MJPEG parser finds JPEG start/end markers, so it works whatever the boundary is called,
    and uses short connect/read timeouts so a dead camera is noticed within seconds.
    """

    CHUNK = 64 * 1024
    MAX_BUFFER = 16 * 1024 * 1024

    def __init__(self, url: str, stop: threading.Event) -> None:
        self.url = url
        self.label = redact_url(url)
        self.fps = 0.0
        self.dropped = 0
        self._stop = stop
        self._response: requests.Response | None = None
        self._chunks = None
        self._buffer = bytearray()
        self._fallback: CaptureSource | None = None

    def open(self) -> None:
        try:
            response = requests.get(self.url, stream=True, timeout=(3.0, NETWORK_TIMEOUT_S))
        except requests.RequestException as exc:
            raise SourceError(f"cannot connect to {self.label}: {type(exc).__name__}") from None
        if response.status_code in (401, 403):
            response.close()
            raise SourceError(
                f"{self.label} refused access (HTTP {response.status_code}): check the credentials"
            )
        if response.status_code >= 400:
            response.close()
            raise SourceError(f"{self.label} answered HTTP {response.status_code}")
        content_type = response.headers.get("Content-Type", "")
        if content_type.startswith("image/jpeg"):
            # A snapshot URL: poll it.
            self._response = response
            self._chunks = None
            return
        if not content_type.startswith("multipart/"):
            response.close()
            self._fallback = CaptureSource(self.url, label=self.label)
            self._fallback.open()
            self.fps = self._fallback.fps
            return
        self._response = response
        self._chunks = response.iter_content(chunk_size=self.CHUNK)
        self._buffer.clear()

    def read(self) -> np.ndarray:
        if self._fallback is not None:
            return self._fallback.read()
        if self._response is None:
            raise SourceError(f"{self.label} is not open")
        if self._chunks is None:
            return self._read_snapshot()
        while True:
            start = self._buffer.find(b"\xff\xd8")
            if start >= 0:
                end = self._buffer.find(b"\xff\xd9", start + 2)
                if end >= 0:
                    jpeg = bytes(self._buffer[start : end + 2])
                    del self._buffer[: end + 2]
                    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
                    if image is not None:
                        return image
                    continue
            try:
                chunk = next(self._chunks)
            except StopIteration:
                raise SourceError(f"{self.label} closed the stream") from None
            except (requests.RequestException, OSError) as exc:
                raise SourceError(f"{self.label} stopped sending frames ({type(exc).__name__})") from None
            self._buffer += chunk
            if len(self._buffer) > self.MAX_BUFFER:
                self._buffer.clear()
                raise SourceError(f"{self.label} sends data that is not MJPEG")

    def _read_snapshot(self) -> np.ndarray:
        assert self._response is not None
        try:
            body = self._response.content
            self._response.close()
            image = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
            if image is None:
                raise SourceError(f"{self.label} sent an image that cannot be decoded")
            self._stop.wait(0.2)
            self._response = requests.get(self.url, stream=True, timeout=(3.0, NETWORK_TIMEOUT_S))
            return image
        except requests.RequestException as exc:
            raise SourceError(f"{self.label} stopped answering ({type(exc).__name__})") from None

    def close(self) -> None:
        if self._fallback is not None:
            self._fallback.close()
            self._fallback = None
        if self._response is not None:
            self._response.close()
            self._response = None
        self._chunks = None


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
