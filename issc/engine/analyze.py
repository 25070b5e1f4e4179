"""Analysis: one thread per camera runs its ``Analyzer`` on the freshest frame, when it is free.

It skips static scenes (motion gating), runs at most ``DETECT_FPS`` times a second and at most
``DETECT_WORKERS`` cameras at once, and applies the detector error policy: a rejected key stops
detection until :meth:`AnalysisWorker.unblock` (an admin's "Retry detector") or a re-probe every
``REPROBE_S`` succeeds, an unreachable detector backs off (as long as its ``Retry-After`` asks, when
it says), a bad response skips the frame. Plate events and people counts go to the sink; open
plate tracks are finished when the stream ends, the scene turns static, or the camera stops. A slow
or failing analyzer lowers the detection rate, never the live frame rate.

Provisional events of passes still in view (``Analysis.provisional``) go to the sink's
``save_provisional`` only, so that a crash loses no pass that has ended, while alerts and listeners
see each pass once, when it ends.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import supervision as sv

from issc.analysis import Analysis, Analyzer, PeopleMinutes
from issc.analytics import PeopleCounter, Shape
from issc.analytics.vehicles import PlateDirections
from issc.config import CameraConfig
from issc.detections import PERSON, PLATE
from issc.engine.buffer import LatestFrame
from issc.engine.health import Watchdog
from issc.errors import DetectorAuthError, DetectorResponseError, DetectorUnavailableError
from issc.motion import MotionGate
from issc.overlay import BoxOverlay
from issc.redact import redact
from issc.sink import EventSink
from issc.types import Frame, PlateEvent

logger = logging.getLogger(__name__)

#: A scene static for this long finishes the open plate tracks.
STATIC_FLUSH_S = 2.0
#: While the detector rejects the key, one call is tried this often (the key or plan may be fixed).
REPROBE_S = 300.0
#: The longest wait between calls to an unavailable detector (our own backoff, not Retry-After).
BACKOFF_MAX_S = 60.0


class AnalysisWorker:
    """Analyses one camera's frames until ``stop`` is set."""

    def __init__(
        self,
        config: CameraConfig,
        analyzer: Analyzer,
        buffer: LatestFrame,
        overlay: BoxOverlay,
        sink: EventSink,
        on_event: Callable[[PlateEvent], None],
        watchdog: Watchdog,
        detect_slots: threading.Semaphore,
        stop: threading.Event,
        stream_ended: threading.Event,
        detect_fps: float,
        motion_gating: bool,
    ) -> None:
        self.config = config
        self.analyzer = analyzer
        self._buffer = buffer
        self._overlay = overlay
        self._sink = sink
        self._on_event = on_event
        self._watchdog = watchdog
        self._detect_slots = detect_slots
        self._stop = stop
        self._stream_ended = stream_ended
        self._interval_s = 1.0 / detect_fps
        self._motion_gating = motion_gating
        self._motion = MotionGate(analyzer.tuning.motion_threshold)
        self._people = PeopleMinutes(config.name)
        self.counter = PeopleCounter(config.name)
        self._directions = PlateDirections(config.name)
        self._new_shapes: tuple[Shape, ...] | None = None  # set by set_shapes, taken by the analysis thread
        self.blocked_by: str | None = None  # set when the detector rejected the key
        self.reprobe_s = REPROBE_S
        self._blocked_at = 0.0
        self._retry = threading.Event()  # set by unblock(): ends a block or a backoff wait now
        self.latest: tuple[int, sv.Detections] | None = None  # (frame id, detections) of the last analysis
        self.people_in_view: int | None = None  # people in the last frame searched for them (/metrics)
        self.plate_events = 0  # plate events handed to the sink since the start (/metrics)

    def run(self) -> None:
        """The analysis loop (the thread's target)."""
        last_id = -1
        next_due = 0.0
        backoff = 1.0
        static_since: float | None = None
        while not self._stop.is_set():
            if self._stream_ended.is_set():
                self._stream_ended.clear()
                self.flush_tracks()
                self._flush_counter()  # a clip that loops or a source that failed: people are gone
            item = self._buffer.wait_newer(last_id, timeout=0.5)
            if item is None:
                continue
            now = time.monotonic()
            if now < next_due:
                if self._stop.wait(next_due - now):
                    break
                item = self._buffer.latest() or item
            skipped = max(item.frame.frame_id - last_id - 1, 0) if last_id >= 0 else 0
            last_id = item.frame.frame_id
            next_due = time.monotonic() + self._interval_s
            if self.blocked_by is not None and time.monotonic() - self._blocked_at < self.reprobe_s:
                self._watchdog.on_detector(self.blocked_by)
                continue
            self._motion.threshold = self.analyzer.tuning.motion_threshold
            if self._motion_gating and not self._motion.moving(item.frame.image):
                self._watchdog.on_detector("idle: no motion", motion_idle=True)
                self._still(item.frame.captured_at)
                static_since = static_since or now
                if now - static_since > STATIC_FLUSH_S:
                    self.flush_tracks()
                    static_since = float("inf")  # flushed once for this static spell
                continue
            static_since = None
            try:
                with self._detect_slots:
                    if self._stop.is_set():
                        break
                    started = time.perf_counter()
                    result = self.analyzer.analyze(item.frame)
                    duration_ms = (time.perf_counter() - started) * 1000.0
            except DetectorAuthError as exc:
                minutes = self.reprobe_s / 60
                self.blocked_by = (
                    f"stopped: {_said(exc)} (tried again every {minutes:g} min, or use Retry detector)"
                )
                self._blocked_at = time.monotonic()
                self._retry.clear()
                self._watchdog.on_detector(self.blocked_by)
                logger.error("camera %s: %s", self.config.name, exc)
                continue
            except DetectorUnavailableError as exc:
                asked = exc.retry_after_s
                wait = asked if asked is not None else backoff
                why = "as the server asked" if asked is not None else "backoff"
                self._watchdog.on_detector(f"backing off {wait:.0f} s ({why}): {_said(exc)}")
                logger.warning("camera %s: detector unavailable: %s", self.config.name, exc)
                if self._pause(wait):
                    break
                if asked is None:
                    backoff = min(backoff * 2, BACKOFF_MAX_S)
                continue
            except DetectorResponseError as exc:
                self._watchdog.on_detector(f"bad detector response: {_said(exc)}")
                logger.warning("camera %s: %s", self.config.name, exc)
                continue
            except Exception as exc:
                logger.exception("camera %s: analysis failed", self.config.name)
                self._watchdog.on_detector(f"analysis failed: {type(exc).__name__}: {_said(exc)}")
                continue
            backoff = 1.0
            if self.blocked_by is not None:
                logger.info("camera %s: the detector answers again", self.config.name)
                self.blocked_by = None
            self._watchdog.on_analysis(skipped, duration_ms, result.ocr_calls)
            self._take(result, item.frame)

    def unblock(self) -> bool:
        """Try the detector again with the next frame: lifts a rejected-key block, ends a backoff.

        Returns:
            Whether detection was blocked by a rejected key.
        """
        was_blocked = self.blocked_by is not None
        self._blocked_at = -self.reprobe_s  # the next frame is a probe
        self._retry.set()
        return was_blocked

    def _pause(self, seconds: float) -> bool:
        """Wait ``seconds`` unless :meth:`unblock` is called; True when the camera is stopping."""
        self._retry.clear()
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if self._stop.wait(min(left, 0.25)):
                return True
            if self._retry.is_set():
                break
        return self._stop.is_set()

    def set_shapes(self, shapes: tuple[Shape, ...]) -> None:
        """Count with these lines and zones from the next analysed frame on (any thread)."""
        self._new_shapes = tuple(shapes)

    def _take(self, result: Analysis, frame: Frame) -> None:
        self.latest = (frame.frame_id, result.detections)
        shapes, self._new_shapes = self._new_shapes, None
        if shapes is not None:
            self.counter.set_shapes(shapes)
            self._directions.set_lines(shapes)
        self._overlay.update(result.detections, frame.captured_mono)
        if len(result.detections):
            self._directions.observe(result.detections[result.detections.class_id == PLATE])
        for event in result.events:
            self._emit(event)
        for event in result.provisional:
            self._store(self._sink.save_provisional, self._named(event))
        if result.people is not None:
            self.people_in_view = result.people
            for count in self._people.add(frame.captured_at, result.people):
                self._store(self._sink.add_people_count, count)
            self._count(result.detections, frame.captured_at)

    def _count(self, detections: sv.Detections, captured_at: float) -> None:
        """Line crossings, zone visits and distinct people from this frame's tracked people."""
        try:
            people = detections[detections.class_id == PERSON] if len(detections) else detections
            records = self.counter.update(people, captured_at)
        except Exception:
            logger.exception("camera %s: counting people failed", self.config.name)
            return
        for record in records:
            self._store(self._sink.add_analytics, record)

    def _still(self, captured_at: float) -> None:
        """A frame skipped by motion gating: the people counted are still where they were."""
        try:
            records = self.counter.still(captured_at)
        except Exception:
            logger.exception("camera %s: counting people failed", self.config.name)
            return
        for record in records:
            self._store(self._sink.add_analytics, record)

    def flush_tracks(self) -> None:
        """Finish the open plate tracks with the reads they have (stream ended, static, stop)."""
        try:
            events = self.analyzer.flush()
        except Exception:
            logger.exception("camera %s: finishing plate tracks failed", self.config.name)
            return
        for event in events:
            self._emit(event)

    def finish(self) -> None:
        """After the thread ended: finish the tracks and the open people-minute."""
        self.flush_tracks()
        for count in self._people.flush():
            self._store(self._sink.add_people_count, count)
        self._flush_counter()

    def _flush_counter(self) -> None:
        """End the open visits and send the hour's totals."""
        try:
            records = self.counter.flush()
        except Exception:
            logger.exception("camera %s: finishing the counts failed", self.config.name)
            return
        for record in records:
            self._store(self._sink.add_analytics, record)

    def _emit(self, event: PlateEvent) -> None:
        event = self._named(event)
        if self._store(self._sink.add_plate_event, event):
            self.plate_events += 1
            self._on_event(event)
        direction = self._directions.direction_of(event)
        if direction is not None:
            self._store(self._sink.add_analytics, direction)

    def _named(self, event: PlateEvent) -> PlateEvent:
        """The event under this camera's name (analyzers may not know it)."""
        return replace(event, camera=self.config.name) if event.camera != self.config.name else event

    def _store(self, method: Callable[[Any], None], record: Any) -> bool:
        try:
            method(record)
        except Exception:
            logger.exception("camera %s: storing %s failed", self.config.name, type(record).__name__)
            return False
        return True


def _said(exc: BaseException) -> str:
    """An exception's message as pages and ``/api/cameras`` may show it (credentials redacted)."""
    return redact(str(exc))
