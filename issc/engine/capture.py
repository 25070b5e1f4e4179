"""Capture: one thread per camera reads its source at the source's pace and publishes every frame.

Each published frame carries the boxes it should show (``issc.overlay``: the latest analysis moved
along by optical flow, faded when stale); drawing waits for a viewer. A source that fails is closed
and opened again with a capped exponential backoff; the camera shows NO SIGNAL meanwhile.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import numpy as np

from issc.annotate import FrameAnnotator
from issc.config import CameraConfig
from issc.engine.buffer import LatestFrame, Published
from issc.engine.clips import ClipRecorder, NullClips
from issc.engine.health import Watchdog
from issc.errors import SourceError
from issc.overlay import BoxOverlay
from issc.sources import Source
from issc.types import Frame

logger = logging.getLogger(__name__)

#: Wait before the first reconnect after a camera drops (then doubling up to RECONNECT_MAX_S): a
#: camera that blinks is back within a fifth of a second; one that stays down costs a handful of
#: quick attempts before the backoff reaches seconds.
FIRST_RETRY_S = 0.1

SourceFactory = Callable[[CameraConfig, threading.Event], Source]


class Capture:
    """Reads one camera into its :class:`LatestFrame` until ``stop`` is set."""

    def __init__(
        self,
        config: CameraConfig,
        buffer: LatestFrame,
        overlay: BoxOverlay,
        watchdog: Watchdog,
        source_factory: SourceFactory,
        stop: threading.Event,
        stream_ended: threading.Event,
        reconnect_max_s: float,
        clips: ClipRecorder | NullClips | None = None,
    ) -> None:
        self._config = config
        self._clips = clips if clips is not None else NullClips()
        self._buffer = buffer
        self._overlay = overlay
        self._watchdog = watchdog
        self._source_factory = source_factory
        self._stop = stop
        self._stream_ended = stream_ended  # set when a clip loops or the source fails: tracks end
        self._reconnect_max_s = reconnect_max_s
        self.annotator = FrameAnnotator()  # its ``shapes`` are set by the analysis (counting lines, zones)
        self._draw = self.annotator.annotate
        self._frame_id = -1
        self._dropped_before = 0  # drops of earlier source instances
        self._source: Source | None = None
        self.source_fps = 0.0

    def dropped(self) -> int:
        """Frames the source dropped because the capture fell behind, over every connection."""
        source = self._source
        return self._dropped_before + (source.dropped if source is not None else 0)

    def run(self) -> None:
        """The capture loop (the thread's target)."""
        backoff = FIRST_RETRY_S
        while not self._stop.is_set():
            source: Source | None = None
            try:
                source = self._source = self._source_factory(self._config, self._stop)
                source.open()
                self.source_fps = source.fps
                self._overlay.clear(time.monotonic())  # boxes of an earlier connection are stale
                plays = getattr(source, "plays", 0)
                while not self._stop.is_set():
                    image = source.read()
                    if self._stop.is_set():
                        break
                    if (played := getattr(source, "plays", 0)) != plays:  # a clip ended, plays again
                        plays = played
                        self._stream_ended.set()
                        self._overlay.clear(time.monotonic())
                    self._publish(image)
                    backoff = FIRST_RETRY_S
            except SourceError as exc:
                self._went_offline(str(exc))
            except Exception as exc:  # a worker never dies: log, report, retry
                logger.exception("camera %s: capture failed", self._config.name)
                self._went_offline(f"capture failed: {type(exc).__name__}: {exc}")
            finally:
                if source is not None:
                    try:
                        source.close()
                    except Exception:
                        logger.exception("camera %s: closing the source failed", self._config.name)
                    self._dropped_before += source.dropped
                self._source = None
            if self._stop.is_set():
                break
            self._watchdog.on_retry(backoff)
            self._stop.wait(backoff)
            backoff = min(backoff * 2, self._reconnect_max_s)

    def _went_offline(self, message: str) -> None:
        self._watchdog.on_offline(message)
        self._stream_ended.set()

    def _publish(self, image: np.ndarray) -> None:
        now_wall, now = time.time(), time.monotonic()
        self._frame_id += 1
        frame = Frame(
            image=image,
            frame_id=self._frame_id,
            camera_id=self._config.id,
            captured_at=now_wall,
            captured_mono=now,
        )
        boxes = self._overlay.boxes_at(now, image)  # every frame shows the boxes, moved along
        published = time.monotonic()
        self._buffer.publish(
            Published(
                frame=frame,
                published_mono=published,
                boxes=boxes,
                draw=self._draw,
                shapes=bool(self.annotator.shapes),
            )
        )
        self._watchdog.on_frame(now, published, (image.shape[1], image.shape[0]))
        self._clips.offer(frame)  # returns at once: the clip thread encodes
