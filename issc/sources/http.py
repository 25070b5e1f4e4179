"""http(s) cameras, read through FFmpeg (PyAV): MJPEG streams, JPEG snapshot URLs, other video.

FFmpeg's HTTP client and ``mpjpeg`` demuxer replaced our own ``multipart/x-mixed-replace`` parser
(issue 9): on a real 720p clip they use less CPU per frame, hand each frame over as soon as it has
arrived (ours waited for the next 64 KiB read) and also speak HTTP Digest, which many IP cameras
ask for. JPEG frames are decoded by OpenCV (libjpeg-turbo), faster than FFmpeg's decoder plus a
colour conversion. ``python -m issc.bench mjpeg`` measures all of this; BENCHMARKS.md has figures.
"""

from __future__ import annotations

import errno
import threading
import time
from collections.abc import Iterator

import av
import certifi
import cv2
import numpy as np

from issc.errors import SourceError
from issc.redact import redact_url
from issc.sources.base import NETWORK_TIMEOUT_S

CONNECT_TIMEOUT_S = 3.0
SNAPSHOT_INTERVAL_S = 0.2  # a camera that only serves single JPEGs is polled at most 5 times a second

# FFmpeg options: verify https certificates against the same CA bundle as ``requests`` (FFmpeg does
# not verify by default), and do not ask for SHOUTcast metadata.
FFMPEG_OPTIONS = {"tls_verify": "1", "ca_file": certifi.where(), "icy": "0"}

_HTTP_STATUS: dict[type[Exception], str] = {
    av.error.HTTPBadRequestError: "400",
    av.error.HTTPUnauthorizedError: "401",
    av.error.HTTPForbiddenError: "403",
    av.error.HTTPNotFoundError: "404",
    av.error.HTTPTooManyRequestsError: "429",
    av.error.HTTPOtherClientError: "4xx",
    av.error.HTTPServerError: "5xx",
}


def _reason(exc: Exception) -> str:
    """A short cause for a message. Never ``str(exc)``: PyAV puts the URL, credentials included, in it."""
    if isinstance(exc, av.error.ExitError):  # FFmpeg's interrupt callback: our timeout ran out
        return "timed out"
    return type(exc).__name__


class HttpSource:
    """An http(s) camera: an MJPEG stream, a JPEG snapshot URL (polled), or any video FFmpeg reads.

    ``user:password@`` in the URL is sent as HTTP Basic or Digest, as the camera asks; messages
    name the camera by its redacted URL. Connecting gives up after ``CONNECT_TIMEOUT_S`` and a
    stream that stops sending after ``NETWORK_TIMEOUT_S``, so the capture worker reconnects.

    Args:
        url: The camera's http(s) URL.
        stop: Interrupts the wait between two snapshots.
    """

    def __init__(self, url: str, stop: threading.Event) -> None:
        self.url = url
        self.label = redact_url(url)
        self.fps = 0.0
        self.dropped = 0
        self._stop = stop
        self._container: av.container.InputContainer | None = None
        self._packets: Iterator[av.Packet] | None = None
        self._frames: Iterator[av.VideoFrame] | None = None
        self.codec = ""  # the video codec FFmpeg found, once open
        self._snapshot = False  # the URL answers one JPEG per request
        self._next_snapshot = 0.0

    def open(self) -> None:
        self.close()
        self._connect()
        assert self._container is not None
        self._snapshot = self._container.format.name in ("jpeg_pipe", "image2")

    def read(self) -> np.ndarray:
        if self._snapshot and self._container is None:
            self._stop.wait(max(0.0, self._next_snapshot - time.monotonic()))
            self._connect()
        if self._packets is None and self._frames is None:
            raise SourceError(f"{self.label} is not open")
        try:
            image = self._next_image()
        except av.error.FFmpegError as exc:
            if isinstance(exc, av.error.OSError) and exc.errno == errno.EIO:  # how FFmpeg sees a close
                raise SourceError(f"{self.label} closed the stream") from None
            raise SourceError(f"{self.label} stopped sending frames ({_reason(exc)})") from None
        if self._snapshot:
            self._close_container()
            self._next_snapshot = time.monotonic() + SNAPSHOT_INTERVAL_S
        return image

    def close(self) -> None:
        self._close_container()

    def _connect(self) -> None:
        try:
            container = av.open(
                self.url, timeout=(CONNECT_TIMEOUT_S, NETWORK_TIMEOUT_S), options=FFMPEG_OPTIONS
            )
        except (av.error.HTTPClientError, av.error.HTTPServerError) as exc:
            status = _HTTP_STATUS.get(type(exc), "error")
            if status in ("401", "403"):
                raise SourceError(
                    f"{self.label} refused access (HTTP {status}): check the credentials"
                ) from None
            raise SourceError(f"{self.label} answered HTTP {status}") from None
        except av.error.InvalidDataError:
            raise SourceError(f"{self.label} sends no video that FFmpeg can read") from None
        except av.error.FFmpegError as exc:
            if isinstance(exc, av.error.OSError) and exc.errno == errno.EIO:
                if self.url.lower().startswith("https://"):  # a refused certificate looks the same
                    raise SourceError(
                        f"cannot connect to {self.label}: the TLS handshake failed or the camera hung up "
                        "(is its certificate trusted?)"
                    ) from None
                raise SourceError(f"{self.label} closed the connection before sending a picture") from None
            raise SourceError(f"cannot connect to {self.label}: {_reason(exc)}") from None
        if not container.streams.video:
            container.close()
            raise SourceError(f"{self.label} sends no video that FFmpeg can read")
        stream = container.streams.video[0]
        self._container = container
        self.codec = stream.codec_context.name or ""
        if stream.codec_context.name == "mjpeg":
            self._packets = container.demux(stream)
        else:
            self._frames = container.decode(stream)
            rate = stream.average_rate
            self.fps = float(rate) if rate and 0 < rate < 240 else 0.0

    def _next_image(self) -> np.ndarray:
        if self._frames is not None:
            for frame in self._frames:
                return frame.to_ndarray(format="bgr24")
        else:
            assert self._packets is not None
            for packet in self._packets:
                if packet.size == 0:  # FFmpeg's flush packet at the end of the stream
                    continue
                image = cv2.imdecode(np.frombuffer(packet, np.uint8), cv2.IMREAD_COLOR)
                if image is not None:  # a damaged frame is skipped, as a camera glitch
                    return image
        raise SourceError(f"{self.label} closed the stream")

    def _close_container(self) -> None:
        if self._container is not None:
            self._container.close()
        self._container = None
        self._packets = None
        self._frames = None
