"""HTTP routes to manage cameras (automation beside the Cameras page), served by the dashboard:

* ``GET /api/cameras`` → every camera: its health (``id``, ``name``, ``state``, ``fps``, … as
  workers answer it) plus ``origin`` (``configuration``: from ``CAMERAS``, editable only there;
  ``stored``: managed here) and a stored camera's record (``source`` with credentials hidden as
  ``rtsp://***@…``, ``enabled``, ``detect_fps``, ``plate_region``, ``people``, ``worker``, ``notes``).
  A disabled stored camera is listed with ``state: "disabled"``.
* ``POST /api/cameras`` with JSON ``{"name": "gate2", "source": "rtsp://…", …}`` → 201 and the camera;
  it starts at once when enabled (default), the other cameras keep running.
* ``PATCH /api/cameras/<name>`` with some of those fields (and ``password`` to replace the stored
  one) → 200; ``DELETE /api/cameras/<name>`` → 204 (the camera stops).
* ``POST /api/cameras/test`` with ``{"source": …}`` (or ``{"name": …}`` of a stored camera) → 200
  with ``ok``, ``reason``, ``width``, ``height``, ``fps``, ``codec`` and ``jpeg_base64`` (the first picture).

Writes need the admin role (the middleware answers 403 to others). Bad input gets 400 with one
sentence, an unknown camera 404, a camera of the configuration 409. Work runs in the thread pool.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from issc.auth import acting_user
from issc.service import Service

logger = logging.getLogger(__name__)

ServiceGetter = Callable[[], Service]
CONFIGURATION, STORED = "configuration", "stored"


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise ValueError("The body must be a JSON object.") from None
    if not isinstance(body, dict):
        raise ValueError("The body must be a JSON object.")
    return body


def camera_list(service: Service) -> list[dict[str, Any]]:
    """What ``GET /api/cameras`` answers: running cameras with their origin and record, then the
    disabled stored cameras."""
    records = {r.name: r for r in service.camera_records()}
    configured = service.configured_names()
    items = []
    for status in service.engine.status():
        item = status.as_json()
        record = records.pop(status.name, None) if status.name not in configured else None
        item["origin"] = STORED if record is not None else CONFIGURATION
        if record is not None:
            item.update(record.as_json())
        items.append(item)
    for record in records.values():
        items.append(
            {
                "id": record.name,
                "state": "disabled" if not record.enabled else "offline",
                "origin": STORED,
                **record.as_json(),
            }
        )
    return items


def camera_routes(get_service: ServiceGetter) -> list[BaseRoute]:
    """The routes, reading the running service through ``get_service`` at request time."""

    async def list_cameras(request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(camera_list, get_service()))

    async def add(request: Request) -> Response:
        service = get_service()
        try:
            body = await _body(request)
            record = await run_in_threadpool(service.add_camera, body, acting_user(request.headers))
        except ValueError as exc:
            return _error(400, str(exc))
        except LookupError as exc:
            return _error(503, str(exc))
        return JSONResponse(record.as_json(), status_code=201)

    async def change(request: Request) -> Response:
        service = get_service()
        name = request.path_params["name"]
        if name in service.configured_names():
            return _error(409, f"Camera {name!r} comes from CAMERAS in the configuration: edit it there.")
        try:
            body = await _body(request)
            record = await run_in_threadpool(service.update_camera, name, body, acting_user(request.headers))
        except ValueError as exc:
            return _error(400, str(exc))
        except LookupError as exc:
            return _error(503, str(exc))
        if record is None:
            return _error(404, f"No stored camera is named {name!r}.")
        return JSONResponse(record.as_json())

    async def remove(request: Request) -> Response:
        service = get_service()
        name = request.path_params["name"]
        if name in service.configured_names():
            return _error(409, f"Camera {name!r} comes from CAMERAS in the configuration: remove it there.")
        try:
            gone = await run_in_threadpool(service.remove_camera, name)
        except LookupError as exc:
            return _error(503, str(exc))
        if not gone:
            return _error(404, f"No stored camera is named {name!r}.")
        return Response(status_code=204)

    async def test(request: Request) -> Response:
        service = get_service()
        try:
            body = await _body(request)
            result = await run_in_threadpool(service.test_camera, body)
        except ValueError as exc:
            return _error(400, str(exc))
        except LookupError as exc:
            return _error(404, str(exc))
        answer: dict[str, Any] = result.as_json()
        answer["jpeg_base64"] = base64.b64encode(result.jpeg).decode() if result.jpeg else None
        return JSONResponse(answer)

    return [
        Route("/api/cameras", list_cameras, methods=["GET"]),
        Route("/api/cameras", add, methods=["POST"]),
        Route("/api/cameras/test", test, methods=["POST"]),
        Route("/api/cameras/{name}", change, methods=["PATCH"]),
        Route("/api/cameras/{name}", remove, methods=["DELETE"]),
    ]
