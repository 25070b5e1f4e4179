"""What a worker does with changes saved elsewhere (the dashboard): tuning, watchlist, cameras, zones.

The worker's change feed (:class:`issc.cluster.ChangeFeed`, thread ``issc-changes``) calls
:meth:`ChangeReactions.apply` with the topics that changed: the saved tuning is read again (an
override cleared elsewhere is dropped), and so are the watchlist and the cameras' lines and zones,
within milliseconds on PostgreSQL (``LISTEN issc_changes``) and within one poll (1 s) without
notices. A change of the stored cameras (the Cameras page) lists, restarts or stops them
(:meth:`ChangeReactions.sync_stored_cameras`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from issc.cluster import LockSession
from issc.cluster.changes import CAMERAS, TOPICS, ZONES, reload_changed
from issc.config import CameraConfig, Settings
from issc.redact import error_line
from issc.service import Service
from issc.worker.claims import ListedCameras

logger = logging.getLogger(__name__)


class ChangeReactions:
    """A worker's reactions to the change feed.

    Args:
        worker_id: The worker's id (for its log lines).
        settings: The worker's settings (its ``CAMERAS``).
        cameras: The cameras it lists.
        service: Its service now (None: not built yet, or stopped).
        session: Its lock session now (None: still starting, or stopped).
    """

    def __init__(
        self,
        worker_id: str,
        settings: Settings,
        cameras: ListedCameras,
        service: Callable[[], Service | None],
        session: Callable[[], LockSession | None],
    ) -> None:
        self._worker_id = worker_id
        self._settings = settings
        self._cameras = cameras
        self._service = service
        self._session = session

    def catch_up(self) -> None:
        """Read the tuning and the watchlist once more (a change saved while the service was being
        built came before the feed); the database away: the feed's polls catch up."""
        try:
            self.apply(TOPICS)
        except Exception as exc:  # the database is away: the feed's polls catch up
            logger.warning(
                "worker %s: tuning and watchlist not read again: %s", self._worker_id, error_line(exc)
            )

    def apply(self, topics: frozenset[str]) -> None:
        """Read the saved tuning, the watchlist and/or the cameras' lines and zones again (raises
        when the database is away: the feed tries again)."""
        service = self._service()
        if service is None or service.store is None:
            return
        if CAMERAS in topics:
            self.sync_stored_cameras()
            topics |= {ZONES}  # a stored camera listed now gets its lines and zones too
        reload_changed(topics, service.engine.tuning, self._cameras.names(), service.store, service)
        logger.debug("worker %s: %s read again", self._worker_id, " and ".join(sorted(topics)))

    def sync_stored_cameras(self) -> None:
        """List the enabled stored cameras (the Cameras page) beside those of ``CAMERAS``: a new one
        is tried by the next round (its lock decides who runs it), a changed one restarts, a removed
        or disabled one stops. Raises when the database cannot be read (the feed tries again)."""
        service, session = self._service(), self._session()
        if service is None or service.store is None or session is None:
            return  # still starting: start() lists them once the locks can be made
        configured = {c.name for c in self._settings.cameras.cameras}
        wanted: dict[str, tuple[CameraConfig, str | None]] = {}
        for record in service.store.list_cameras():
            if not record.enabled or record.name in configured:
                continue
            try:
                wanted[record.name] = (record.config(), record.worker)
            except ValueError as exc:
                logger.warning("worker %s: stored camera %s left out: %s", self._worker_id, record.name, exc)
        self._cameras.replace_stored(wanted, session)


__all__ = ["ChangeReactions"]
