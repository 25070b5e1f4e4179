"""The cameras a worker lists and their advisory locks: which run here, a round of lock checks, stopping.

A camera runs on this worker only while it holds the camera's lock (:mod:`issc.cluster.locks`). A
round (:meth:`ListedCameras.round`, once a second from the worker's loop) stops every camera whose
lock is lost (the database went away: some other worker may start it now) and starts each camera
whose lock it gets now (failover: the holder died). A stored camera with a worker of its own is taken
only while that worker is dead.

Cameras start and stop one at a time through the engine's cameras (``Engine.camera(id).start()``,
``request_stop()``, ``join()``); the engine itself is never started, so that ``Engine.start()`` does
not start every listed camera.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from issc.cluster import CameraClaim, CameraLock, LockSession
from issc.config import CameraConfig
from issc.engine import Engine

logger = logging.getLogger(__name__)

#: Seconds a stopping camera may take to finish its threads.
CAMERA_STOP_S = 10.0


@dataclass
class ListedCamera:
    """One listed camera: its configuration, its claim in the registry and its lock."""

    config: CameraConfig
    claim: CameraClaim
    lock: CameraLock
    running: bool = False
    since: float = field(default_factory=time.monotonic)
    preferred: str | None = None  # a stored camera's worker: others take it only while that one is dead


class ListedCameras:
    """The cameras one worker lists (``CAMERAS`` and the enabled stored ones) and which of them run.

    Args:
        worker_id: The worker's id (a stored camera preferring it is started like any other).
        engine: The service's engine (called when needed: the worker builds it at its start).
    """

    def __init__(self, worker_id: str, engine: Callable[[], Engine]) -> None:
        self._worker_id = worker_id
        self._engine = engine
        self._cameras: list[ListedCamera] = []  # replaced whole: readers on other threads iterate it unlocked
        self._state = threading.Lock()  # guards each camera's running flag

    def list_configured(self, configs: Iterable[CameraConfig], session: LockSession) -> None:
        """List the cameras of ``CAMERAS``, each with its lock on ``session`` (not taken yet)."""
        self._cameras = [ListedCamera(cfg, CameraClaim.of(cfg), session.lock(cfg.name)) for cfg in configs]

    # --- what runs -----------------------------------------------------------------------------

    def names(self) -> list[str]:
        return [c.config.name for c in self._cameras]

    def running_ids(self) -> set[str]:
        """Ids (positions in ``CAMERAS``) of the cameras running here now."""
        return {c.config.id for c in self._cameras if c.running}

    def running_names(self) -> list[str]:
        return [c.config.name for c in self._cameras if c.running]

    def standby_names(self) -> list[str]:
        return [c.config.name for c in self._cameras if not c.running]

    def claims(self) -> list[CameraClaim]:
        return [c.claim for c in self._cameras]

    def running_claims(self) -> list[CameraClaim]:
        return [c.claim for c in self._cameras if c.running]

    def standby_claims(self) -> list[CameraClaim]:
        return [c.claim for c in self._cameras if not c.running]

    # --- the locks -----------------------------------------------------------------------------

    def round(self, stopping: threading.Event, live: Callable[[], set[str]]) -> bool:
        """Stop cameras whose lock is lost; start cameras whose lock it gets now.

        Args:
            stopping: Set when the worker stops (the round ends at once).
            live: The ids of the live workers (read once a round, when a camera prefers one).

        Returns:
            Whether a camera started or stopped (the worker says so in the registry at once).
        """
        changed = False
        live_ids: set[str] | None = None
        with self._state:
            for camera in self._cameras:
                if stopping.is_set():
                    return False
                if camera.running and not camera.lock.alive():
                    logger.warning("camera %s: its lock is lost, stopping it", camera.config.name)
                    self._stop_camera(camera)
                    changed = True
                elif not camera.running and camera.preferred not in (None, self._worker_id):
                    if live_ids is None:
                        live_ids = live()
                    if camera.preferred in live_ids:
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
        return changed

    def stop_all(self) -> None:
        """Stop every running camera (within :data:`CAMERA_STOP_S` in all) and give every lock up."""
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

    def _stop_camera(self, camera: ListedCamera) -> None:
        cam = self._engine().camera(camera.config.id)
        cam.request_stop()
        cam.join(CAMERA_STOP_S)
        camera.lock.release()
        camera.running, camera.since = False, time.monotonic()

    # --- stored cameras ------------------------------------------------------------------------

    def replace_stored(
        self, wanted: dict[str, tuple[CameraConfig, str | None]], session: LockSession
    ) -> None:
        """List ``wanted`` (stored cameras by name, each with its preferred worker) in place of the
        stored cameras listed now: a new one is tried by the next round (its lock decides who runs
        it), a changed one restarts, a removed or disabled one stops."""
        engine = self._engine()
        wanted = dict(wanted)
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
                logger.info(
                    "worker %s: stored camera %s removed or changed", self._worker_id, camera.config.name
                )
            for name, (config, preferred) in wanted.items():
                engine.add_camera(config)  # the engine never runs: the next round starts it
                cameras.append(
                    ListedCamera(config, CameraClaim.of(config), session.lock(name), preferred=preferred)
                )
                logger.info("worker %s: stored camera %s listed", self._worker_id, name)
            self._cameras = cameras


__all__ = ["CAMERA_STOP_S", "ListedCamera", "ListedCameras"]
