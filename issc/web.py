"""HTTP routes served by the same server as the dashboard (Streamlit's ``st.App`` routes).

* ``GET /video_feed/<id>/`` — the prototype's MJPEG stream (``boundary=frame``), never gzipped;
* ``GET /video_feed/check_cams/`` — the number of cameras, as the prototype answered it;
* ``GET /api/cameras`` — each camera's health as JSON (no credentials).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from issc.engine import Engine

BOUNDARY = "frame"
POLL_S = 0.01
NO_SIGNAL_EVERY_S = 1.0

EngineGetter = Callable[[], Engine]


def _part(jpeg: bytes) -> bytes:
    return (
        b"--"
        + BOUNDARY.encode()
        + b"\r\nContent-Type: image/jpeg\r\nContent-Length: "
        + str(len(jpeg)).encode()
        + b"\r\n\r\n"
        + jpeg
        + b"\r\n"
    )


async def mjpeg_parts(engine: Engine, camera_id: str, max_parts: int | None = None) -> AsyncIterator[bytes]:
    """Yield one multipart part per new frame; NO SIGNAL once a second while the camera is down."""
    last_id = -2
    sent = 0
    loop = asyncio.get_running_loop()
    last_sent = 0.0
    while max_parts is None or sent < max_parts:
        frame_id, jpeg = engine.current_jpeg(camera_id)  # both cached: polling encodes nothing twice
        now = loop.time()
        if frame_id >= 0 and frame_id != last_id:
            last_id = frame_id
        elif frame_id < 0 and (last_id != -1 or now - last_sent >= NO_SIGNAL_EVERY_S):
            last_id = -1
        else:
            await asyncio.sleep(POLL_S)
            continue
        last_sent = now
        sent += 1
        yield _part(jpeg)


def routes(get_engine: EngineGetter) -> list[BaseRoute]:
    """The routes, reading the running engine through ``get_engine`` at request time."""

    async def video_feed(request: Request) -> Response:
        engine = get_engine()
        camera_id = request.path_params["camera_id"]
        try:
            engine.camera(camera_id)
        except KeyError:
            known = ", ".join(c.id for c in engine.configs()) or "none"
            return JSONResponse(
                {"error": f"no camera with id {camera_id!r}; known ids: {known} (see /api/cameras)"},
                status_code=404,
            )
        return StreamingResponse(
            mjpeg_parts(engine, camera_id),
            media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
            headers={
                # Streamlit's gzip middleware would buffer the endless stream otherwise.
                "Content-Encoding": "identity",
                "Cache-Control": "no-cache, no-store, must-revalidate",
                "X-Accel-Buffering": "no",
            },
        )

    async def check_cams(request: Request) -> Response:
        # The prototype answered with the bare number; "3" is also valid JSON.
        return Response(str(len(get_engine().cameras)), media_type="application/json")  # configured only

    async def cameras(request: Request) -> Response:
        return JSONResponse([status.as_json() for status in get_engine().status()])

    return [
        Route("/video_feed/check_cams/", check_cams, methods=["GET"]),
        Route("/video_feed/{camera_id}/", video_feed, methods=["GET"]),
        Route("/api/cameras", cameras, methods=["GET"]),
    ]
