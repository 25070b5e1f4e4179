"""HTTP routes for lines, zones and visits (issue 21), served beside ``issc.api``'s plate routes.

* ``GET /api/cameras/<name>/zones`` (admin) → ``{"zones": [...], "width": W, "height": H}``: the
  camera's counting lines and zones in pixels of its frame (``issc.analytics.shapes``).
* ``PUT /api/cameras/<name>/zones`` (admin) with ``{"zones": [...]}`` → the stored shapes; checked
  against the camera's frame (the live one, else ``"width"``/``"height"`` in the body, else the size
  stored before): points inside it, polygons simple, names unique, or 400 with one sentence. Applied
  to the running camera at once and drawn faintly on its live picture.
* ``GET /api/analytics/zones|lines|people?camera=&since=&until=`` (viewer) → the reports of
  :class:`issc.store.analytics.AnalyticsTable` (from hourly totals; the zone report lists visits).
* ``GET /api/analytics/directions?camera=&since=&until=`` → ``{"passes": [{"time", "camera",
  "plate", "direction", "growth"}]}``: which way each plate pass went (newest first).
* ``GET /api/analytics/visits?camera=&since=&until=`` → ``{"visits": [{"plate", "entry_camera",
  "entry", "exit_camera", "exit", "duration_s"}]}``: vehicle visits (``ENTRY_CAMERAS`` to
  ``EXIT_CAMERAS``, :mod:`issc.analytics.vehicles`) that ended in the range.
* ``GET /api/analytics/onsite`` → ``{"vehicles": [{"plate", "camera", "since", "on_site_s",
  "overstay"}], "overstay_min": M}``: vehicles in and not yet out (reads of the last
  ``issc.store.analytics.SITE_LOOKBACK_DAYS``).

The middleware (``issc.auth``) lets viewers read ``/api/analytics/*`` and only admins read or write
``/api/cameras/<name>/zones``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from issc.analytics import ShapeError, parse_shapes, shapes_json
from issc.analytics.vehicles import VehicleVisit
from issc.api import MAX_CAMERA_CHARS, BadParameter, _error, _text, _time, _unavailable
from issc.config import AnalyticsSettings
from issc.store import Store

logger = logging.getLogger(__name__)

REPORT_PARAMS = ("camera", "since", "until")
MAX_FRAME_SIDE = 16384


def _report_params(request: Request) -> dict[str, Any]:
    params = request.query_params
    for name in params:
        if name not in REPORT_PARAMS:
            raise BadParameter(name[:40], f"unknown parameter; expected one of {', '.join(REPORT_PARAMS)}")
    since, until = _time(params, "since"), _time(params, "until")
    if since is not None and until is not None and since >= until:
        raise BadParameter("until", f"expected a time after since ({since.isoformat()})")
    return {"camera": _text(params, "camera", MAX_CAMERA_CHARS), "since": since, "until": until}


def _live_size(engine: Any, camera: str) -> tuple[int, int] | None:
    """The frame size of ``camera`` if it runs in this process and has a picture."""
    for cam in getattr(engine, "all_cameras", lambda: [])():
        if cam.config.name == camera:
            item = cam.buffer.latest()
            if item is not None:
                h, w = item.frame.image.shape[:2]
                return int(w), int(h)
    return None


def _known_camera(engine: Any, camera: str, store: Store) -> bool:
    """A camera the engine runs or lists, or one stored on the Cameras page (running or not)."""
    try:
        if any(c.name == camera for c in engine.configs()):
            return True
    except Exception:
        pass
    return store.get_camera(camera) is not None


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, tz=UTC).isoformat()


def site_visits(store: Store, site: AnalyticsSettings, now: float | None = None) -> list[VehicleVisit]:
    """Vehicle visits and stays of the last ``SITE_LOOKBACK_DAYS`` (``exit`` None: on site)."""
    return store.site_visits(site.entries, site.exits, now)


def analytics_routes(
    get_store: Callable[[], Store],
    get_engine: Callable[[], Any],
    get_site: Callable[[], AnalyticsSettings] = AnalyticsSettings,
) -> list[Route]:
    """Routes for the cameras' lines and zones and the analytics reports."""

    async def get_zones(request: Request) -> Response:
        camera = request.path_params["camera"]

        def read() -> dict[str, Any] | None:
            stored = get_store().camera_shapes(camera)
            if stored is not None:
                return {**shapes_json(stored.shapes), "width": stored.width, "height": stored.height}
            engine = get_engine()
            if not _known_camera(engine, camera, get_store()):
                return None
            size = _live_size(engine, camera)
            return {"zones": [], "width": size[0] if size else None, "height": size[1] if size else None}

        try:
            body = await run_in_threadpool(read)
        except sa.exc.SQLAlchemyError as exc:
            return _unavailable(exc)
        if body is None:
            return _error(404, f"no camera named {camera!r} (see /api/cameras)")
        return JSONResponse(body)

    async def put_zones(request: Request) -> Response:
        camera = request.path_params["camera"]
        if len(camera) > 64:
            return _error(400, "camera names have at most 64 characters", "camera")
        try:
            payload = await request.json()
        except ValueError:
            return _error(400, 'expected a JSON object {"zones": [...]}', "body")

        def write() -> Response:
            store, engine = get_store(), get_engine()
            stored = store.camera_shapes(camera)
            if stored is None and not _known_camera(engine, camera, store):
                return _error(404, f"no camera named {camera!r} (see /api/cameras)")
            size = _live_size(engine, camera)
            if size is None and isinstance(payload, dict) and "width" in payload:
                w, h = payload.get("width"), payload.get("height")
                if not (
                    isinstance(w, int)
                    and isinstance(h, int)
                    and 0 < w <= MAX_FRAME_SIDE
                    and 0 < h <= MAX_FRAME_SIDE
                ):
                    return _error(
                        400, f"width and height must be whole pixels from 1 to {MAX_FRAME_SIDE}", "body"
                    )
                size = (w, h)
            if size is None and stored is not None:
                size = (stored.width, stored.height)
            if size is None:
                return _error(
                    409,
                    f"camera {camera!r} has sent no picture yet: give its frame's width and height in the body",
                )
            items = {"zones": payload.get("zones")} if isinstance(payload, dict) else payload
            try:
                shapes = parse_shapes(items, *size)
            except ShapeError as exc:
                return _error(400, str(exc), "zones")
            saved = store.put_camera_shapes(camera, shapes, *size)
            set_shapes = getattr(engine, "set_shapes", None)
            if set_shapes is not None:
                set_shapes(camera, shapes)
            logger.info("camera %s: %d lines and zones stored", camera, len(shapes))
            return JSONResponse({**shapes_json(saved.shapes), "width": saved.width, "height": saved.height})

        try:
            return await run_in_threadpool(write)
        except sa.exc.SQLAlchemyError as exc:
            return _unavailable(exc)

    def report(name: str) -> Callable[[Request], Any]:
        async def handler(request: Request) -> Response:
            try:
                params = _report_params(request)
            except BadParameter as exc:
                return _error(400, str(exc), exc.name)
            try:
                body = await run_in_threadpool(lambda: getattr(get_store(), f"{name}_report")(**params))
            except sa.exc.SQLAlchemyError as exc:
                return _unavailable(exc)
            return JSONResponse(body)

        return handler

    async def visits(request: Request) -> Response:
        try:
            params = _report_params(request)
        except BadParameter as exc:
            return _error(400, str(exc), exc.name)
        since = params["since"].timestamp() if params["since"] else 0.0
        until = params["until"].timestamp() if params["until"] else float("inf")
        camera = params["camera"]
        try:
            found = await run_in_threadpool(lambda: site_visits(get_store(), get_site()))
        except sa.exc.SQLAlchemyError as exc:
            return _unavailable(exc)
        items = [
            {
                "plate": v.plate,
                "entry_camera": v.entry.camera,
                "entry": _iso(v.entry.at),
                "exit_camera": v.exit.camera,
                "exit": _iso(v.exit.at),
                "duration_s": round(v.duration_s or 0.0, 1),
            }
            for v in found
            if v.exit is not None
            and since <= v.exit.at < until
            and (camera is None or camera in (v.entry.camera, v.exit.camera))
        ]
        return JSONResponse({"visits": items})

    async def onsite(request: Request) -> Response:
        if request.query_params:
            return _error(400, "expected no parameters", next(iter(request.query_params))[:40])
        site = get_site()
        now = time.time()
        try:
            found = await run_in_threadpool(lambda: site_visits(get_store(), site, now))
        except sa.exc.SQLAlchemyError as exc:
            return _unavailable(exc)
        limit = site.overstay_min * 60
        items = [
            {
                "plate": v.plate,
                "camera": v.entry.camera,
                "since": _iso(v.entry.at),
                "on_site_s": round(v.on_site_s(now), 1),
                "overstay": bool(limit) and v.on_site_s(now) > limit,
            }
            for v in found
            if v.exit is None
        ]
        return JSONResponse({"vehicles": items, "overstay_min": site.overstay_min})

    return [
        Route("/api/analytics/visits", visits, methods=["GET"]),
        Route("/api/analytics/onsite", onsite, methods=["GET"]),
        Route("/api/cameras/{camera}/zones", get_zones, methods=["GET"]),
        Route("/api/cameras/{camera}/zones", put_zones, methods=["PUT"]),
        Route("/api/analytics/zones", report("zone"), methods=["GET"]),
        Route("/api/analytics/lines", report("line"), methods=["GET"]),
        Route("/api/analytics/people", report("people"), methods=["GET"]),
        Route("/api/analytics/directions", report("direction"), methods=["GET"]),
    ]
