"""The engine: owns every thread, buffer and stop event. The only module that starts threads.

Per camera there are two threads:

* ``issc-capture-<id>`` reads the source at its own pace, draws the boxes of the latest analyses on
  a copy (``issc.overlay``: moved along between analyses, faded when stale) and publishes it into
  a latest-frame buffer (viewers never queue stale frames);
* ``issc-analyze-<id>`` takes the freshest frame when it is free, skips static scenes (motion
  gating) and runs the camera's ``Analyzer`` (detect → track → read plates), at most
  ``DETECT_FPS`` times a second and at most ``DETECT_WORKERS`` cameras at once.

A slow or failing analyzer therefore lowers the detection rate, never the live frame rate.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
import types
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import supervision as sv

from issc.analysis import Analysis, Analyzer, NullAnalyzer, PeopleMinutes
from issc.annotate import FrameAnnotator, encode_jpeg, no_signal_frame
from issc.config import CameraConfig, Settings
from issc.detect.base import empty_detections
from issc.errors import DetectorAuthError, DetectorResponseError, DetectorUnavailableError, SourceError
from issc.motion import MotionGate
from issc.overlay import BoxOverlay
from issc.sink import EventSink, MemorySink
from issc.sources import PushSource, Source, make_source
from issc.types import CameraState, CameraStatus, Frame, Tuning

logger = logging.getLogger(__name__)

AnalyzerFactory = Callable[[CameraConfig, Tuning], Analyzer]
SourceFactory = Callable[[CameraConfig, threading.Event], Source]


@dataclass(eq=False)
class Published:
    """One published picture: the frame, its annotated copy, and its JPEG made on first demand.

    ``boxes`` are the boxes drawn on ``image`` (``issc.overlay.BoxOverlay.boxes_at``: predicted
    ``xyxy``, ``class_id``, ``tracker_id``, ``data["opacity"]``), so checks need not read pixels.
    """

    frame: Frame
    image: np.ndarray
    published_mono: float
    boxes: sv.Detections = field(default_factory=empty_detections)
    _jpeg: bytes | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def jpeg(self, quality: int = 80) -> bytes:
        """JPEG of the annotated picture, encoded once however many viewers ask."""
        with self._lock:
            if self._jpeg is None:
                self._jpeg = encode_jpeg(self.image, quality)
            return self._jpeg


class LatestFrame:
    """A one-slot buffer: publishing replaces, reading never takes the frame from other readers."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: Published | None = None

    def publish(self, item: Published) -> None:
        with self._cond:
            self._item = item
            self._cond.notify_all()

    def latest(self) -> Published | None:
        return self._item

    def wait_newer(self, after_id: int, timeout: float) -> Published | None:
        """The newest frame with an id above ``after_id``, waiting up to ``timeout`` seconds."""
        with self._cond:
            self._cond.wait_for(
                lambda: self._item is not None and self._item.frame.frame_id > after_id, timeout
            )
            item = self._item
        return item if item is not None and item.frame.frame_id > after_id else None


class _Rate:
    """Events per second over a sliding window."""

    def __init__(self, window: int = 30) -> None:
        self._times: deque[float] = deque(maxlen=window)

    def tick(self, now: float) -> None:
        self._times.append(now)

    def per_second(self, now: float) -> float:
        if len(self._times) < 2 or now - self._times[-1] > 2.0:
            return 0.0
        span = self._times[-1] - self._times[0]
        return (len(self._times) - 1) / span if span > 0 else 0.0


