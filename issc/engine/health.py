"""Camera health: what the capture and analysis threads report, and the status viewers read.

The threads do not keep their health in shared fields: they report to a :class:`Watchdog`. The
:class:`HealthMonitor` is the one every camera has; it records the reports under a lock and hands
out :class:`~issc.types.CameraStatus` snapshots. :class:`NullWatchdog` does nothing (a base for
observers that care about a few reports only, as Roboflow's ``NullPipelineWatchdog``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Protocol

import numpy as np

from issc.config import CameraConfig
from issc.redact import redact
from issc.types import CameraState, CameraStatus

logger = logging.getLogger(__name__)


class Watchdog(Protocol):
    """What a camera's threads report, as it happens."""

    def on_frame(self, captured_mono: float, published_mono: float, size: tuple[int, int]) -> None: ...

    def on_offline(self, message: str) -> None: ...

    def on_retry(self, wait_s: float) -> None: ...

    def on_analysis(self, skipped: int, duration_ms: float, ocr_calls: int) -> None: ...

    def on_detector(self, state: str, *, motion_idle: bool = False) -> None: ...


class NullWatchdog:
    """Ignores every report."""

    def on_frame(self, captured_mono: float, published_mono: float, size: tuple[int, int]) -> None:
        pass

    def on_offline(self, message: str) -> None:
        pass

    def on_retry(self, wait_s: float) -> None:
        pass

    def on_analysis(self, skipped: int, duration_ms: float, ocr_calls: int) -> None:
        pass

    def on_detector(self, state: str, *, motion_idle: bool = False) -> None:
        pass


class Rate:
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


