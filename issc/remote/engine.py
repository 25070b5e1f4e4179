"""The dashboard's engine with ``ENGINE=remote``: every camera of every live worker, none run here.

:class:`RemoteEngine` answers what the pages and routes ask the local
:class:`~issc.engine.Engine` (cameras, statuses, pictures, tuning, watchlist alerts), from:

* the ``workers`` table (:class:`~issc.cluster.Registry`) and each live worker's ``/api/cameras``,
  read once a second on a thread of its own (pages read the result, never the network). A camera
  whose worker stopped answering is offline at the next round (a killed worker refuses connections
  at once); one whose worker stopped sending heartbeats is offline after ``WORKER_DEAD_S``; a camera
  the dashboard saw once stays listed, offline, with the reason;
* the workers' MJPEG streams, proxied by one :class:`~issc.remote.feed.RemoteFeed` per camera;
* the shared history database: tuning is saved there (the workers pick it up, see
  :mod:`issc.cluster.changes`) and watchlist hits are read from its events.

A camera's id on the dashboard is its name, unique across the cluster.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import requests

from issc.alerts.alert import Alert
from issc.cluster import ChangeFeed, Registry, WorkerRow
from issc.cluster.changes import reload_changed
from issc.config import CameraConfig, Settings
from issc.errors import ConfigError
from issc.redact import error_line, redact
from issc.remote.feed import RemoteFeed, Upstream, why
from issc.store import PlateFilter, Store
from issc.tuning import Tuning, TuningBook
from issc.types import CameraState, CameraStatus

logger = logging.getLogger(__name__)

#: Seconds between two reads of the registry and the workers' camera lists.
POLL_S = 1.0
#: Longest wait for one worker's ``/api/cameras`` (a slow worker never delays the others).
STATUS_TIMEOUT_S = (1.0, 2.0)
#: Watchlist hits shown: the newest of the history, read every few rounds.
ALERTS_KEPT = 200
ALERTS_EVERY_S = 2.0


@dataclass(frozen=True)
class RemoteCamera:
    """A camera as the dashboard knows it: where it runs (if anywhere) and its last status."""

    config: CameraConfig
    status: CameraStatus
    upstream: Upstream | None  # None: no live worker runs it


class RemoteEngine:
    """Every camera of the cluster sharing ``store``'s database, seen from the dashboard.

    Args:
        settings: The dashboard's settings (worker token, dead-worker delay, web).
        store: The shared history store (PostgreSQL for several machines).
        session: HTTP session for the workers (tests may pass their own).
    """

    def __init__(self, settings: Settings, store: Store, session: requests.Session | None = None) -> None:
        self._settings = settings
        self._store = store
        self.registry = Registry(store.engine, dead_after_s=settings.cluster.worker_dead_s)
        self._token = settings.cluster.token()
        self._session = session or requests.Session()
        self._session.trust_env = False  # workers are reached directly, never through a proxy
        self.tuning = TuningBook(settings.tuning, store)
        self._lock = threading.Lock()
        self._cameras: dict[str, RemoteCamera] = {}  # by name, in the order first seen
        self._feeds: dict[str, RemoteFeed] = {}
        self._alerts: list[Alert] = []
        self._live_workers: list[WorkerRow] = []
        self._alerts_read_at = 0.0
        self._started_at = datetime.now(UTC)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._changes: ChangeFeed | None = None
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="issc-remote-status")
        self.running = False
        self.last_error: str | None = None  # why the last round failed (the database is away)

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> RemoteEngine:
        """Read the cluster once (so the first page shows it), then keep reading it."""
        if self.running:
            return self
        self.refresh()
        # tuning or watchlist changed by another dashboard: this one shows and uses the new ones
        self._changes = ChangeFeed(self._store.engine, self._changed).start()
        self._thread = threading.Thread(target=self._loop, name="issc-remote-poll", daemon=True)
        self._thread.start()
        self.running = True
        logger.info(
            "ENGINE=remote: %d camera(s) on %d live worker(s)", len(self._cameras), len(self.workers())
        )
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._changes is not None:
            self._changes.stop(timeout)
        if self._thread is not None:
            self._thread.join(timeout)
        with self._lock:
            feeds = list(self._feeds.values())
        for feed in feeds:
            feed.stop(timeout)
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._session.close()
        self.running = False

    def threads(self) -> list[threading.Thread]:
        with self._lock:
            feeds = [f.thread for f in self._feeds.values()]
        return [t for t in (self._thread, *feeds) if t is not None and t.is_alive()]

    @property
    def web(self) -> Any:
        return self._settings.web

    # --- the poll ------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.wait(POLL_S):
            self.refresh()

    def refresh(self) -> None:
        """One round: the registry, every live worker's cameras, and now and then the alerts."""
        try:
            rows, live = self.registry.all_and_live()
        except Exception as exc:  # the database is away: keep what is known, say why
            self.last_error = f"the history database does not answer ({error_line(exc, 120)})"
            logger.warning("ENGINE=remote: %s", self.last_error)
            self._mark_all_offline(self.last_error)
            return
        self.last_error = None
        self._live_workers = [row for row in rows if row.id in live]
        answers = self._ask_workers(self._live_workers)
        now = time.time()
        with self._lock:
            known = dict(self._cameras)
        cameras = _merge(known, rows, live, answers, now)
        with self._lock:
            self._cameras = cameras
        new = [name for name in cameras if name not in known]
        if new:
            self.tuning.load(new)  # their saved overrides (the dashboard makes every later change)
        if time.monotonic() - self._alerts_read_at >= ALERTS_EVERY_S:
            self._read_alerts()

    def _changed(self, topics: frozenset[str]) -> None:
        reload_changed(topics, self.tuning, self.cameras, self._store)

    def _ask_workers(self, rows: list[WorkerRow]) -> dict[str, list[dict] | str]:
        """Each live worker's ``/api/cameras`` (a list), or why it did not answer (a sentence)."""
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}

        def ask(row: WorkerRow) -> list[dict] | str:
            refusal = self._settings.cluster.worker_url_refusal(row.url)
            if refusal is not None:  # never send the token to a URL nobody allowed
                return redact(f"worker {row.id} is not contacted: {refusal}")
            try:
                response = self._session.get(
                    f"{row.url}/api/cameras", headers=headers, timeout=STATUS_TIMEOUT_S, allow_redirects=False
                )
            except requests.RequestException as exc:
                return redact(f"worker {row.id} does not answer at {row.url} ({why(exc)})")
            if response.status_code == 401:
                return f"worker {row.id} refuses the dashboard's WORKER_TOKEN: give both the same one"
            if response.status_code != 200:
                return redact(f"worker {row.id} answers HTTP {response.status_code} at {row.url}/api/cameras")
            try:
                items = response.json()
                return [dict(i) for i in items]
            except (ValueError, TypeError):
                return f"worker {row.id} sent a camera list that is not JSON"

        futures = {row.id: self._pool.submit(ask, row) for row in rows}
        return {worker: future.result() for worker, future in futures.items()}

    def _mark_all_offline(self, reason: str) -> None:
        with self._lock:
            self._cameras = {name: _offline(cam, reason, time.time()) for name, cam in self._cameras.items()}

    def _read_alerts(self) -> None:
        self._alerts_read_at = time.monotonic()
        try:
            rows = self._store.search_plates(
                PlateFilter(watchlist_only=True, since=self._started_at), limit=ALERTS_KEPT
            )
        except Exception as exc:
            logger.debug("ENGINE=remote: watchlist hits not read: %s", exc)
            return
        alerts = [
            Alert(seq=row.id, at=row.last_seen.timestamp(), event=row.as_event()) for row in reversed(rows)
        ]
        with self._lock:
            self._alerts = alerts

    # --- cameras ---------------------------------------------------------------------------

    def workers(self) -> list[WorkerRow]:
        """The live workers at the last round (no query: pages may ask on every rerun)."""
        return list(self._live_workers)

    def _known(self) -> list[RemoteCamera]:
        with self._lock:
            return list(self._cameras.values())

    @property
    def cameras(self) -> dict[str, RemoteCamera]:
        """Every camera the dashboard knows, by name (``/video_feed/check_cams/`` counts them)."""
        with self._lock:
            return dict(self._cameras)

    def configs(self) -> list[CameraConfig]:
        return [cam.config for cam in self._known()]

    def camera(self, camera_id: str) -> RemoteCamera:
        """Raises KeyError for a camera no worker ever listed."""
        with self._lock:
            return self._cameras[camera_id]

    def status(self) -> list[CameraStatus]:
        return [self._with_picture(cam) for cam in self._known()]

    def status_of(self, camera_id: str) -> CameraStatus:
        return self._with_picture(self.camera(camera_id))

    def _with_picture(self, cam: RemoteCamera) -> CameraStatus:
        """The worker's status, but offline while a viewer here cannot get the camera's picture."""
        with self._lock:
            feed = self._feeds.get(cam.config.name)
        reason = feed.down_reason() if feed is not None and feed.streaming() else None
        if cam.status.state != CameraState.ONLINE or reason is None:
            return cam.status
        return replace(cam.status, state=CameraState.OFFLINE, last_error=reason, down_since=time.time())

    def _feed(self, camera_id: str) -> RemoteFeed:
        cam = self.camera(camera_id)  # KeyError for an unknown camera
        with self._lock:
            feed = self._feeds.get(cam.config.name)
            if feed is None:
                feed = RemoteFeed(cam.config.name, self._locator(cam.config.name), self._token, self._session)
                self._feeds[cam.config.name] = feed
        return feed

    def _locator(self, name: str) -> Callable[[], Upstream | str]:
        def locate() -> Upstream | str:
            with self._lock:
                cam = self._cameras.get(name)
            if cam is None or cam.upstream is None:
                return (cam.status.last_error if cam is not None else None) or "no live worker runs it"
            return cam.upstream

        return locate

    def wait_newer(self, camera_id: str, after_id: int, timeout: float) -> None:
        """Wait up to ``timeout`` s for a picture newer than ``after_id``; read it with
        :meth:`current_jpeg` (the dashboard has JPEGs only, not frames with boxes)."""
        self._feed(camera_id).wait_newer(after_id, timeout)

    def current_jpeg(self, camera_id: str) -> tuple[int, bytes]:
        """(picture id, JPEG) from the camera's worker, or (-1, NO SIGNAL) while there is none."""
        return self._feed(camera_id).current()

    def latest(self, camera_id: str) -> None:
        """No raw frame here (the workers have them): the Tuning preview asks for an upload."""
        self.camera(camera_id)
        return None

    def retry_detector(self, camera_id: str | None = None) -> list[str]:
        """Not possible from the dashboard: the detector runs on the camera's worker."""
        return []

    def push_webcam_frame(self, image: Any) -> int:
        raise ConfigError("the Webcam page needs ENGINE=local: with ENGINE=remote no camera runs here")

    # --- tuning (saved in the shared database; the owning worker applies it) ---------------

    def tuning_for(self, camera_name: str | None) -> Tuning:
        return self.tuning.for_camera(camera_name)

    def set_tuning(self, tuning: Tuning, camera_name: str | None = None) -> bool:
        return self.tuning.set(tuning, camera_name)

    def clear_tuning(self, camera_name: str) -> bool:
        return self.tuning.clear(camera_name)

    # --- alerts ------------------------------------------------------------------------------

    def alerts(self, after_seq: int = 0) -> list[Alert]:
        """Watchlist hits stored since the dashboard started, from every worker (oldest first)."""
        with self._lock:
            return [a for a in self._alerts if a.seq > after_seq]

    def subscribe(self, listener: Callable[[Any], None]) -> None:
        """Events happen on the workers: nothing is emitted here."""


