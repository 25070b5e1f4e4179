"""Prometheus metrics (``GET /metrics``) of a dashboard or a camera worker, in the text format.

Everything is read at scrape time from what the process already tracks (each camera's
:class:`~issc.engine.health.HealthMonitor` and analysis worker, ``Store.status()``, the webhook
sender, the MJPEG viewer count), so nothing is counted twice and a scrape blocks on nothing. With
``AUTH`` on the route needs a credential like any other read: give Prometheus an API token
(``authorization: {credentials: issc_...}``); a worker's needs ``WORKER_TOKEN``.

Series (``camera`` label: the camera's name):

* ``issc_camera_up``, ``issc_camera_fps``, ``issc_camera_dropped_frames_total``,
  ``issc_camera_detect_fps``, ``issc_camera_state{state}`` (1 for the current state);
* ``issc_analysis_duration_seconds`` (histogram), ``issc_plate_events_total``,
  ``issc_people_in_view``, ``issc_detector_errors_total``, ``issc_detector_backoff`` (1 while the
  detector is backed off or blocked) — cameras that run in this process;
* ``issc_clips_saved_total``, ``issc_clips_failed_total``, ``issc_clip_frames_dropped_total`` —
  cameras with event clips on (``CLIPS``);
* ``issc_writer_queue_depth``, ``issc_writer_queue_bytes``, ``issc_records_written_total``,
  ``issc_records_dropped_total``, ``issc_store_ok``;
* ``issc_webhook_sent_total``, ``issc_webhook_failed_total``; ``issc_mjpeg_viewers``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from issc.engine.health import ANALYSIS_BUCKETS_S
from issc.types import CameraState

if TYPE_CHECKING:
    from issc.alerts.sink import AlertingSink
    from issc.store import Store
    from issc.types import CameraStatus

#: The content type of the text format Prometheus scrapes.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class ProcessCollector(Collector):
    """Collects the series of one process at each scrape.

    Args:
        statuses: Every camera's status (as ``/api/cameras`` answers).
        cameras: The :class:`~issc.engine.Camera` objects running in this process (none on a remote dashboard).
        store: The history store, if any.
        alerts: The alerting sink (its webhook sender counts), if any.
        viewers: Open MJPEG streams of this process.
    """

    def __init__(
        self,
        statuses: list[CameraStatus],
        cameras: Iterable[Any],
        store: Store | None,
        alerts: AlertingSink | None,
        viewers: int,
    ) -> None:
        self._statuses = statuses
        self._cameras = list(cameras)
        self._store = store
        self._alerts = alerts
        self._viewers = viewers

    def collect(self) -> Iterator[Metric]:
        yield from self._camera_series()
        yield from self._analysis_series()
        yield from self._clip_series()
        yield from self._store_series()
        sender = self._alerts.webhook if self._alerts is not None else None
        sent = CounterMetricFamily("issc_webhook_sent", "Webhook deliveries that succeeded.")
        failed = CounterMetricFamily("issc_webhook_failed", "Webhook deliveries given up after retries.")
        sent.add_metric([], sender.sent if sender is not None else 0)
        failed.add_metric([], sender.failed if sender is not None else 0)
        yield sent
        yield failed
        yield GaugeMetricFamily("issc_mjpeg_viewers", "Open MJPEG live streams.", value=self._viewers)

    def _camera_series(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("issc_camera_up", "1 while the camera sends pictures.", labels=["camera"])
        fps = GaugeMetricFamily("issc_camera_fps", "Pictures per second received.", labels=["camera"])
        detect = GaugeMetricFamily("issc_camera_detect_fps", "Analyses per second.", labels=["camera"])
        dropped = CounterMetricFamily(
            "issc_camera_dropped_frames", "Frames skipped to stay real-time.", labels=["camera"]
        )
        state = GaugeMetricFamily(
            "issc_camera_state", "1 for the camera's current state.", labels=["camera", "state"]
        )
        for status in self._statuses:
            name = status.name
            up.add_metric([name], 1.0 if status.state == CameraState.ONLINE else 0.0)
            fps.add_metric([name], status.fps)
            detect.add_metric([name], status.detect_fps)
            dropped.add_metric([name], status.dropped)
            for each in CameraState:
                state.add_metric([name, each.value], 1.0 if status.state == each else 0.0)
        yield from (up, fps, detect, dropped, state)

    def _analysis_series(self) -> Iterator[Metric]:
        duration = HistogramMetricFamily(
            "issc_analysis_duration_seconds", "Time of one analysis (detect, track, read).", labels=["camera"]
        )
        events = CounterMetricFamily("issc_plate_events", "Plate events stored.", labels=["camera"])
        people = GaugeMetricFamily(
            "issc_people_in_view", "People in the last frame searched.", labels=["camera"]
        )
        errors = CounterMetricFamily("issc_detector_errors", "Failed detector calls.", labels=["camera"])
        backoff = GaugeMetricFamily(
            "issc_detector_backoff", "1 while the detector is backed off or blocked.", labels=["camera"]
        )
        for camera in self._cameras:
            name, health, analysis = camera.config.name, camera.health, camera.analysis
            buckets = [
                (_le(b), float(n)) for b, n in zip(ANALYSIS_BUCKETS_S, health.analysis_buckets, strict=True)
            ]
            buckets.append(("+Inf", float(health.analysed)))
            duration.add_metric([name], buckets, health.analysis_seconds)
            events.add_metric([name], analysis.plate_events)
            if analysis.people_in_view is not None:
                people.add_metric([name], analysis.people_in_view)
            errors.add_metric([name], health.detector_errors)
            detector = health.detector_state
            backed = detector.startswith("backing off") or analysis.blocked_by is not None
            backoff.add_metric([name], 1.0 if backed else 0.0)
        yield from (duration, events, people, errors, backoff)

    def _clip_series(self) -> Iterator[Metric]:
        saved = CounterMetricFamily(
            "issc_clips_saved", "Event clips filed with their events.", labels=["camera"]
        )
        failed = CounterMetricFamily("issc_clips_failed", "Event clips not saved.", labels=["camera"])
        dropped = CounterMetricFamily(
            "issc_clip_frames_dropped", "Frames not encoded: the clip thread was behind.", labels=["camera"]
        )
        for camera in self._cameras:
            clips = getattr(camera, "clips", None)
            if clips is None or not clips.enabled:
                continue
            name = camera.config.name
            saved.add_metric([name], clips.saved)
            failed.add_metric([name], clips.failed)
            dropped.add_metric([name], clips.dropped)
        yield from (saved, failed, dropped)

    def _store_series(self) -> Iterator[Metric]:
        if self._store is None:
            return
        s = self._store.status()
        yield GaugeMetricFamily(
            "issc_store_ok", "1 while the history store writes.", value=1.0 if s.ok else 0.0
        )
        yield GaugeMetricFamily("issc_writer_queue_depth", "Records waiting to be written.", value=s.buffered)
        yield GaugeMetricFamily(
            "issc_writer_queue_bytes", "Bytes of the records waiting.", value=s.queued_bytes
        )
        yield CounterMetricFamily("issc_records_written", "Records written to the history.", value=s.written)
        yield CounterMetricFamily(
            "issc_records_dropped", "Records lost because the writer's queue was full.", value=s.dropped
        )


def _le(bound: float) -> str:
    return repr(float(bound))


def render(
    statuses: list[CameraStatus],
    cameras: Iterable[Any],
    store: Store | None,
    alerts: AlertingSink | None,
    viewers: int,
) -> bytes:
    """The text format of one scrape (see :class:`ProcessCollector` for the arguments)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ProcessCollector(statuses, cameras, store, alerts, viewers))
    return generate_latest(registry)


def running_cameras(engine: Any) -> list[Any]:
    """The camera objects of this process behind ``engine`` (an Engine, a worker's running view,
    or a remote dashboard's engine, which has none)."""
    if hasattr(engine, "all_cameras"):
        cameras = engine.all_cameras()
    else:
        cameras = list(getattr(engine, "cameras", {}).values())
    return [c for c in cameras if hasattr(c, "health") and hasattr(c, "analysis")]


def metrics_routes(
    get_engine: Callable[[], Any], get_service: Callable[[], Any], viewers: Callable[[], int]
) -> list[BaseRoute]:
    """``GET /metrics`` over the engine and service found at request time (``viewers``: open MJPEG streams)."""

    def scrape() -> bytes:
        engine, service = get_engine(), get_service()
        store = getattr(service, "store", None)
        alerts = getattr(service, "alerts", None)
        return render(engine.status(), running_cameras(engine), store, alerts, viewers())

    async def metrics(request: Request) -> Response:
        return Response(await run_in_threadpool(scrape), media_type=CONTENT_TYPE)

    return [Route("/metrics", metrics, methods=["GET"])]