#: Upper bounds (seconds) of the analysis-duration histogram that ``/metrics`` exports.
ANALYSIS_BUCKETS_S = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: Detector states that report a failed call (``AnalysisWorker``'s wording).
DETECTOR_ERROR_STATES = ("backing off", "bad detector response", "analysis failed")


class HealthMonitor(NullWatchdog):
    """Records one camera's reports and answers with status snapshots. Thread-safe."""

    def __init__(self, config: CameraConfig, stale_after_s: float) -> None:
        self._config = config
        self._stale_after_s = stale_after_s
        self._lock = threading.Lock()
        self._state = CameraState.CONNECTING
        self._last_error: str | None = None
        self._down_since: float | None = None
        self._last_frame_mono: float | None = None
        self._frame_size = (640, 360)
        self._capture_rate = Rate()
        self._detect_rate = Rate(10)
        self._detector_state = "starting"
        self.latencies_ms: deque[float] = deque(maxlen=300)  # capture -> publish
        self.analysis_ms: deque[float] = deque(maxlen=1000)  # duration of each analysis
        self.analysed = 0
        self.analysis_skipped = 0  # frames the analysis never looked at (it was busy)
        self.motion_skipped = 0
        self.ocr_calls = 0
        # /metrics: the analysis durations as a cumulative histogram, and detector failures
        self.analysis_buckets = [0] * len(ANALYSIS_BUCKETS_S)  # analyses that took at most each bound
        self.analysis_seconds = 0.0  # sum of every analysis's duration
        self.detector_errors = 0  # failed detector calls (backoff, bad response, analysis failure)

    # --- reports ---------------------------------------------------------------------------

    def on_frame(self, captured_mono: float, published_mono: float, size: tuple[int, int]) -> None:
        with self._lock:
            if self._state != CameraState.ONLINE:
                logger.info("camera %s online", self._config.name)
                self._state = CameraState.ONLINE
                self._last_error = None
                self._down_since = None
            self._frame_size = size
            self._last_frame_mono = published_mono
            self._capture_rate.tick(published_mono)
            self.latencies_ms.append((published_mono - captured_mono) * 1000.0)

    def on_offline(self, message: str) -> None:
        message = redact(message)  # shown on pages and in /api/cameras: no credentials
        with self._lock:
            if self._state != CameraState.OFFLINE:
                logger.warning(
                    "camera %s (%s) offline: %s", self._config.name, self._config.display_source, message
                )
                self._down_since = time.time()
            self._state = CameraState.OFFLINE
            self._last_error = message

    def on_retry(self, wait_s: float) -> None:
        with self._lock:
            if self._last_error:
                self._last_error = f"{self._last_error} (retrying in {wait_s:.0f} s)"

    def on_analysis(self, skipped: int, duration_ms: float, ocr_calls: int) -> None:
        with self._lock:
            self.analysed += 1
            self.analysis_skipped += skipped
            self.analysis_ms.append(duration_ms)
            seconds = duration_ms / 1000.0
            self.analysis_seconds += seconds
            for i, bound in enumerate(ANALYSIS_BUCKETS_S):
                if seconds <= bound:
                    self.analysis_buckets[i] += 1
            self.ocr_calls += ocr_calls
            self._detect_rate.tick(time.monotonic())
            self._detector_state = "ok"

    def on_detector(self, state: str, *, motion_idle: bool = False) -> None:
        with self._lock:
            if state.startswith(DETECTOR_ERROR_STATES):
                self.detector_errors += 1
            self._detector_state = state
            if motion_idle:
                self.motion_skipped += 1

    # --- readings --------------------------------------------------------------------------

    @property
    def frame_size(self) -> tuple[int, int]:
        return self._frame_size

    @property
    def detector_state(self) -> str:
        return self._detector_state

    def last_frame_age(self) -> float | None:
        last = self._last_frame_mono
        return None if last is None else time.monotonic() - last

    def is_live(self) -> bool:
        """Online and a frame within ``STALE_AFTER_S``."""
        age = self.last_frame_age()
        return self._state == CameraState.ONLINE and age is not None and age < self._stale_after_s

    def down_for(self) -> float | None:
        """Seconds since the camera went down (or since its last frame), None when never up or down."""
        if self._down_since is not None:
            return time.time() - self._down_since
        return self.last_frame_age()

    def reason(self) -> str | None:
        """Why the camera is down, without the retry countdown."""
        return self._last_error.split(" (retrying")[0] if self._last_error else None

    def status(self, dropped: int) -> CameraStatus:
        """A snapshot, safe to hand to any viewer."""
        now = time.monotonic()
        with self._lock:
            age = None if self._last_frame_mono is None else now - self._last_frame_mono
            state, last_error = self._state, self._last_error
            if state == CameraState.ONLINE and age is not None and age >= self._stale_after_s:
                state = CameraState.OFFLINE
                last_error = f"no frame for {age:.1f} s"
            latency = float(np.median(self.latencies_ms)) if self.latencies_ms else None
            return CameraStatus(
                id=self._config.id,
                name=self._config.name,
                source_kind=self._config.kind,
                source=self._config.display_source,
                state=state,
                fps=self._capture_rate.per_second(now),
                last_frame_age_s=age,
                dropped=dropped,
                last_error=last_error,
                down_since=self._down_since,
                detector_state=self._detector_state,
                detect_fps=self._detect_rate.per_second(now),
                latency_ms=latency,
            )


class Watchdogs(NullWatchdog):
    """Passes every report to several watchdogs (the camera's monitor and any observers)."""

    def __init__(self, *watchdogs: Watchdog) -> None:
        self._all = watchdogs

    def on_frame(self, captured_mono: float, published_mono: float, size: tuple[int, int]) -> None:
        for w in self._all:
            w.on_frame(captured_mono, published_mono, size)

    def on_offline(self, message: str) -> None:
        for w in self._all:
            w.on_offline(message)

    def on_retry(self, wait_s: float) -> None:
        for w in self._all:
            w.on_retry(wait_s)

    def on_analysis(self, skipped: int, duration_ms: float, ocr_calls: int) -> None:
        for w in self._all:
            w.on_analysis(skipped, duration_ms, ocr_calls)

    def on_detector(self, state: str, *, motion_idle: bool = False) -> None:
        for w in self._all:
            w.on_detector(state, motion_idle=motion_idle)