class CameraRuntime:
    """Capture and analysis of one camera, with its health."""

    def __init__(
        self,
        config: CameraConfig,
        settings: Settings,
        analyzer: Analyzer,
        sink: EventSink,
        detect_slots: threading.Semaphore,
        source_factory: SourceFactory = make_source,
    ) -> None:
        self.config = config
        self.settings = settings
        self.analyzer = analyzer
        self.sink = sink
        self.buffer = LatestFrame()
        self._detect_slots = detect_slots
        self._source_factory = source_factory
        self._stop = threading.Event()
        self._flush_requested = threading.Event()  # the stream ended: finish the open tracks
        self._threads: list[threading.Thread] = []
        self._annotator = FrameAnnotator()
        self._overlay = BoxOverlay()
        self._motion = MotionGate(analyzer.tuning.motion_threshold)
        self._people = PeopleMinutes(config.name)

        self.state = CameraState.CONNECTING
        self.last_error: str | None = None
        self.down_since: float | None = None
        self.source_fps = 0.0
        self.frame_size = (640, 360)
        self._frame_id = -1
        self._last_frame_mono: float | None = None
        self._dropped_before = 0  # drops of earlier source instances
        self._source: Source | None = None
        self._capture_rate = _Rate()
        self._detect_rate = _Rate(10)
        self.latencies_ms: deque[float] = deque(maxlen=300)
        self.analysis_ms: deque[float] = deque(maxlen=1000)  # duration of each analyzer.analyze call

        self.detector_state = "starting"
        self.detector_blocked_by: str | None = None
        self.analysed = 0
        self.analysis_skipped = 0
        self.motion_skipped = 0
        self.ocr_calls = 0
        self._detections: tuple[int, float, sv.Detections] | None = None  # (frame id, mono, dets)
        self._no_signal_cache: tuple[int, bytes] | None = None

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        self._threads = [
            threading.Thread(target=self._capture_loop, name=f"issc-capture-{self.config.id}", daemon=True),
            threading.Thread(target=self._analysis_loop, name=f"issc-analyze-{self.config.id}", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def request_stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0.01))
        self._flush_tracks()
        for count in self._people.flush():
            self._safe_sink(self.sink.add_people_count, count)

    @property
    def threads(self) -> list[threading.Thread]:
        return list(self._threads)

    # --- capture -------------------------------------------------------------------------

    def _capture_loop(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            source = self._source_factory(self.config, self._stop)
            self._source = source
            try:
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
                        self._flush_requested.set()
                        self._overlay.clear(time.monotonic())
                    self._publish(image)
                    backoff = 0.5
            except SourceError as exc:
                self._went_offline(str(exc))
            except Exception as exc:  # a worker never dies: log, report, retry
                logger.exception("camera %s: capture failed", self.config.name)
                self._went_offline(f"capture failed: {type(exc).__name__}: {exc}")
            finally:
                try:
                    source.close()
                except Exception:
                    logger.exception("camera %s: closing the source failed", self.config.name)
                self._dropped_before += source.dropped
                self._source = None
            if self._stop.is_set():
                break
            wait = backoff if self._last_frame_mono is not None or backoff > 0.5 else 0.5
            self.last_error = f"{self.last_error} (retrying in {wait:.0f} s)" if self.last_error else None
            self._stop.wait(wait)
            backoff = min(backoff * 2, self.settings.reconnect_max_s)

    def _went_offline(self, message: str) -> None:
        if self.state != CameraState.OFFLINE:
            logger.warning(
                "camera %s (%s) offline: %s", self.config.name, self.config.display_source, message
            )
            self.down_since = time.time()
        self.state = CameraState.OFFLINE
        self.last_error = message
        self._flush_requested.set()

    def _publish(self, image: np.ndarray) -> None:
        now_wall, now = time.time(), time.monotonic()
        self._frame_id += 1
        frame = Frame(
            image=image,
            frame_id=self._frame_id,
            camera_id=self.config.id,
            captured_at=now_wall,
            captured_mono=now,
        )
        if self.state != CameraState.ONLINE:
            logger.info("camera %s online", self.config.name)
            self.state = CameraState.ONLINE
            self.last_error = None
            self.down_since = None
        self.frame_size = (image.shape[1], image.shape[0])
        # Every frame is published, so every frame gets the boxes: moved along between analyses.
        boxes = self._overlay.boxes_at(now, image)
        annotated = self._annotator.annotate(image, boxes) if len(boxes) else image
        published = time.monotonic()
        self.buffer.publish(Published(frame=frame, image=annotated, published_mono=published, boxes=boxes))
        self._last_frame_mono = published
        self._capture_rate.tick(published)
        self.latencies_ms.append((published - now) * 1000.0)

    # --- analysis ------------------------------------------------------------------------

    def _analysis_loop(self) -> None:
        last_id = -1
        next_due = 0.0
        backoff = 1.0
        static_since: float | None = None
        while not self._stop.is_set():
            if self._flush_requested.is_set():
                self._flush_requested.clear()
                self._flush_tracks()
            item = self.buffer.wait_newer(last_id, timeout=0.5)
            if item is None:
                continue
            now = time.monotonic()
            if now < next_due:
                if self._stop.wait(next_due - now):
                    break
                item = self.buffer.latest() or item
            self.analysis_skipped += max(item.frame.frame_id - last_id - 1, 0) if last_id >= 0 else 0
            last_id = item.frame.frame_id
            next_due = time.monotonic() + 1.0 / self.settings.detect_fps
            if self.detector_blocked_by is not None:
                self.detector_state = self.detector_blocked_by
                continue
            tuning = self.analyzer.tuning
            self._motion.threshold = tuning.motion_threshold
            if self.settings.motion_gating and not self._motion.moving(item.frame.image):
                self.motion_skipped += 1
                self.detector_state = "idle: no motion"
                static_since = static_since or now
                if now - static_since > 2.0:
                    self._flush_tracks()
                    static_since = float("inf")  # flushed once for this static spell
                continue
            static_since = None
            try:
                with self._detect_slots:
                    if self._stop.is_set():
                        break
                    started = time.perf_counter()
                    result = self.analyzer.analyze(item.frame)
                    self.analysis_ms.append((time.perf_counter() - started) * 1000.0)
            except DetectorAuthError as exc:
                self.detector_blocked_by = f"stopped: {exc}"
                self.detector_state = self.detector_blocked_by
                logger.error("camera %s: %s", self.config.name, exc)
                continue
            except DetectorUnavailableError as exc:
                self.detector_state = f"backing off {backoff:.0f} s: {exc}"
                logger.warning("camera %s: detector unavailable: %s", self.config.name, exc)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 60.0)
                continue
            except DetectorResponseError as exc:
                self.detector_state = f"bad detector response: {exc}"
                logger.warning("camera %s: %s", self.config.name, exc)
                continue
            except Exception as exc:
                logger.exception("camera %s: analysis failed", self.config.name)
                self.detector_state = f"analysis failed: {type(exc).__name__}: {exc}"
                continue
            backoff = 1.0
            self._take(result, item.frame)

    def _take(self, result: Analysis, frame: Frame) -> None:
        now = time.monotonic()
        self._detections = (frame.frame_id, now, result.detections)  # the latest analysis, as found
        self._overlay.update(result.detections, frame.captured_mono)
        self._detect_rate.tick(now)
        self.analysed += 1
        self.ocr_calls += result.ocr_calls
        self.detector_state = "ok"
        for event in result.events:
            self._emit_event(event)
        if result.people is not None:
            for count in self._people.add(frame.captured_at, result.people):
                self._safe_sink(self.sink.add_people_count, count)

    def _flush_tracks(self) -> None:
        """Finish the open plate tracks with the reads they have (stream ended, static, stop)."""
        try:
            events = self.analyzer.flush()
        except Exception:
            logger.exception("camera %s: finishing plate tracks failed", self.config.name)
            return
        for event in events:
            self._emit_event(event)

    def _emit_event(self, event) -> None:
        event = replace(event, camera=self.config.name) if event.camera != self.config.name else event
        self._safe_sink(self.sink.add_plate_event, event)

    def _safe_sink(self, method, record) -> None:
        try:
            method(record)
        except Exception:
            logger.exception("camera %s: storing %s failed", self.config.name, type(record).__name__)

    def unblock_detector(self) -> None:
        """Call again after a config change (a new API key, say)."""
        self.detector_blocked_by = None

    # --- viewers -------------------------------------------------------------------------

    def last_frame_age(self) -> float | None:
        return None if self._last_frame_mono is None else time.monotonic() - self._last_frame_mono

    def is_live(self) -> bool:
        age = self.last_frame_age()
        return self.state == CameraState.ONLINE and age is not None and age < self.settings.stale_after_s

    def latest(self) -> Published | None:
        """The newest published picture, or None when the camera is down or stale."""
        return self.buffer.latest() if self.is_live() else None

    def no_signal_jpeg(self) -> bytes:
        """The NO SIGNAL picture for this camera, redrawn at most once a second."""
        down = None
        if self.down_since is not None:
            down = time.time() - self.down_since
        elif self._last_frame_mono is not None:
            down = self.last_frame_age()
        key = int(down or 0)
        cached = self._no_signal_cache
        if cached is not None and cached[0] == key:
            return cached[1]
        w, h = self.frame_size
        scale = 640 / w if w > 640 else 1.0
        reason = self.last_error.split(" (retrying")[0] if self.last_error else None
        jpeg = encode_jpeg(
            no_signal_frame(int(w * scale), int(h * scale), self.config.name, down, reason), 80
        )
        self._no_signal_cache = (key, jpeg)
        return jpeg

    def current_jpeg(self) -> tuple[int, bytes]:
        """(frame id, JPEG) of the live picture, or (-1, NO SIGNAL) when down."""
        item = self.latest()
        if item is None:
            return -1, self.no_signal_jpeg()
        return item.frame.frame_id, item.jpeg(self.settings.jpeg_quality)

    def status(self) -> CameraStatus:
        now = time.monotonic()
        age = self.last_frame_age()
        state = self.state
        last_error = self.last_error
        if state == CameraState.ONLINE and age is not None and age >= self.settings.stale_after_s:
            state = CameraState.OFFLINE
            last_error = f"no frame for {age:.1f} s"
        source = self._source
        dropped = self._dropped_before + (source.dropped if source is not None else 0)
        latency = float(np.median(self.latencies_ms)) if self.latencies_ms else None
        return CameraStatus(
            id=self.config.id,
            name=self.config.name,
            source_kind=self.config.kind,
            source=self.config.display_source,
            state=state,
            fps=self._capture_rate.per_second(now),
            last_frame_age_s=age,
            dropped=dropped,
            last_error=last_error,
            down_since=self.down_since,
            detector_state=self.detector_state,
            detect_fps=self._detect_rate.per_second(now),
            latency_ms=latency,
        )


