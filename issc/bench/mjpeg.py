"""mjpeg: our HTTP MJPEG reader against FFmpeg's ``mpjpeg`` demuxer (PyAV, OpenCV) on a real clip.

``python -m issc.bench mjpeg [--seconds N] [--clip NAME] [--json]``

A server process on loopback streams the JPEG frames of a real clip as our ``/video_feed/<id>/``
route does (``multipart/x-mixed-replace; boundary=frame``, with Content-Length), paced at 25 fps
and uncapped. Each client runs in this process, one after the other, and is measured on: decoded
frames per second, process CPU per frame, latency (send → BGR picture, read from a block code the
server draws on every frame), time to the first frame; how long ``read``/``open`` take to raise on
a server that stalls, closes, never answers or refuses; and ``user:password@`` credentials (HTTP
Basic and Digest, a percent-encoded password), including whether the password leaks into an error
message or onto stderr.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import multiprocessing as mp
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import cv2
import numpy as np
import requests

from issc.bench.common import ProcessMeter, clips, print_json, print_table
from issc.config import redact_url
from issc.errors import SourceError
from issc.sources.base import NETWORK_TIMEOUT_S
from issc.sources.capture import CaptureSource
from issc.sources.http import CONNECT_TIMEOUT_S, HttpSource

BOUNDARY = b"frame"  # as issc.web sends it
FPS = 25.0
QUALITY = 80  # the live stream's default JPEG quality
USER, PASSWORD = "admin", "p@ss:w/rd"  # a password that must be percent-encoded in a URL
QUOTED_PASSWORD = "p%40ss%3Aw%2Frd"
CODE_BITS, CODE_CELL = 12, 16  # the frame index, as black/white squares along the top-left edge
HANG_S = 30.0  # how long the stall and no-answer endpoints hold the connection before closing it
FAIL_LIMIT_S = NETWORK_TIMEOUT_S + 2.0  # a failure must surface within this for reconnects to work


# --- the camera (server process) ----------------------------------------------------------------


def stamp(image: np.ndarray, index: int) -> np.ndarray:
    image = image.copy()
    for bit in range(CODE_BITS):
        value = 255 if index >> bit & 1 else 0
        image[:CODE_CELL, bit * CODE_CELL : (bit + 1) * CODE_CELL] = value
    return image


def read_stamp(image: np.ndarray) -> int:
    cells = image[:CODE_CELL, : CODE_BITS * CODE_CELL].reshape(CODE_CELL, CODE_BITS, CODE_CELL, -1)
    bits = cells.mean(axis=(0, 2, 3)) > 127
    return int(sum(1 << i for i, on in enumerate(bits) if on))


def _digest(method: str, uri: str, fields: dict[str, str]) -> str:
    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()

    ha1, ha2 = md5(f"{USER}:cam:{PASSWORD}"), md5(f"{method}:{uri}")
    nonce, nc, cnonce = fields.get("nonce", ""), fields.get("nc", ""), fields.get("cnonce", "")
    return md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")


def _authorised(kind: str, header: str, method: str) -> bool:
    if kind == "basic":
        return header == "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    if not header.startswith("Digest "):
        return False
    fields = {}
    for item in header[7:].split(","):
        key, _, value = item.strip().partition("=")
        fields[key] = value.strip('"')
    return fields.get("username") == USER and fields.get("response") == _digest(
        method, fields.get("uri", ""), fields
    )


def serve(clip: str, sent_at, port_queue) -> None:
    """Serve the clip's frames as MJPEG on loopback until killed (runs in its own process)."""
    jpegs = []
    cap = cv2.VideoCapture(clip)
    while len(jpegs) < 250:
        ok, image = cap.read()
        if not ok:
            break
        jpegs.append(cv2.imencode(".jpg", stamp(image, len(jpegs)), [cv2.IMWRITE_JPEG_QUALITY, QUALITY])[1])
    cap.release()
    sized = [
        b"--%s\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n%s\r\n" % (BOUNDARY, len(j), j)
        for j in (j.tobytes() for j in jpegs)
    ]
    bare = [b"--%s\r\nContent-Type: image/jpeg\r\n\r\n%s\r\n" % (BOUNDARY, j.tobytes()) for j in jpegs]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            mode, query = url.path.strip("/").split("/")[-1], parse_qs(url.query)
            kind = url.path.strip("/").split("/")[0]
            if kind in ("basic", "digest") and not _authorised(
                kind, self.headers.get("Authorization", ""), "GET"
            ):
                self.send_response(401)
                challenge = (
                    'Basic realm="cam"'
                    if kind == "basic"
                    else 'Digest realm="cam", nonce="n0nc3", qop="auth"'
                )
                self.send_header("WWW-Authenticate", challenge)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if mode == "hang":
                time.sleep(HANG_S)
                return
            self.send_response(200)
            self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY.decode()}")
            self.send_header("Cache-Control", "no-cache, no-store, must-revalidate")
            self.end_headers()
            after = int(query.get("after", ["0"])[0]) or None
            parts = bare if mode == "bare" else sized
            t0, sent = time.monotonic(), 0
            try:
                while after is None or sent < after:
                    if mode != "uncapped":
                        delay = t0 + sent / FPS - time.monotonic()
                        if delay > 0:
                            time.sleep(delay)
                    index = sent % len(parts)
                    sent_at[index] = time.monotonic()
                    self.wfile.write(parts[index])
                    sent += 1
                if mode == "stall":
                    self.wfile.flush()
                    time.sleep(HANG_S)
            except OSError:
                pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_queue.put(server.server_address[1])
    server.serve_forever()


