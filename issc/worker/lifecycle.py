"""The worker's life: build the service, register, take the locks it can, loop once a second, stop.

:class:`Worker` builds the process's service (detector, history store, alerts;
:class:`issc.service.Service`) for every listed camera, but starts only the cameras whose advisory
lock it gets (:mod:`issc.worker.claims`). A loop on its own thread, once a second, runs a round of
lock checks and tries, and every ``HEARTBEAT_S`` renews its row in the ``workers`` table with what it
runs now (:mod:`issc.worker.registration`). Its change feed brings changes made elsewhere
(:mod:`issc.worker.changes`); its routes see only the running cameras (:mod:`issc.worker.view`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from issc import __version__
from issc.cluster import ChangeFeed, LockSession, Registry, WorkerRow
from issc.config import Settings, is_loopback
from issc.engine import Engine
from issc.errors import ConfigError
from issc.memory import tune_malloc
from issc.service import Service
from issc.worker.changes import ChangeReactions
from issc.worker.claims import CAMERA_STOP_S, ListedCameras
from issc.worker.registration import (
    default_url,
    default_worker_id,
    heartbeat,
    register,
    unregister,
    warn_if_unreachable,
)
from issc.worker.view import RunningCameras, health_body

if TYPE_CHECKING:
    import sqlalchemy as sa

logger = logging.getLogger(__name__)

#: Seconds between two rounds of the worker's loop (lock checks and tries).
POLL_S = 1.0


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
        self._cameras = ListedCameras(self.id, self._engine)
        self._reactions = ChangeReactions(
            self.id, settings, self._cameras, lambda: self.service, lambda: self._session
        )
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
            self._cameras.list_configured(self.settings.cameras.cameras, self._session)
            self._reactions.sync_stored_cameras()
            register(self.registry, self.id, self.url, standby=self._cameras.claims())
            self._registered = True
            warn_if_unreachable(self.settings.cluster, self.id, self.url)
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
        self._cameras.stop_all()
        if self._session is not None:
            self._session.close()
            self._session = None
        if self.registry is not None and self._registered:  # never the row of a worker it clashed with
            unregister(self.registry, self.id)
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
        return self._cameras.running_ids()

    def running_names(self) -> list[str]:
        return self._cameras.running_names()

    def standby_names(self) -> list[str]:
        return self._cameras.standby_names()

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
        return health_body(
            self.service,
            self.cameras_view(),
            worker={"id": self.id, "url": self.url, "version": __version__},
            standby=self.standby_names,
            running=self.running_names,
        )

    # --- changes made elsewhere ----------------------------------------------------------------

    def _follow_changes(self, engine: sa.Engine) -> None:
        """Start the change feed, then read the tuning and the watchlist once more (a change saved
        while the service was being built came before the feed)."""
        self._changes = ChangeFeed(engine, self._reactions.apply).start()
        self._reactions.catch_up()

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
        if self._cameras.round(self._stop, self._live_ids):
            self._beat()  # say so now, not at the next heartbeat

    def _live_ids(self) -> set[str]:
        return {row.id for row in self.registry.live()} if self.registry else set()

    def _beat(self) -> None:
        registry = self.registry
        if registry is None:
            return
        running, standby = self._cameras.running_claims(), self._cameras.standby_claims()
        if heartbeat(registry, self.id, self.url, running, standby):
            self._last_beat = time.monotonic()


__all__ = ["POLL_S", "Worker"]