def _offline(cam: RemoteCamera, reason: str, now: float) -> RemoteCamera:
    status = cam.status
    down = status.down_since if status.state != CameraState.ONLINE and status.down_since else now
    offline = replace(status, state=CameraState.OFFLINE, last_error=reason, down_since=down, fps=0.0)
    return RemoteCamera(cam.config, offline, None)


def _new_camera(name: str, worker: str | None, now: float, reason: str) -> RemoteCamera:
    config = CameraConfig(id=name, name=name, kind="url", source=f"worker {worker}" if worker else "")
    status = CameraStatus(
        id=name,
        name=name,
        source_kind="",
        source="",
        state=CameraState.OFFLINE,
        fps=0.0,
        last_frame_age_s=None,
        dropped=0,
        last_error=reason,
        down_since=now,
        worker=worker,
    )
    return RemoteCamera(config, status, None)


def _merge(
    known: dict[str, RemoteCamera],
    rows: list[WorkerRow],
    live: set[str],
    answers: dict[str, list[dict] | str],
    now: float,
) -> dict[str, RemoteCamera]:
    """The cameras after one round: every camera seen before or listed now, each with its owner."""
    cameras = dict(known)
    owners: dict[str, WorkerRow] = {}
    for row in rows:  # the freshest live worker that runs it (two during a hand-over)
        for claim in row.cameras:
            if row.id in live and (
                claim.name not in owners or row.heartbeat_ms > owners[claim.name].heartbeat_ms
            ):
                owners[claim.name] = row
    listed = {claim.name: row for row in rows for claim in row.listed()}
    for name in [*owners, *(n for n in listed if n not in owners)]:
        cameras.setdefault(name, _new_camera(name, None, now, "connecting"))
    for name, cam in cameras.items():
        cameras[name] = _placed(name, cam, owners.get(name), listed.get(name), live, answers, now)
    return cameras


