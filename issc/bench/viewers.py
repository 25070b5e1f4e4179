"""viewers: MJPEG viewers of the demo camera through the real ``/video_feed`` route, by count.

``python -m issc.bench viewers [--viewers 1,8,32] [--seconds N] [--routes FILE] [--json]``

The engine runs one demo camera (no detector) and the routes of ``issc.web`` (or of another copy
of that module, ``--routes FILE``, to compare with an older version) are served by uvicorn on
loopback in this process. A second process opens the viewers at once, reads every stream with
non-blocking sockets and counts the parts. Reported per viewer count: the event loop's CPU time
per delivered viewer-frame (the server thread's own CPU clock), frames per second delivered to
each viewer, and this process's CPU (every thread: capture, encoding, the loop).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import multiprocessing as mp
import selectors
import socket
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import psutil
from starlette.routing import BaseRoute

from issc.bench.common import ProcessMeter, print_json, print_table
from issc.config import CameraSettings, DetectionSettings, WebSettings
from issc.engine import Engine
from issc.sources.demo import DemoSource

MARK = b"Content-Type: image/jpeg"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--viewers", default="1,8,32", help="comma-separated viewer counts")
    parser.add_argument("--seconds", type=float, default=8.0, help="measured seconds per count")
    parser.add_argument("--width", type=int, default=1280, help="demo picture width")
    parser.add_argument("--height", type=int, default=720, help="demo picture height")
    parser.add_argument("--fps", type=float, default=15.0, help="demo camera frame rate")
    parser.add_argument("--routes", type=Path, help="another copy of issc/web.py to serve instead")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def load_routes(path: Path | None) -> ModuleType:
    """``issc.web``, or the module in ``path`` (an older copy, for before/after figures)."""
    if path is None:
        from issc import web

        return web
    spec = importlib.util.spec_from_file_location("issc_web_under_test", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load routes from {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class RouteServer:
    """Starlette ``routes`` served by uvicorn on a free loopback port, in a thread of its own."""

    def __init__(self, routes: list[BaseRoute], send_buffer: int | None = None) -> None:
        """``send_buffer``: the kernel's send buffer per connection (bytes), to make slow readers
        felt at once instead of after megabytes of buffering."""
        import uvicorn
        from starlette.applications import Starlette

        self._socket = socket.socket()
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if send_buffer is not None:
            self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)  # inherited
        self._socket.bind(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        config = uvicorn.Config(
            Starlette(routes=routes),
            log_level="error",
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self.url = f"http://127.0.0.1:{self.port}"
        self.native_id = 0
        self._thread = threading.Thread(target=self._run, name="issc-bench-uvicorn", daemon=True)

    def _run(self) -> None:
        self.native_id = threading.get_native_id()
        asyncio.run(self._server.serve(sockets=[self._socket]))

    def __enter__(self) -> RouteServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self._socket.close()

    def loop_cpu_s(self) -> float:
        """CPU seconds of the event loop's thread so far."""
        for thread in psutil.Process().threads():
            if thread.id == self.native_id:
                return thread.user_time + thread.system_time
        return 0.0


def read_streams(port: int, path: str, viewers: int, seconds: float, counts: Any) -> None:
    """Open ``viewers`` streams at once and count each one's parts for ``seconds`` (a process)."""
    sel = selectors.DefaultSelector()
    tails: dict[int, bytes] = {}
    for index in range(viewers):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        sock.setblocking(False)
        sel.register(sock, selectors.EVENT_READ, index)
        tails[index] = b""
    warm_until = time.monotonic() + 1.0  # the first second is not counted
    deadline = warm_until + seconds
    while (now := time.monotonic()) < deadline:
        for key, _ in sel.select(timeout=0.2):
            data = key.fileobj.recv(1 << 20)  # type: ignore[union-attr]
            if not data:
                sel.unregister(key.fileobj)
                continue
            index = key.data
            chunk = tails[index] + data
            if now >= warm_until:
                counts[index] += chunk.count(MARK)
            tails[index] = chunk[-len(MARK) + 1 :] if MARK not in chunk[-len(MARK) :] else b""
    for key in list(sel.get_map().values()):
        key.fileobj.close()  # type: ignore[union-attr]


def measure(module: ModuleType, viewers: int, seconds: float, width: int, height: int, fps: float) -> dict:
    engine = Engine(
        CameraSettings(cameras="demo"),
        DetectionSettings(detector="none"),
        WebSettings(max_viewers=max(viewers, 1)),
        source_factory=lambda cam, stop: DemoSource(stop, width, height, fps),
    ).start()
    try:
        time.sleep(1.0)
        with RouteServer(module.routes(lambda: engine)) as server:
            counts = mp.get_context("spawn").Array("l", viewers)
            reader = mp.get_context("spawn").Process(
                target=read_streams, args=(server.port, "/video_feed/0/", viewers, seconds, counts)
            )
            reader.start()
            time.sleep(1.0)  # connect and warm up (the reader skips its first second too)
            loop0 = server.loop_cpu_s()
            meter = ProcessMeter().start()
            reader.join(seconds + 30)
            meter.stop()
            loop_s = server.loop_cpu_s() - loop0
            frames = list(counts)
    finally:
        engine.stop()
    total = sum(frames)
    return {
        "viewers": viewers,
        "fps_per_viewer": round(total / viewers / seconds, 2),
        "min_fps_viewer": round(min(frames) / seconds, 2),
        "loop_cpu_ms_per_viewer_frame": round(1000 * loop_s / total, 3) if total else None,
        "loop_cpu_percent": round(100 * loop_s / meter.wall_s, 1),
        "process_cpu_percent": round(meter.cpu_percent, 1),
        "camera_fps": fps,
    }


def main(args: argparse.Namespace) -> int:
    module = load_routes(args.routes)
    rows = [
        measure(module, int(n), args.seconds, args.width, args.height, args.fps)
        for n in args.viewers.split(",")
    ]
    if args.json:
        print_json({"routes": str(args.routes or "issc/web.py"), "results": rows})
    else:
        print_table(list(rows[0]), [list(row.values()) for row in rows])
    return 0
