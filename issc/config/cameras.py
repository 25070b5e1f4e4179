"""Camera entries of ``CAMERAS``: parsing, naming, and credentials kept out of what is shown."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from issc.redact import redact, redact_url

__all__ = ["CameraConfig", "SourceKind", "parse_cameras", "redact_url"]

SourceKind = Literal["device", "file", "url", "demo", "webcam"]
_NAME_RE = re.compile(r"^(?P<name>[A-Za-z][\w\- ]{0,39})=(?P<source>.+)$")
_URL_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://", "rtmp://", "udp://", "tcp://")


@dataclass(frozen=True)
class CameraConfig:
    """One camera as configured: ``id`` is its position in ``CAMERAS``."""

    id: str
    name: str
    kind: SourceKind
    source: str  # device index, path, URL or "demo"

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
        lowered = source.lower()
        if lowered == "demo":
            kind: SourceKind = "demo"
        elif source.isdigit():
            kind = "device"
        elif lowered.startswith(_URL_SCHEMES):
            kind = "url"
            if not _hostname(source):
                raise ValueError(f"entry {index + 1} ({_shown(source)!r}) is a URL without a host")
        elif "://" in source:
            raise ValueError(
                f"entry {index + 1} ({_shown(source)!r}) has an unsupported scheme; expected "
                "rtsp://, http(s)://, a device index, a video file path or 'demo'"
            )
        else:
            kind = "file"
            if not _is_file(source):
                raise ValueError(f"entry {index + 1}: video file {_shown(source)!r} does not exist")
            source = str(Path(source).expanduser())
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
