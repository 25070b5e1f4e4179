"""HTTP routes served by the same server as the dashboard (Streamlit's ``st.App`` routes).

* ``GET /video_feed/<id>/`` — the prototype's MJPEG stream (``boundary=frame``), never gzipped;
  at most ``MAX_VIEWERS`` at once per process (then 503), and at most ``MAX_VIEWERS_PER_USER`` for
  one signed-in user or token (then 429), so one viewer cannot take every slot;
* ``GET /video_feed/check_cams/`` — the number of cameras, as the prototype answered it;
* ``GET /api/cameras`` — each camera's health as JSON (no credentials).

Each viewer waits for the camera's next picture in a worker thread (``Engine.wait_newer``, woken
by the capture thread's publish), which also draws and encodes the JPEG: the event loop only
writes bytes, and no viewer polls.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from issc.auth import PRINCIPAL_HEADER, read_principal_header
from issc.engine import Engine

BOUNDARY = "frame"
WAIT_S = 0.5  # longest wait for a new picture in a worker thread (bounds a disconnect's cleanup)
NO_SIGNAL_EVERY_S = 1.0

EngineGetter = Callable[[], Engine]

_open_streams = 0  # MJPEG streams open in this process, over every set of routes (for /metrics)


def open_viewers() -> int:
    """MJPEG streams open in this process now."""
    return _open_streams


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


def next_picture(engine: Engine, camera_id: str, after_id: int, timeout: float) -> tuple[int, bytes, int]:
    """(frame id, JPEG, newest id seen) once a picture newer than ``after_id`` is out or ``timeout``
    passed.

    Blocking: runs in a worker thread, where the JPEG is drawn and encoded (once per picture,
    however many viewers ask). After a timeout it answers the current picture: the same id as
    before while the camera is live but slow, or (-1, NO SIGNAL) while it is down. The newest id
    seen is the next ``after_id``, so that a stale picture left in the buffer of a camera that is
    down does not wake the viewer again and again.
    """
    item = engine.wait_newer(camera_id, after_id, timeout)
    frame_id, jpeg = engine.current_jpeg(camera_id)
    newest = max(item.frame.frame_id if item is not None else after_id, frame_id, after_id)
    return frame_id, jpeg, newest


async def mjpeg_parts(
    engine: Engine,
    camera_id: str,
    max_parts: int | None = None,
    limiter: anyio.CapacityLimiter | None = None,
) -> AsyncIterator[bytes]:
    """Yield one multipart part per new frame; NO SIGNAL once a second while the camera is down."""
    last_id = -2  # the last part sent: a frame id, or -1 for NO SIGNAL
    seen_id = -1  # the newest frame id found in the buffer
    sent = 0
    last_sent = 0.0
    while max_parts is None or sent < max_parts:
        frame_id, jpeg, seen_id = await anyio.to_thread.run_sync(
            next_picture,
            engine,
            camera_id,
            seen_id,
            WAIT_S,
            abandon_on_cancel=True,  # a closed connection ends the stream now, not after WAIT_S
            limiter=limiter,
        )
        now = time.monotonic()
        if frame_id >= 0 and frame_id != last_id:
            last_id = frame_id
        elif frame_id < 0 and (last_id != -1 or now - last_sent >= NO_SIGNAL_EVERY_S):
            last_id = -1
        else:
            continue
        last_sent = now
        sent += 1
        yield _part(jpeg)


def too_many_viewers(limit: int) -> JSONResponse:
    return JSONResponse(
        {
            "error": f"this server already streams to {limit} viewers (MAX_VIEWERS={limit}): "
            "close another live view or raise MAX_VIEWERS"
        },
        status_code=503,
        headers={"Retry-After": "5"},
    )


def too_many_for_user(limit: int) -> JSONResponse:
    return JSONResponse(
        {
            "error": f"you already watch {limit} live streams (MAX_VIEWERS_PER_USER={limit}): close one "
            "of them first"
        },
        status_code=429,
        headers={"Retry-After": "5"},
    )


class _ViewerStream(StreamingResponse):
    """A streaming response that gives its viewer slot back however it ends (even unstarted)."""

    def __init__(self, release: Callable[[], None], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()


def routes(get_engine: EngineGetter) -> list[BaseRoute]:
    """The routes, reading the running engine through ``get_engine`` at request time."""
    viewers = 0  # open MJPEG streams of this process
    per_user: dict[str, int] = {}  # open streams of each signed-in principal
    limiter: anyio.CapacityLimiter | None = None  # the viewers' worker threads, made on the loop

    async def video_feed(request: Request) -> Response:
        global _open_streams
        nonlocal viewers, limiter
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
        limit = engine.web.max_viewers
        if viewers >= limit:
            return too_many_viewers(limit)
        principal = read_principal_header(request.headers.get(PRINCIPAL_HEADER))
        who = f"{principal.via}:{principal.name}" if principal is not None and principal.via != "open" else ""
        user_limit = engine.web.max_viewers_per_user
        if who and per_user.get(who, 0) >= user_limit:
            return too_many_for_user(user_limit)
        limiter = limiter or anyio.CapacityLimiter(limit)  # MAX_VIEWERS is read once per process
        viewers += 1
        if who:
            per_user[who] = per_user.get(who, 0) + 1
        _open_streams += 1

        def release() -> None:
            global _open_streams
            nonlocal viewers
            viewers -= 1
            if who:
                left = per_user.get(who, 1) - 1
                if left > 0:
                    per_user[who] = left
                else:
                    per_user.pop(who, None)
            _open_streams -= 1

        return _ViewerStream(
            release,
            mjpeg_parts(engine, camera_id, limiter=limiter),
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