def _placed(
    name: str,
    cam: RemoteCamera,
    owner: WorkerRow | None,
    lister: WorkerRow | None,
    live: set[str],
    answers: dict[str, list[dict] | str],
    now: float,
) -> RemoteCamera:
    """One camera's status this round."""
    if owner is None:
        if lister is None:
            return _offline(cam, "no worker lists it any more", now)
        if lister.id in live:
            return _offline(
                replace(cam, status=replace(cam.status, worker=None)),
                "waiting for a worker to take it over",
                now,
            )
        return _offline(cam, f"worker {lister.id} stopped (no heartbeat)", now)
    answer = answers.get(owner.id)
    if isinstance(answer, str) or answer is None:
        return _offline(cam, answer or f"worker {owner.id} was not asked", now)
    item = next((i for i in answer if i.get("name") == name), None)
    if item is None:
        return _offline(cam, f"worker {owner.id} does not run it now", now)
    try:
        status = CameraStatus.from_json(item, id=name, worker=owner.id)
    except (KeyError, TypeError, ValueError):
        return _offline(cam, f"worker {owner.id} sent a malformed status for it", now)
    config = CameraConfig(id=name, name=name, kind=_kind(status.source_kind), source=f"worker {owner.id}")
    return RemoteCamera(config, status, Upstream(owner.id, owner.url, str(item["id"])))


def _kind(source_kind: str) -> Any:
    return source_kind if source_kind in ("device", "file", "url", "demo", "webcam") else "url"


__all__ = ["RemoteCamera", "RemoteEngine"]