# --- the clients --------------------------------------------------------------------------------


class RequestsMjpegSource:
    """The reader ``HttpSource`` had before issue 9, kept as the baseline: ``requests`` in 64 KiB
    reads, JPEG start/end markers searched in a buffer, ``cv2.imdecode``."""

    def __init__(self, url: str) -> None:
        self.url, self.fps, self.dropped = url, 0.0, 0
        self._response: requests.Response | None = None
        self._chunks: Iterator[bytes] | None = None
        self._buffer = bytearray()

    def open(self) -> None:
        try:
            response = requests.get(self.url, stream=True, timeout=(CONNECT_TIMEOUT_S, NETWORK_TIMEOUT_S))
        except requests.RequestException as exc:
            raise SourceError(f"cannot connect: {type(exc).__name__}") from None
        if response.status_code >= 400:
            response.close()
            raise SourceError(f"answered HTTP {response.status_code}")
        self._response, self._chunks = response, response.iter_content(chunk_size=64 * 1024)

    def read(self) -> np.ndarray:
        while True:
            start = self._buffer.find(b"\xff\xd8")
            end = self._buffer.find(b"\xff\xd9", start + 2) if start >= 0 else -1
            if end >= 0:
                jpeg = bytes(self._buffer[start : end + 2])
                del self._buffer[: end + 2]
                image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
                if image is not None:
                    return image
                continue
            try:
                self._buffer += next(self._chunks)  # type: ignore[arg-type]
            except StopIteration:
                raise SourceError("closed the stream") from None
            except (requests.RequestException, OSError) as exc:
                raise SourceError(f"stopped sending frames ({type(exc).__name__})") from None

    def close(self) -> None:
        if self._response is not None:
            self._response.close()
            self._response = None


class PyAVDecodeSource(HttpSource):
    """``HttpSource`` with FFmpeg's own JPEG decoder and colour conversion instead of ``imdecode``."""

    def _next_image(self) -> np.ndarray:
        assert self._container is not None
        for frame in self._container.decode(video=0):
            return frame.to_ndarray(format="bgr24")
        raise SourceError("closed the stream")


CLIENTS: dict[str, Callable[[str], Any]] = {
    "before: requests + marker scan": RequestsMjpegSource,
    "HttpSource: PyAV mpjpeg + imdecode": lambda url: HttpSource(url, stop=threading.Event()),
    "PyAV mpjpeg + FFmpeg decode": lambda url: PyAVDecodeSource(url, stop=threading.Event()),
    "OpenCV CAP_FFMPEG": lambda url: CaptureSource(url, label="camera"),
}


# --- measurements -------------------------------------------------------------------------------


def stream_figures(make, url: str, seconds: float, sent_at) -> dict:
    """Frames per second, CPU per frame, latency and time to the first frame of one client."""
    source = make(url)
    t0 = time.monotonic()
    source.open()
    source.read()
    first_s = time.monotonic() - t0
    frames, latencies = 0, []
    meter = ProcessMeter().start()
    until = time.monotonic() + seconds
    try:
        while time.monotonic() < until:
            image = source.read()
            latencies.append((time.monotonic() - sent_at[read_stamp(image)]) * 1000)
            frames += 1
    finally:
        meter.stop()
        source.close()
    return {
        "fps": frames / meter.wall_s,
        "cpu_ms_per_frame": 1000 * meter.cpu_s / max(frames, 1),
        "latency_p50_ms": statistics.median(latencies[5:] or latencies),
        "latency_p95_ms": float(np.percentile(latencies[5:] or latencies, 95)),
        "first_frame_s": first_s,
    }


def failure_figure(make, url: str, during: str) -> str:
    """How long until a client raises on a broken server: ``"1.2 s: SourceError"`` or ``"hangs"``."""
    result: dict[str, object] = {}

    def attempt() -> None:
        source = make(url)
        started = time.monotonic()
        try:
            source.open()
            if during == "read":
                while True:
                    source.read()
                    started = time.monotonic()  # count from the last frame received
        except Exception as exc:
            result["s"], result["error"] = time.monotonic() - started, exc
        finally:
            source.close()

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(HANG_S - 5)
    if "s" not in result:
        return f"hangs > {HANG_S - 5:.0f} s"
    late = "" if float(result["s"]) <= FAIL_LIMIT_S else " TOO LATE"
    message = str(result["error"]).replace(url, "<url>").replace(redact_url(url), "<url>")
    return f"{result['s']:.1f} s{late}: {message[:48]}"


