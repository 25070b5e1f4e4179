"""Camera entries of ``CAMERAS``: parsing, naming, and credentials kept out of what is shown."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from issc.redact import redact, redact_url

__all__ = ["CAMERA_NAME_RE", "CameraConfig", "SourceKind", "classify_source", "parse_cameras", "redact_url"]

SourceKind = Literal["device", "file", "url", "demo", "webcam"]
_NAME_RE = re.compile(r"^(?P<name>[A-Za-z][\w\- ]{0,39})=(?P<source>.+)$")
#: What a stored camera's name may be (it is also its id in ``/video_feed/<id>/``): a letter, then
#: letters, digits, ``_`` or ``-``, at most 40 characters.
CAMERA_NAME_RE = re.compile(r"^[A-Za-z][\w\-]{0,39}$")
_URL_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://", "rtmp://", "udp://", "tcp://")


@dataclass(frozen=True)
class CameraConfig:
    """One camera as configured: ``id`` is its position in ``CAMERAS`` (a stored camera's: its name).

    The per-camera options are set by stored cameras (the Cameras page, ``/api/cameras``); ``None``
    means the process-wide setting (``DETECT_FPS``, ``PLATE_REGION``).
    """

    id: str
    name: str
    kind: SourceKind
    source: str  # device index, path, URL or "demo"
    detect_fps: float | None = None
    plate_region: str | None = None
    people: bool = True
    stored: bool = False  # from the cameras table, not from CAMERAS

    @property
    def display_source(self) -> str:
        """The source with any credentials removed: safe to show and log."""
        return redact_url(self.source) if self.kind == "url" else self.source


def parse_cameras(value: str) -> list[CameraConfig]:
    """Parse ``CAMERAS``: comma-separated sources, each optionally ``name=source``.

    Raises:
        ValueError: with a sentence saying which entry is wrong and what was expected.
    """
    cameras: list[CameraConfig] = []
    entries = [e.strip() for e in value.split(",") if e.strip()]
    for index, entry in enumerate(entries):
        name = None
        source = entry
        match = _NAME_RE.match(entry)
        if match and not entry.lower().startswith(_URL_SCHEMES):
            name, source = match["name"].strip(), match["source"].strip()
        kind, source = classify_source(source, f"entry {index + 1}")
        default_name = {"demo": "demo", "device": f"device {source}"}.get(kind) or _short_name(source)
        cameras.append(CameraConfig(id=str(index), name=name or default_name, kind=kind, source=source))
    names = [c.name for c in cameras]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        # Keep names unique so history and filters stay unambiguous.
        seen: dict[str, int] = {}
        renamed = []
        for cam in cameras:
            if cam.name in duplicates:
                seen[cam.name] = seen.get(cam.name, 0) + 1
                cam = CameraConfig(cam.id, f"{cam.name} #{seen[cam.name]}", cam.kind, cam.source)
            renamed.append(cam)
        cameras = renamed
    return cameras


def classify_source(source: str, label: str = "the source") -> tuple[SourceKind, str]:
    """The kind of a camera source and the source as the engine opens it.

    Raises:
        ValueError: ``label`` and what is wrong with the source (one sentence, no credentials).
    """
    source = source.strip()
    lowered = source.lower()
    if not source:
        raise ValueError(
            f"{label} is empty; expected rtsp://, http(s)://, a device index, a video file or 'demo'"
        )
    if lowered == "demo":
        return "demo", source
    if source.isdigit():
        return "device", source
    if lowered.startswith(_URL_SCHEMES):
        if not _hostname(source):
            raise ValueError(f"{label} ({_shown(source)!r}) is a URL without a host")
        return "url", source
    if "://" in source:
        raise ValueError(
            f"{label} ({_shown(source)!r}) has an unsupported scheme; expected "
            "rtsp://, http(s)://, a device index, a video file path or 'demo'"
        )
    if not _is_file(source):
        raise ValueError(f"{label}: video file {_shown(source)!r} does not exist")
    return "file", str(Path(source).expanduser())


def _shown(source: str) -> str:
    """A source as messages show it: credentials removed, at most 100 characters."""
    shown = redact(source)
    return shown if len(shown) <= 100 else shown[:99] + "…"


def _is_file(source: str) -> bool:
    try:
        return Path(source).expanduser().is_file()
    except (OSError, ValueError, RuntimeError):  # name too long, NUL byte, unknown ~user
        return False


def _hostname(url: str) -> str | None:
    try:
        return urlsplit(url).hostname
    except ValueError:  # e.g. an unclosed [ of an IPv6 address
        return None


def _short_name(source: str) -> str:
    if "://" in source:
        return _hostname(source) or "camera"
    return redact(Path(source).stem[:40]) or "camera"
