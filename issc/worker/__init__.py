"""A camera worker: the engine without Streamlit, for the cameras of its own ``CAMERAS``, in a cluster.

``python -m issc.worker`` (see :mod:`issc.worker.__main__`) builds one :class:`Worker`: the process's
service (detector, history store, alerts; :class:`issc.service.Service`) for every listed camera, but
it starts only the cameras whose advisory lock (:mod:`issc.cluster.locks`) it gets. A loop on its
own thread, once a second:

* pings the lock connection and stops every camera whose lock is lost (the database went away: some
  other worker may start it now);
* tries the locks it lacks and starts each camera it gets (failover: the holder died);
* every ``HEARTBEAT_S``, renews its row in the ``workers`` table with what it runs now
  (:class:`issc.cluster.Registry`).

A change feed (:class:`issc.cluster.ChangeFeed`, thread ``issc-changes``) brings tuning and watchlist
changes made elsewhere (the dashboard) to its cameras and alerts: the saved tuning is read again
(an override cleared elsewhere is dropped) and so is the watchlist, within milliseconds on
PostgreSQL (``LISTEN issc_changes``) and within one poll (1 s) without notices.

Cameras start and stop one at a time through the engine's cameras (``Engine.camera(id).start()``,
``request_stop()``, ``join()``); the engine itself is never started, so that ``Engine.start()`` does
not start every listed camera. Routes see only the running cameras (:class:`RunningCameras`).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from issc import __version__
from issc.cluster import CameraClaim, CameraLock, ChangeFeed, LockSession, Registry, WorkerRow
from issc.cluster.changes import CAMERAS, TOPICS, ZONES, reload_changed
from issc.config import CameraConfig, Settings, is_loopback
from issc.engine import Engine
from issc.engine.buffer import Published
from issc.errors import ConfigError
from issc.health import camera_json, health_json
from issc.memory import tune_malloc
from issc.redact import error_line
from issc.service import Service
from issc.types import CameraStatus

if TYPE_CHECKING:
    import sqlalchemy as sa

logger = logging.getLogger(__name__)

#: Seconds between two rounds of the worker's loop (lock checks and tries).
POLL_S = 1.0
#: Seconds a stopping camera may take to finish its threads.
CAMERA_STOP_S = 10.0


def default_worker_id(port: int) -> str:
    """``<hostname>-<port>``: unique per machine and port, and the same after a restart."""
    return f"{socket.gethostname()}-{port}"


def default_url(host: str, port: int) -> str:
    """Where the dashboard reaches a worker listening on ``host`` (every interface: this machine's name)."""
    if host in ("", "0.0.0.0", "::"):
        host = socket.getfqdn()
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@dataclass
class _Camera:
    """One listed camera: its configuration, its claim in the registry and its lock."""

    config: CameraConfig
    claim: CameraClaim
    lock: CameraLock
    running: bool = False
    since: float = field(default_factory=time.monotonic)
    preferred: str | None = None  # a stored camera's worker: others take it only while that one is dead


class RunningCameras:
    """The engine as the routes see it: only the cameras this worker runs now.

    It answers what :func:`issc.web.routes` asks an :class:`~issc.engine.Engine` (``camera``,
    ``configs``, ``status``, ``cameras``, ``web``, ``wait_newer``, ``current_jpeg``); a camera that
    is listed but not running is unknown (404), as on a worker that does not list it.
    """

    def __init__(self, engine: Engine, running: Callable[[], set[str]]) -> None:
        self._engine = engine
        self._running = running

    @property
    def web(self) -> Any:
        return self._engine.web

    @property
    def cameras(self) -> dict[str, Any]:
        ids = self._running()
        return {cid: cam for cid, cam in self._engine.cameras.items() if cid in ids}

    def camera(self, camera_id: str) -> Any:
        """Raises KeyError for an unknown id or a camera that is not running here."""
        if camera_id not in self._running():
            raise KeyError(camera_id)
        return self._engine.camera(camera_id)

    def configs(self) -> list[CameraConfig]:
        return [camera.config for camera in self.cameras.values()]

    def status(self) -> list[CameraStatus]:
        return [camera.status() for camera in self.cameras.values()]

    def latest(self, camera_id: str) -> Published | None:
        return self.camera(camera_id).latest()

    def wait_newer(self, camera_id: str, after_id: int, timeout: float) -> Published | None:
        return self.camera(camera_id).wait_newer(after_id, timeout)

    def current_jpeg(self, camera_id: str) -> tuple[int, bytes]:
        return self.camera(camera_id).current_jpeg()


class Worker:
    """The cameras of one ``CAMERAS`` list in a cluster: registry row, locks, heartbeat, failover.

    Args:
        settings: The worker's settings (``CAMERAS``, ``DATABASE_URL``, the ``cluster`` section ...).
        host: The address its HTTP server listens on (for its URL in the registry).
        port: Its HTTP port.
        build: Builds the service (tests pass their own); default: :meth:`Service.build`.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        host: str = "127.0.0.1",
        port: int = 8600,
        build: Callable[[Settings], Service] | None = None,
    ) -> None:
        cluster = settings.cluster
        self.settings = settings
        self.id = cluster.worker_id or default_worker_id(port)
        self.host = host
        self.url = cluster.worker_url or default_url(host, port)
        self._build = build or Service.build
        self.service: Service | None = None
        self.registry: Registry | None = None
        self._session: LockSession | None = None
        self._changes: ChangeFeed | None = None
        self._cameras: list[_Camera] = []
        self._state = threading.Lock()  # guards each camera's running flag
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_beat = 0.0
        self._stopped = False
        self._registered = False  # its row is in the table: remove it at the stop

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> Worker:
        """Build the service, register, start the cameras whose locks it gets, and start the loop.

        Raises:
            ConfigError: a wrong setting, a camera clash or a worker id in use (one sentence).
            UnavailableError: the database cannot be reached now.
        """
        if not is_loopback(self.host) and self.settings.cluster.token() is None:
            raise ConfigError(
                f"the worker listens on {self.host or 'every interface'} without WORKER_TOKEN: set "
                "WORKER_TOKEN (the dashboard sends the same one), or listen on 127.0.0.1 with --host"
            )
        service = self.service = self._build(self.settings)
        try:
            if service.store is None:
                raise ConfigError("the worker needs a history store: set DATABASE_URL")
            engine = service.store.engine
            if engine.dialect.name != "postgresql":
                logger.warning(
                    "DATABASE_URL is %s, not PostgreSQL: a single worker on this machine; other "
                    "machines cannot share its history, and there is no failover (every camera lock "
                    "is granted)",
                    engine.dialect.name,
                )
            self._follow_changes(engine)
            dead_s = self.settings.cluster.worker_dead_s
            self.registry = Registry(engine, dead_after_s=dead_s)
            self._session = LockSession(engine, idle_timeout_s=dead_s)
            self._cameras = [
                _Camera(cfg, CameraClaim.of(cfg), self._session.lock(cfg.name))
                for cfg in self.settings.cameras.cameras
            ]
            self._sync_stored_cameras()
            self.registry.register(
                self.id,
                host=socket.gethostname(),
                url=self.url,
                version=__version__,
                standby=[c.claim for c in self._cameras],
            )
            self._registered = True
            refusal = self.settings.cluster.worker_url_refusal(self.url)
            if refusal is not None:
                logger.warning(
                    "worker %s: a dashboard with the same WORKER_HOSTS will not contact %s (%s); set "
                    "WORKER_URL to a private address, or list the host in the dashboard's WORKER_HOSTS",
                    self.id,
                    self.url,
                    refusal,
                )
            tune_malloc()
            self._round()
            self._beat()
        except BaseException:
            self.stop()
            raise
        logger.info(
            "worker %s at %s runs %s; waits for %s",
            self.id,
            self.url,
            self.running_names() or "no camera",
            self.standby_names() or "no camera",
        )
        self._thread = threading.Thread(target=self._loop, name="issc-worker-loop", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the loop and the cameras, give the locks up, remove the registry row, close the store.

        Safe to call twice, and after a failed :meth:`start`.
        """
        if self._stopped:
            return
        self._stopped = True
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(CAMERA_STOP_S + 5)
        if self._changes is not None:
            self._changes.stop()
            self._changes = None
        with self._state:
            running = [c for c in self._cameras if c.running]
            for camera in running:
                self._engine().camera(camera.config.id).request_stop()
            deadline = time.monotonic() + CAMERA_STOP_S
            for camera in running:
                self._engine().camera(camera.config.id).join(max(deadline - time.monotonic(), 0.05))
                camera.running = False
            for camera in self._cameras:
                camera.lock.release()
        if self._session is not None:
            self._session.close()
            self._session = None
        if self.registry is not None and self._registered:  # never the row of a worker it clashed with
            try:
                self.registry.remove(self.id)
            except Exception as exc:  # the database is gone: the row goes stale by itself
                logger.warning("worker %s: could not remove its registry row: %s", self.id, exc)
            self.registry = None
        if self.service is not None:
            self.service.stop()  # the engine never ran; closes the sink and the store (flushes events)
            self.service = None
        logger.info("worker %s stopped", self.id)

    # --- what it runs ----------------------------------------------------------------------

    def _engine(self) -> Engine:
        assert self.service is not None, "the worker is not started"
        return self.service.engine

    def running_ids(self) -> set[str]:
        """Ids (positions in ``CAMERAS``) of the cameras running here now."""
        return {c.config.id for c in self._cameras if c.running}

    def running_names(self) -> list[str]:
        return [c.config.name for c in self._cameras if c.running]

    def standby_names(self) -> list[str]:
        return [c.config.name for c in self._cameras if not c.running]

    def cameras_view(self) -> RunningCameras:
        """What the routes serve (:func:`issc.web.routes` takes ``lambda: worker.cameras_view()``)."""
        return RunningCameras(self._engine(), self.running_ids)

    def row(self) -> WorkerRow | None:
        """This worker's registry row, as the other workers and the dashboard see it."""
        registry = self.registry
        return next((r for r in registry.all() if r.id == self.id), None) if registry else None

    def health(self) -> dict[str, Any]:
        """``/api/health``: the store's writer and the running cameras, plus who and what this worker is."""
        assert self.service is not None
        body = health_json(self.service)
        cameras = [camera_json(status) for status in self.cameras_view().status()]
        online = any(c["state"] == "online" for c in cameras)
        store_ok = body["store"] is None or body["store"]["ok"]
        return {
            **body,
            "ok": store_ok and (online or not cameras),
            "cameras": cameras,
            "worker": {"id": self.id, "url": self.url, "version": __version__},
            "standby": self.standby_names(),
            # what each running camera is tuned with now (a change saved on the dashboard shows here)
            "tuning": {name: self._engine().tuning_for(name).model_dump() for name in self.running_names()},
        }

    # --- changes made elsewhere ----------------------------------------------------------------

    def _follow_changes(self, engine: sa.Engine) -> None:
        """Start the change feed, then read the tuning and the watchlist once more (a change saved
        while the service was being built came before the feed)."""
        self._changes = ChangeFeed(engine, self._apply_changes).start()
        try:
            self._apply_changes(TOPICS)
        except Exception as exc:  # the database is away: the feed's polls catch up
            logger.warning("worker %s: tuning and watchlist not read again: %s", self.id, error_line(exc))

    def _apply_changes(self, topics: frozenset[str]) -> None:
        """Read the saved tuning, the watchlist and/or the cameras' lines and zones again (raises
        when the database is away: the feed tries again)."""
        service = self.service
        if service is None or service.store is None:
            return
        if CAMERAS in topics:
            self._sync_stored_cameras()
            topics |= {ZONES}  # a stored camera listed now gets its lines and zones too
        reload_changed(
            topics, service.engine.tuning, [c.config.name for c in self._cameras], service.store, service
        )
        logger.debug("worker %s: %s read again", self.id, " and ".join(sorted(topics)))

    def _sync_stored_cameras(self) -> None:
        """List the enabled stored cameras (the Cameras page) beside those of ``CAMERAS``: a new one
        is tried by the next round (its lock decides who runs it), a changed one restarts, a removed
        or disabled one stops. Raises when the database cannot be read (the feed tries again)."""
        service, session = self.service, self._session
        if service is None or service.store is None or session is None:
            return  # still starting: start() lists them once the locks can be made
        configured = {c.name for c in self.settings.cameras.cameras}
        wanted: dict[str, tuple[CameraConfig, str | None]] = {}
        for record in service.store.list_cameras():
            if not record.enabled or record.name in configured:
                continue
            try:
                wanted[record.name] = (record.config(), record.worker)
            except ValueError as exc:
                logger.warning("worker %s: stored camera %s left out: %s", self.id, record.name, exc)
        engine = self._engine()
        with self._state:
            cameras = list(self._cameras)  # replaced whole: readers on other threads iterate it unlocked
            for camera in [c for c in cameras if c.config.stored]:
                want = wanted.get(camera.config.name)
                if want is not None and want[0] == camera.config:
                    camera.preferred = want[1]
                    del wanted[camera.config.name]
                    continue
                if camera.running:
                    self._stop_camera(camera)
                engine.remove_camera(camera.config.id)
                cameras.remove(camera)
                logger.info("worker %s: stored camera %s removed or changed", self.id, camera.config.name)
            for name, (config, preferred) in wanted.items():
                engine.add_camera(config)  # the engine never runs: the next round starts it
                cameras.append(
                    _Camera(config, CameraClaim.of(config), session.lock(name), preferred=preferred)
                )
                logger.info("worker %s: stored camera %s listed", self.id, name)
            self._cameras = cameras

    # --- the loop ----------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.wait(POLL_S):
            try:
                self._round()
                if time.monotonic() - self._last_beat >= self.settings.cluster.heartbeat_s:
                    self._beat()
            except Exception:  # the loop never dies: log, try again next round
                logger.exception("worker %s: a round of lock checks failed", self.id)

    def _round(self) -> None:
        """Stop cameras whose lock is lost; start cameras whose lock it gets now."""
        changed = False
        live: set[str] | None = None  # live worker ids, read once a round when a camera prefers one
        with self._state:
            for camera in self._cameras:
                if self._stop.is_set():
                    return
                if camera.running and not camera.lock.alive():
                    logger.warning("camera %s: its lock is lost, stopping it", camera.config.name)
                    self._stop_camera(camera)
                    changed = True
                elif not camera.running and camera.preferred not in (None, self.id):
                    if live is None:
                        live = {row.id for row in self.registry.live()} if self.registry else set()
                    if camera.preferred in live:
                        continue  # its own worker runs it; this one stands by
                    if camera.lock.try_acquire():
                        logger.info(
                            "camera %s: its worker %s is dead, taking it",
                            camera.config.name,
                            camera.preferred,
                        )
                        self._engine().camera(camera.config.id).start()
                        camera.running, camera.since = True, time.monotonic()
                        changed = True
                elif not camera.running and camera.lock.try_acquire():
                    logger.info("camera %s: lock taken, starting it", camera.config.name)
                    self._engine().camera(camera.config.id).start()
                    camera.running, camera.since = True, time.monotonic()
                    changed = True
        if changed:
            self._beat()  # say so now, not at the next heartbeat

    def _stop_camera(self, camera: _Camera) -> None:
        cam = self._engine().camera(camera.config.id)
        cam.request_stop()
        cam.join(CAMERA_STOP_S)
        camera.lock.release()
        camera.running, camera.since = False, time.monotonic()

    def _beat(self) -> None:
        registry = self.registry
        if registry is None:
            return
        running = [c.claim for c in self._cameras if c.running]
        standby = [c.claim for c in self._cameras if not c.running]
        try:
            if not registry.heartbeat(self.id, running, standby):
                logger.warning("worker %s: its registry row was removed; registering again", self.id)
                registry.register(
                    self.id,
                    host=socket.gethostname(),
                    url=self.url,
                    version=__version__,
                    cameras=running,
                    standby=standby,
                )
            self._last_beat = time.monotonic()
        except ConfigError as exc:  # a clash found on re-registering: keep running, say why
            logger.error("worker %s: %s", self.id, exc)
        except Exception as exc:  # the database is away: the locks' pings will stop the cameras
            logger.warning("worker %s: heartbeat failed: %s", self.id, error_line(exc))


__all__ = ["RunningCameras", "Worker", "default_url", "default_worker_id"]