def auth_figure(make, url: str) -> str:
    """``"ok"`` when frames come, else the error; flags an error or stderr that shows the password."""
    with tempfile.TemporaryFile() as captured:
        stderr_copy = os.dup(2)
        os.dup2(captured.fileno(), 2)
        try:
            source = make(url)
            try:
                source.open()
                source.read()
                outcome = "ok"
            except Exception as exc:
                outcome = f"error: {exc}"
            finally:
                source.close()
        finally:
            os.dup2(stderr_copy, 2)
            os.close(stderr_copy)
        captured.seek(0)
        printed = captured.read().decode(errors="replace")
    if any(secret in text for secret in (PASSWORD, QUOTED_PASSWORD) for text in (outcome, printed)):
        outcome += " [PASSWORD LEAKED]"
    return outcome.replace(url, "<url>").replace(redact_url(url), "<url>")


STREAMS = {"paced": "open/paced", "uncapped": "open/uncapped", "no_content_length": "open/bare"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=10.0, help="window per client, stream and repeat")
    parser.add_argument("--repeats", type=int, default=2, help="rounds over all clients; medians are shown")
    parser.add_argument("--clip", default="aiguy_license_plate_uk_LS15EBC.mp4", help="clip under videos/")
    parser.add_argument("--clients", nargs="*", help="only these clients (substrings of their names)")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")


def main(args: argparse.Namespace) -> int:
    clip = clips([args.clip])[0]
    ctx = mp.get_context("spawn")
    sent_at, port_queue = ctx.Array("d", 4096, lock=False), ctx.Queue()
    server = ctx.Process(target=serve, args=(str(clip), sent_at, port_queue), daemon=True)
    server.start()
    port = port_queue.get(timeout=60)
    base, authority = f"http://127.0.0.1:{port}", f"http://{USER}:{QUOTED_PASSWORD}@127.0.0.1:{port}"
    names = [n for n in CLIENTS if not args.clients or any(c.lower() in n.lower() for c in args.clients)]
    runs: dict[str, dict[str, list[dict]]] = {n: {s: [] for s in STREAMS} for n in names}
    results: dict[str, dict] = {}
    try:
        for _ in range(args.repeats):  # interleaved, so that a noisy neighbour hits every client
            for name in names:
                for stream, path in STREAMS.items():
                    runs[name][stream].append(
                        stream_figures(CLIENTS[name], f"{base}/{path}", args.seconds, sent_at)
                    )
        for name in names:
            make = CLIENTS[name]
            results[name] = {
                **{
                    s: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for s, rs in runs[name].items()
                },
                "stall": failure_figure(make, f"{base}/open/stall?after=10", "read"),
                "close": failure_figure(make, f"{base}/open/close?after=10", "read"),
                "no_answer": failure_figure(make, f"{base}/open/hang", "open"),
                "refused": failure_figure(make, "http://127.0.0.1:9/stream", "open"),
                "basic": auth_figure(make, f"{authority}/basic/paced"),
                "digest": auth_figure(make, f"{authority}/digest/paced"),
                "no_credentials": auth_figure(make, f"{base}/basic/paced"),
            }
    finally:
        server.kill()
    print(
        f"mjpeg: {clip.name} as MJPEG (q{QUALITY}, boundary=frame) on loopback; medians of {args.repeats} "
        f"x {args.seconds:.0f} s per client and stream; latency = server write -> BGR picture, ms"
    )
    print()
    print_table(
        [
            "client",
            "fps@25",
            "CPU ms/f",
            "lat p50",
            "lat p95",
            "1st frame s",
            "fps max",
            "CPU ms/f max",
            "lat p50 no C-L",
        ],
        [
            [
                n,
                r["paced"]["fps"],
                r["paced"]["cpu_ms_per_frame"],
                r["paced"]["latency_p50_ms"],
                r["paced"]["latency_p95_ms"],
                r["paced"]["first_frame_s"],
                r["uncapped"]["fps"],
                r["uncapped"]["cpu_ms_per_frame"],
                r["no_content_length"]["latency_p50_ms"],
            ]
            for n, r in results.items()
        ],
    )
    print()
    print(f"time to an error after the last frame (must be <= {FAIL_LIMIT_S:.0f} s for reconnects):")
    print_table(
        ["client", "stall", "close", "no answer", "refused"],
        [[n, r["stall"], r["close"], r["no_answer"], r["refused"]] for n, r in results.items()],
    )
    print()
    print_table(
        ["client", "Basic user:pw@", "Digest user:pw@", "no credentials"],
        [[n, r["basic"], r["digest"], r["no_credentials"]] for n, r in results.items()],
    )
    if args.json:
        print_json({"clip": clip.name, "seconds": args.seconds, "repeats": args.repeats, "clients": results})
    return 0
