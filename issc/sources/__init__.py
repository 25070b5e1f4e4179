"""Camera sources, one module per kind, and ``make_source``, which picks one for a configured camera.

* ``base``: the ``Source`` protocol (``open``, ``read() -> BGR picture``, ``close``);
* ``file``: video files played at their own pace (``FileSource``), or decoded flat out (``video_frames``);
* ``capture``: OpenCV ``VideoCapture`` for devices and rtsp/rtmp/udp streams;
* ``http``: http(s) cameras (MJPEG, JPEG snapshots);
* ``demo``: the generated demo scene;
* ``push``: frames pushed in by the browser webcam page.
"""

from __future__ import annotations

import threading

from issc.config import CameraConfig
from issc.redact import redact_url
from issc.sources.base import NETWORK_TIMEOUT_S, Source
from issc.sources.capture import CaptureSource
from issc.sources.demo import DEMO_PLATE, DemoSource
from issc.sources.file import FileSource, video_frames
from issc.sources.http import HttpSource
from issc.sources.push import PushSource

__all__ = [
    "DEMO_PLATE",
    "NETWORK_TIMEOUT_S",
    "CaptureSource",
    "DemoSource",
    "FileSource",
    "HttpSource",
    "PushSource",
    "Source",
    "make_source",
    "video_frames",
]


def make_source(camera: CameraConfig, stop: threading.Event) -> Source:
    """Build the right source for a configured camera. ``stop`` interrupts pacing waits."""
    if camera.kind == "demo":
        return DemoSource(stop=stop)
    if camera.kind == "file":
        return FileSource(camera.source, stop=stop)
    if camera.kind == "device":
        return CaptureSource(int(camera.source), label=f"device {camera.source}")
    if camera.source.lower().startswith(("http://", "https://")):
        return HttpSource(camera.source, stop=stop)
    return CaptureSource(camera.source, label=redact_url(camera.source))
