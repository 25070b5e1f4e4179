"""Video files: ``FileSource`` plays one in a loop at its own frame rate; ``video_frames`` decodes
one as fast as possible (evaluation and benchmarks)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator

import cv2
import numpy as np

from issc.errors import SourceError
from issc.redact import redact
from issc.sources.base import FramePool


def video_frames(path: str | os.PathLike[str]) -> Iterator[np.ndarray]:
    """Every frame of a video file, decoded in order, as fast as possible (evaluation, benches).

    Raises:
        SourceError: the file cannot be opened as a video.
    """
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise SourceError(f"cannot open video file {redact(str(path))!r}: is it a video OpenCV can decode?")
    try:
        while True:
            ok, image = cap.read()
            if not ok or image is None:
                return
            yield image
    finally:
        cap.release()


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
        self._pool = FramePool()  # decoded frames reused once released (issc.sources.base)

    def open(self) -> None:
        cap = cv2.VideoCapture(self.path)
        if not cap.isOpened():
            cap.release()
            raise SourceError(
                f"cannot open video file {redact(self.path)!r}: is it a video OpenCV can decode?"
            )
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 0 < fps < 240 else 25.0
        self.frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self._cap = cap
        self._restart_clock()
        self._next_position = 0
        self._gap_left = 0

    def _decode(self) -> tuple[bool, np.ndarray | None]:
        assert self._cap is not None
        buffer = self._pool.take()
        ok, image = self._cap.read(buffer) if buffer is not None else self._cap.read()
        if ok and image is not None:
            self._pool.keep(image)
        return ok, image

    def read(self) -> np.ndarray:
        if self._cap is None:
            raise SourceError(f"{redact(self.path)!r} is not open")
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
        ok, image = self._decode()
        if not ok or image is None:
            if not self.loop:
                raise SourceError(f"{redact(self.path)!r} ended")
            self.plays += 1
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            self._next_position = 0
            self._restart_clock()
            if self.gap_s > 0 and self._gap_image is not None:
                self._gap_left = max(round(self.gap_s * self.fps), 1) - 1
                self._index += 1
                self.position = -1
                return self._gap_image
            ok, image = self._decode()
            if not ok or image is None:
                raise SourceError(f"cannot decode frames from {redact(self.path)!r}")
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
