"""Test a camera source before it is added: open it with the engine's own source code, read for a
moment, and report the first picture, its size, the measured frame rate and the codec, or the
exact reason it failed (connection refused, timed out, HTTP 401, not a video, ...)."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import cv2

from issc.config import CameraConfig
from issc.errors import SourceError
from issc.jpeg import encode_jpeg
from issc.redact import redact
from issc.sources import make_source

#: Seconds a probe reads frames to measure the rate (after the first frame).
PROBE_READ_S = 2.0
#: Frames after which a probe stops reading early.
PROBE_MAX_FRAMES = 30
_DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "http": 80, "https": 443, "rtmp": 1935}


@dataclass(frozen=True)
class ProbeResult:
    """What a test of a source found. ``reason`` is empty when it worked."""

    ok: bool
    reason: str = ""
    width: int = 0
    height: int = 0
    fps: float = 0.0  # measured over the frames read
    codec: str = ""
    frames: int = 0
    seconds: float = 0.0  # the whole test
    jpeg: bytes | None = None  # the first picture

    def as_json(self) -> dict[str, object]:
        """The result for the API (the picture is at its own URL or inline on the page)."""
        return {
            "ok": self.ok,
            "reason": self.reason,
            "width": self.width,
            "height": self.height,
            "fps": round(self.fps, 2),
            "codec": self.codec,
            "frames": self.frames,
            "seconds": round(self.seconds, 2),
        }


def _fourcc(source: object) -> str:
    cap = getattr(source, "_cap", None)
    if cap is None:
        return ""
    code = int(cap.get(cv2.CAP_PROP_FOURCC))
    text = "".join(chr((code >> 8 * i) & 0xFF) for i in range(4)).strip("\x00 ")
    return text.lower() if text.isprintable() else ""


def network_reason(url: str, timeout: float = 3.0) -> str:
    """Why a network source's host cannot be reached (refused, timed out, unknown host); "" when a
    TCP connection opens (the failure lies further: credentials, path, or not a video)."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port or _DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:
        return "the URL is malformed"
    if not host or port is None:
        return ""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return ""
    except TimeoutError:
        return f"connecting to {host}:{port} timed out after {timeout:g} s"
    except ConnectionRefusedError:
        return f"connection refused by {host}:{port} (nothing listens there)"
    except socket.gaierror:
        return f"unknown host {host!r}"
    except OSError as exc:
        return f"cannot reach {host}:{port} ({exc.strerror or exc})"


def probe_source(camera: CameraConfig, read_s: float = PROBE_READ_S) -> ProbeResult:
    """Open ``camera``'s source as the engine would, read up to ``read_s`` seconds, close it.

    Bounded by the sources' own time-outs (a few seconds to connect or read). Never raises for a
    bad source: the reason is in the result, without credentials.
    """
    started = time.monotonic()
    stop = threading.Event()
    source = None
    try:
        source = make_source(camera, stop)
        source.open()
        first = source.read()
        t_first = time.monotonic()
        frames, t_last = 1, t_first
        while frames < PROBE_MAX_FRAMES and time.monotonic() - t_first < read_s:
            source.read()
            frames += 1
            t_last = time.monotonic()
        fps = (frames - 1) / (t_last - t_first) if frames > 1 and t_last > t_first else 0.0
        height, width = first.shape[:2]
        codec = getattr(source, "codec", "") or _fourcc(source) or {"demo": "generated"}.get(camera.kind, "")
        return ProbeResult(
            ok=True,
            width=width,
            height=height,
            fps=fps,
            codec=codec,
            frames=frames,
            seconds=time.monotonic() - started,
            jpeg=encode_jpeg(first, 80),
        )
    except (SourceError, OSError, ValueError) as exc:
        reason = str(exc)
        if camera.kind == "url":
            network = network_reason(camera.source)
            if network:
                reason = f"{reason.rstrip('.')}: {network}"
        return ProbeResult(ok=False, reason=redact(reason), seconds=time.monotonic() - started)
    finally:
        stop.set()
        if source is not None:
            source.close()
