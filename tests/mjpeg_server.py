"""A small MJPEG-over-HTTP camera for tests: serves generated frames on loopback, can be killed and
restarted on the same port."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np


class MjpegCamera:
    def __init__(self, port: int, fps: float = 15.0, size: tuple[int, int] = (320, 240)) -> None:
        self.port = port
        self.fps = fps
        self.size = size
        self.url = f"http://127.0.0.1:{port}/stream.mjpg"
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._alive = threading.Event()

    def frame(self, index: int) -> bytes:
        w, h = self.size
        img = np.full((h, w, 3), (40, 120, 40), np.uint8)
        cv2.putText(img, f"cam {index}", (10, h // 2), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (255, 255, 255), 2)
        return cv2.imencode(".jpg", img)[1].tobytes()

    def start(self) -> MjpegCamera:
        camera = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=camboundary")
                self.end_headers()
                index = 0
                try:
                    while camera._alive.is_set():
                        jpeg = camera.frame(index)
                        self.wfile.write(
                            b"--camboundary\r\nContent-Type: image/jpeg\r\nContent-Length: "
                            + str(len(jpeg)).encode()
                            + b"\r\n\r\n"
                            + jpeg
                            + b"\r\n"
                        )
                        self.wfile.flush()
                        index += 1
                        time.sleep(1 / camera.fps)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self._alive.set()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # kill() returns within 50 ms, not the default 0.5 s
            name="test-mjpeg",
            daemon=True,
        )
        self._thread.start()
        return self

    def kill(self) -> None:
        """Stop serving and drop every open stream, like a camera losing power."""
        self._alive.clear()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
