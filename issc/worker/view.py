"""What a worker's HTTP routes see: only the cameras it runs now, and its ``/api/health`` body."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from issc.config import CameraConfig
from issc.engine import Engine
from issc.engine.buffer import Published
from issc.health import camera_json, health_json
from issc.service import Service
from issc.types import CameraStatus


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


def health_body(
    service: Service,
    view: RunningCameras,
    *,
    worker: dict[str, str],
    standby: Callable[[], list[str]],
    running: Callable[[], list[str]],
) -> dict[str, Any]:
    """``/api/health``: the store's writer and the running cameras, plus who and what this worker is.

    Args:
        service: The worker's service.
        view: The cameras it runs now.
        worker: Its ``id``, ``url`` and ``version``.
        standby: The names of the cameras it waits for.
        running: The names of the cameras it runs (for what each is tuned with now).
    """
    body = health_json(service)
    cameras = [camera_json(status) for status in view.status()]
    online = any(c["state"] == "online" for c in cameras)
    store_ok = body["store"] is None or body["store"]["ok"]
    return {
        **body,
        "ok": store_ok and (online or not cameras),
        "cameras": cameras,
        "worker": worker,
        "standby": standby(),
        # what each running camera is tuned with now (a change saved on the dashboard shows here)
        "tuning": {name: service.engine.tuning_for(name).model_dump() for name in running()},
    }


__all__ = ["RunningCameras", "health_body"]
