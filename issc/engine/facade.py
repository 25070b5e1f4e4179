"""The engine's façade: every camera of one configuration, and the only engine API that pages,
routes and the service use (pictures, status, tuning, the webcam, alerts, event listeners)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from issc.alerts.alert import Alert, AlertFeed
from issc.analysis import Analyzer, NullAnalyzer
from issc.analytics import Shape
from issc.config import CameraConfig, CameraSettings, DetectionSettings, Settings, WebSettings
from issc.engine.buffer import Published
from issc.engine.camera import Camera
from issc.engine.capture import SourceFactory
from issc.engine.clips import ClipOptions, ClipSaver
from issc.engine.health import Watchdog
from issc.sink import EventSink, MemorySink
from issc.sources import PushSource, make_source
from issc.tuning import Tuning, TuningBook
from issc.types import CameraStatus, PlateEvent

logger = logging.getLogger(__name__)

AnalyzerFactory = Callable[[CameraConfig, Tuning], Analyzer]
WEBCAM_ID = "webcam"
WEBCAM = CameraConfig(id=WEBCAM_ID, name="webcam", kind="webcam", source="browser")


class Engine:
    """Every camera of one configuration, started once per process (see ``issc.service``).

    Cameras are addressed by id (their position in ``CAMERAS``; ``webcam`` for the browser's
    camera); tuning is keyed by camera name, as it is stored.
    """

    def __init__(
        self,
        cameras: CameraSettings,
        detection: DetectionSettings,
        web: WebSettings,
        *,
        analyzer_factory: AnalyzerFactory | None = None,
        sink: EventSink | None = None,
        source_factory: SourceFactory = make_source,
        tuning: TuningBook | None = None,
        alerts: AlertFeed | None = None,
        watchdog: Watchdog | None = None,
        clip_saver: ClipSaver | None = None,
    ) -> None:
        self._camera_settings = cameras
        self._clip_saver = clip_saver
        self._detection = detection
        self._web = web
        self._sink: EventSink = sink if sink is not None else MemorySink()
        self._alerts = alerts
        self._watchdog = watchdog
        self.tuning = tuning or TuningBook(Tuning())
        self._factory = analyzer_factory or (lambda cam, tuning: NullAnalyzer(tuning))
        self._detect_slots = threading.BoundedSemaphore(detection.detect_workers)
        self._listeners: list[Callable[[PlateEvent], None]] = []
        self._lock = threading.Lock()
        self._webcam: PushSource | None = None
        self._webcam_camera: Camera | None = None
        self.running = False
        self._source_factory = source_factory
        # Replaced whole on a change (never mutated): readers on other threads iterate it unlocked.
        self.cameras: dict[str, Camera] = {
            cam.id: self._make_camera(cam, source_factory) for cam in cameras.cameras
        }
        self.tuning.subscribe(self._retune)

    @classmethod
    def from_settings(cls, settings: Settings, **parts: Any) -> Engine:
        """An engine for ``settings``' cameras, detection and web sections (``parts``: as ``__init__``)."""
        return cls(settings.cameras, settings.detection, settings.web, **parts)

    def _make_camera(self, config: CameraConfig, source_factory: SourceFactory) -> Camera:
        return Camera(
            config,
            self._factory(config, self.tuning.for_camera(config.name)),
            self._sink,
            self._emitted,
            self._detect_slots,
            source_factory,
            detect_fps=config.detect_fps or self._detection.detect_fps,
            motion_gating=self._detection.motion_gating,
            reconnect_max_s=self._camera_settings.reconnect_max_s,
            stale_after_s=self._camera_settings.stale_after_s,
            jpeg_quality=self._web.jpeg_quality,
            watchdog=self._watchdog,
            clips=self._clip_options(config),
            clip_saver=self._clip_saver,
        )

    def _clip_options(self, config: CameraConfig) -> ClipOptions | None:
        """How this camera's event clips are cut, or None when ``CLIPS`` does not name it."""
        cams = self._camera_settings
        if not cams.clips_on(config.name):
            return None
        if self._clip_saver is None:
            logger.warning(
                "camera %s: CLIPS names it but there is no history store to keep clips", config.name
            )
            return None
        return ClipOptions(cams.clip_pre_s, cams.clip_post_s, cams.clip_fps, cams.clip_width)

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> Engine:
        with self._lock:
            if not self.running:
                for camera in self.all_cameras():
                    camera.start()
                self.running = True
                logger.info("engine started with %d camera(s)", len(self.cameras))
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop and join every thread (capture reads time out within a few seconds).

        The cameras' last events (open plate tracks, the current people-minute) reach the sink before
        this returns; the sink itself belongs to whoever made it (``issc.service`` closes it).
        """
        with self._lock:
            if not self.running:
                return
            for camera in self.all_cameras():
                camera.request_stop()
            deadline = time.monotonic() + timeout
            for camera in self.all_cameras():
                camera.join(max(deadline - time.monotonic(), 0.05))
            self.running = False
            logger.info("engine stopped")

    @property
    def web(self) -> WebSettings:
        """What the live stream is served with (JPEG quality, viewer cap)."""
        return self._web

    def threads(self) -> list[threading.Thread]:
        return [t for camera in self.all_cameras() for t in camera.threads]

    # --- cameras -------------------------------------------------------------------------

    def all_cameras(self) -> list[Camera]:
        """Configured cameras, then the webcam if a browser ever sent frames."""
        extra = [self._webcam_camera] if self._webcam_camera is not None else []
        return [*self.cameras.values(), *extra]

    def add_camera(self, config: CameraConfig) -> None:
        """Start one more camera now (the others keep running); its tuning is loaded first.

        Raises:
            ValueError: a camera with that id or name runs already.
        """
        with self._lock:
            taken = {c.config.id for c in self.all_cameras()} | {WEBCAM_ID}
            if config.id in taken or any(c.config.name == config.name for c in self.all_cameras()):
                raise ValueError(f"A camera named {config.name!r} runs already.")
            try:
                self.tuning.load([config.name])
            except Exception:  # the camera runs with the tuning for all cameras meanwhile
                logger.exception("could not read the saved tuning of camera %s", config.name)
            camera = self._make_camera(config, self._source_factory)
            self.cameras = {**self.cameras, config.id: camera}
            if self.running:
                camera.start()
        logger.info("camera %s added", config.name)

    def remove_camera(self, camera_id: str, timeout: float = 10.0) -> bool:
        """Stop one camera and forget it (its last events reach the sink); the others keep running.

        Returns:
            Whether a camera with that id ran.
        """
        with self._lock:
            camera = self.cameras.get(camera_id)
            if camera is None:
                return False
            self.cameras = {k: v for k, v in self.cameras.items() if k != camera_id}
        camera.request_stop()
        camera.join(timeout)
        logger.info("camera %s removed", camera.config.name)
        return True

    def configs(self) -> list[CameraConfig]:
        """What each camera is (id, name, kind, display source), in order."""
        return [camera.config for camera in self.all_cameras()]

    def camera(self, camera_id: str) -> Camera:
        """Raises KeyError for an unknown id."""
        if camera_id == WEBCAM_ID and self._webcam_camera is not None:
            return self._webcam_camera
        return self.cameras[camera_id]

    def latest(self, camera_id: str) -> Published | None:
        """The camera's newest picture, or None when it is down or stale."""
        return self.camera(camera_id).latest()

    def wait_newer(self, camera_id: str, after_id: int, timeout: float) -> Published | None:
        """The camera's newest picture with an id above ``after_id``, waiting up to ``timeout`` s."""
        return self.camera(camera_id).wait_newer(after_id, timeout)

    def current_jpeg(self, camera_id: str) -> tuple[int, bytes]:
        """(frame id, JPEG) of the live picture, or (-1, NO SIGNAL) when the camera is down."""
        return self.camera(camera_id).current_jpeg()

    def status(self) -> list[CameraStatus]:
        """Every camera's health, in order."""
        return [camera.status() for camera in self.all_cameras()]

    def status_of(self, camera_id: str) -> CameraStatus:
        """One camera's health (KeyError for an unknown id)."""
        return self.camera(camera_id).status()

    def retry_detector(self, camera_id: str | None = None) -> list[str]:
        """Call the detector again with the next frame: lifts a rejected-key block, ends a backoff.

        Args:
            camera_id: One camera (KeyError for an unknown id); None: every camera.

        Returns:
            The ids of the cameras whose detection was blocked by a rejected key.
        """
        cameras = self.all_cameras() if camera_id is None else [self.camera(camera_id)]
        return [camera.config.id for camera in cameras if camera.analysis.unblock()]

    # --- lines and zones -----------------------------------------------------------------

    def set_shapes(self, camera_name: str, shapes: tuple[Shape, ...]) -> bool:
        """Count ``camera_name``'s people through these lines and zones from its next frame on.

        Returns:
            Whether a camera of that name runs in this engine.
        """
        found = False
        for camera in self.all_cameras():
            if camera.config.name == camera_name:
                camera.set_shapes(shapes)
                found = True
        return found

    def occupancy(self, camera_name: str) -> dict[str, int]:
        """People in each zone of ``camera_name`` now (empty for an unknown camera)."""
        for camera in self.all_cameras():
            if camera.config.name == camera_name:
                return camera.analysis.counter.occupancy()
        return {}

    # --- tuning --------------------------------------------------------------------------

    def tuning_for(self, camera_name: str | None) -> Tuning:
        """The tuning a camera runs with; ``None``: the one for all cameras."""
        return self.tuning.for_camera(camera_name)

    def set_tuning(self, tuning: Tuning, camera_name: str | None = None) -> bool:
        """Apply ``tuning`` to every camera without its own, or to one camera; saved when it can be.

        Returns:
            Whether it was saved for the next start.
        """
        return self.tuning.set(tuning, camera_name)

    def clear_tuning(self, camera_name: str) -> bool:
        """The camera follows the tuning for all cameras again. Returns whether that was saved."""
        return self.tuning.clear(camera_name)

    def _retune(self, camera_name: str | None) -> None:
        for camera in self.all_cameras():
            if camera_name is None or camera.config.name == camera_name:
                camera.analyzer.tuning = self.tuning.for_camera(camera.config.name)

    # --- the browser's webcam --------------------------------------------------------------

    def push_webcam_frame(self, image: np.ndarray) -> int:
        """Hand a webcam frame to the engine; the webcam camera starts on the first frame.

        Returns:
            The id of the webcam's newest picture before this frame (-1: none yet): wait for a
            newer one with :meth:`wait_newer` to get this frame with its boxes.
        """
        push = self._webcam_source()
        before = self.camera(WEBCAM_ID).buffer.latest()
        push.push(image)
        return before.frame.frame_id if before is not None else -1

    def _webcam_source(self) -> PushSource:
        with self._lock:
            if self._webcam is None:
                camera = self._make_camera(WEBCAM, lambda cam, stop: push)
                push = PushSource(camera.stop_event)  # stopping the camera wakes its reader
                self._webcam_camera = camera
                self._webcam = push
                if self.running:
                    camera.start()
            return self._webcam

    # --- events and alerts -----------------------------------------------------------------

    def subscribe(self, listener: Callable[[PlateEvent], None]) -> None:
        """Call ``listener(event)`` for every plate event once it is handed to the sink."""
        self._listeners.append(listener)

    def _emitted(self, event: PlateEvent) -> None:
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:
                logger.exception("a plate event listener failed")

    def alerts(self, after_seq: int = 0) -> list[Alert]:
        """Watchlist hits with a sequence number above ``after_seq`` (none without a watchlist)."""
        return self._alerts.alerts_after(after_seq) if self._alerts is not None else []