class Engine:
    """Every camera of one configuration, started once per server process."""

    def __init__(
        self,
        settings: Settings,
        analyzer_factory: AnalyzerFactory | None = None,
        sink: EventSink | None = None,
        source_factory: SourceFactory = make_source,
        tuning: Tuning | None = None,
        history: Any = None,
    ) -> None:
        self.settings = settings
        self.history = history  # the history store (issc.store.Store) when there is one
        self.sink: EventSink = sink if sink is not None else MemorySink()
        self.tuning = tuning or tuning_from_settings(settings)
        factory = analyzer_factory or (lambda cam, tuning: NullAnalyzer(tuning))
        self._detect_slots = threading.BoundedSemaphore(settings.detect_workers)
        self.cameras: dict[str, CameraRuntime] = {
            cam.id: CameraRuntime(
                cam, settings, factory(cam, self.tuning), self.sink, self._detect_slots, source_factory
            )
            for cam in settings.cameras
        }
        self.camera_tuning: dict[str, Tuning] = {}
        self.running = False
        self._lock = threading.Lock()
        self._analyzer_factory = factory
        self._webcam: tuple[CameraRuntime, PushSource] | None = None

    def webcam(self) -> tuple[CameraRuntime, PushSource]:
        """The browser-webcam camera (id ``webcam``), created and started on first use.

        It is not one of the configured ``cameras`` (``check_cams`` counts those), but it runs the
        same capture, analysis and history path; frames arrive through ``PushSource.push``.
        """
        with self._lock:
            if self._webcam is None:
                config = CameraConfig(id="webcam", name="webcam", kind="webcam", source="browser")
                push = PushSource(threading.Event())
                runtime = CameraRuntime(
                    config,
                    self.settings,
                    self._analyzer_factory(config, self.tuning),
                    self.sink,
                    self._detect_slots,
                    source_factory=lambda cam, stop: push,
                )
                # The source shares the runtime's stop event so that stopping wakes its reader.
                push._stop = runtime._stop
                self._webcam = (runtime, push)
                if self.running:
                    runtime.start()
            return self._webcam

    def all_cameras(self) -> list[CameraRuntime]:
        """Configured cameras, then the webcam if a browser ever sent frames."""
        extra = [self._webcam[0]] if self._webcam is not None else []
        return [*self.cameras.values(), *extra]

    def start(self) -> Engine:
        with self._lock:
            if not self.running:
                for camera in self.all_cameras():
                    camera.start()
                self.running = True
                logger.info("engine started with %d camera(s)", len(self.cameras))
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop and join every thread (capture reads time out within a few seconds)."""
        with self._lock:
            if not self.running:
                return
            for camera in self.all_cameras():
                camera.request_stop()
            deadline = time.monotonic() + timeout
            for camera in self.all_cameras():
                camera.join(max(deadline - time.monotonic(), 0.05))
            self.running = False
            close = getattr(self.sink, "close", None)
            if callable(close):
                close()
            logger.info("engine stopped")

    def threads(self) -> list[threading.Thread]:
        return [t for camera in self.all_cameras() for t in camera.threads]

    def camera(self, camera_id: str) -> CameraRuntime:
        """Raises KeyError for an unknown id."""
        if camera_id == "webcam" and self._webcam is not None:
            return self._webcam[0]
        return self.cameras[camera_id]

    def status(self) -> list[CameraStatus]:
        return [camera.status() for camera in self.all_cameras()]

    def set_tuning(self, tuning: Tuning, camera_id: str | None = None) -> None:
        """Apply new thresholds to one camera or all; the analyzers read them on the next frame."""
        if camera_id is None:
            self.tuning = tuning
            targets = [c for c in self.cameras.values() if c.config.id not in self.camera_tuning]
        else:
            self.camera_tuning[camera_id] = tuning
            targets = [self.cameras[camera_id]]
        for camera in targets:
            camera.analyzer.tuning = tuning

    def clear_camera_tuning(self, camera_id: str) -> None:
        self.camera_tuning.pop(camera_id, None)
        self.cameras[camera_id].analyzer.tuning = self.tuning


def tuning_from_settings(settings: Settings) -> Tuning:
    return Tuning(
        person_conf=settings.person_conf,
        plate_conf=settings.plate_conf,
        ocr_min_conf=settings.ocr_min_conf,
        iou=settings.iou,
        motion_threshold=settings.motion_threshold,
        ocr_engine=settings.ocr_engine,
        ocr_preprocess=settings.ocr_preprocess,
        recognition_threshold=settings.plate_recognition_threshold,
    )


# --- one engine per process -------------------------------------------------------------
# Streamlit re-executes pages and, in development, reloads changed modules. The holder lives in
# a module object of its own that reloads do not replace, so a rerun, a cleared cache or a
# reloaded module finds the running engine instead of starting a second set of threads. Code
# changes to the engine itself take effect at the next server start.

_STATE_MODULE = "_issc_process_state"


def _holder() -> types.ModuleType:
    holder = sys.modules.get(_STATE_MODULE)
    if holder is None:
        holder = types.ModuleType(_STATE_MODULE)
        holder.lock = threading.RLock()
        holder.engine = None
        sys.modules[_STATE_MODULE] = holder
    return holder


def shared_engine(build: Callable[[], Engine]) -> Engine:
    """The process's running engine, built and started on first use."""
    holder = _holder()
    with holder.lock:
        engine = holder.engine
        if engine is not None and not engine.running:
            engine = None
        if engine is None:
            engine = build().start()
            holder.engine = engine
        return engine


def stop_shared_engine() -> None:
    holder = _holder()
    with holder.lock:
        if holder.engine is not None:
            holder.engine.stop()
            holder.engine = None


def peek_shared_engine() -> Engine | None:
    return _holder().engine
