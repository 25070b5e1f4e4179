"""One camera at run time: its buffer, health, capture thread and analysis thread, and what viewers
read from it (the latest picture, a NO SIGNAL picture while it is down, its status)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from issc.analysis import Analyzer
from issc.analytics import Shape
from issc.annotate import no_signal_frame
from issc.config import CameraConfig
from issc.engine.analyze import AnalysisWorker
from issc.engine.buffer import LatestFrame, Published
from issc.engine.capture import Capture, SourceFactory
from issc.engine.clips import ClipOptions, ClipRecorder, ClipSaver, NullClips
from issc.engine.health import HealthMonitor, Watchdog, Watchdogs
from issc.jpeg import encode_jpeg
from issc.overlay import BoxOverlay
from issc.sink import EventSink
from issc.types import CameraStatus, PlateEvent


class Camera:
    """Capture and analysis of one camera, with its health."""

    def __init__(
        self,
        config: CameraConfig,
        analyzer: Analyzer,
        sink: EventSink,
        on_event: Callable[[PlateEvent], None],
        detect_slots: threading.Semaphore,
        source_factory: SourceFactory,
        *,
        detect_fps: float,
        motion_gating: bool,
        reconnect_max_s: float,
        stale_after_s: float,
        jpeg_quality: int,
        watchdog: Watchdog | None = None,
        clips: ClipOptions | None = None,
        clip_saver: ClipSaver | None = None,
    ) -> None:
        self.config = config
        self.buffer = LatestFrame()
        self.health = HealthMonitor(config, stale_after_s)
        self._jpeg_quality = jpeg_quality
        self._stop = threading.Event()
        stream_ended = threading.Event()
        reports = self.health if watchdog is None else Watchdogs(self.health, watchdog)
        overlay = BoxOverlay()
        self.clips: ClipRecorder | NullClips = (
            ClipRecorder(config.name, clip_saver, clips)
            if clips is not None and clip_saver is not None
            else NullClips()
        )
        self.capture = Capture(
            config,
            self.buffer,
            overlay,
            reports,
            source_factory,
            self._stop,
            stream_ended,
            reconnect_max_s,
            self.clips,
        )
        clip_requests = self.clips.request

        def emitted(event: PlateEvent) -> None:
            clip_requests(event)
            on_event(event)

        self.analysis = AnalysisWorker(
            config,
            analyzer,
            self.buffer,
            overlay,
            sink,
            emitted,
            reports,
            detect_slots,
            self._stop,
            stream_ended,
            detect_fps,
            motion_gating,
        )
        self._threads: list[threading.Thread] = []
        self.shapes: tuple[Shape, ...] = ()
        self._no_signal_cache: tuple[int, bytes] | None = None

    @property
    def stop_event(self) -> threading.Event:
        """Set when the camera stops (sources block on it)."""
        return self._stop

    @property
    def analyzer(self) -> Analyzer:
        return self.analysis.analyzer

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        self.clips.reopen()
        self._threads = [
            threading.Thread(target=self.capture.run, name=f"issc-capture-{self.config.id}", daemon=True),
            threading.Thread(target=self.analysis.run, name=f"issc-analyze-{self.config.id}", daemon=True),
        ]
        if self.clips.enabled:
            self._threads.append(
                threading.Thread(target=self.clips.run, name=f"issc-clips-{self.config.id}", daemon=True)
            )
        for thread in self._threads:
            thread.start()

    def request_stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        capture_and_analysis = self._threads[:2]
        for thread in capture_and_analysis:
            thread.join(max(deadline - time.monotonic(), 0.01))
        self.analysis.finish()  # its last events still ask for clips
        self.clips.close()  # the clip thread saves the pending clips with the frames it has
        for thread in self._threads[2:]:
            thread.join(max(deadline - time.monotonic(), 0.01))

    def set_shapes(self, shapes: tuple[Shape, ...]) -> None:
        """Count through these lines and zones and draw them faintly on the live picture."""
        self.shapes = tuple(shapes)
        self.analysis.set_shapes(self.shapes)
        self.capture.annotator.shapes = self.shapes

    @property
    def threads(self) -> list[threading.Thread]:
        return list(self._threads)

    # --- viewers -------------------------------------------------------------------------

    def latest(self) -> Published | None:
        """The newest published picture, or None when the camera is down or stale."""
        return self.buffer.latest() if self.health.is_live() else None

    def wait_newer(self, after_id: int, timeout: float) -> Published | None:
        """The newest picture with an id above ``after_id``, waiting up to ``timeout`` seconds."""
        return self.buffer.wait_newer(after_id, timeout)

    def no_signal_jpeg(self) -> bytes:
        """The NO SIGNAL picture for this camera, redrawn at most once a second."""
        down = self.health.down_for()
        key = int(down or 0)
        cached = self._no_signal_cache
        if cached is not None and cached[0] == key:
            return cached[1]
        w, h = self.health.frame_size
        scale = 640 / w if w > 640 else 1.0
        picture = no_signal_frame(
            int(w * scale), int(h * scale), self.config.name, down, self.health.reason()
        )
        jpeg = encode_jpeg(picture, 80)
        self._no_signal_cache = (key, jpeg)
        return jpeg

    def current_jpeg(self) -> tuple[int, bytes]:
        """(frame id, JPEG) of the live picture, or (-1, NO SIGNAL) when down."""
        item = self.latest()
        if item is None:
            return -1, self.no_signal_jpeg()
        return item.frame.frame_id, item.jpeg(self._jpeg_quality)

    def status(self) -> CameraStatus:
        return self.health.status(self.capture.dropped())
