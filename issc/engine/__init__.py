"""The engine: every camera's threads, buffers and stop events (the only package that starts camera
threads). Pages, routes and the service use :class:`Engine`, the façade; the rest is its parts:

* ``buffer`` — the latest-frame slot; boxes are drawn when a viewer asks;
* ``capture`` — reads a source, reconnects, publishes every frame;
* ``analyze`` — runs the analyzer on the freshest frame, the detector error policy, the sink;
* ``health`` — watchdogs: what the threads report, and the status viewers read;
* ``camera`` — one camera's parts together; ``facade`` — all cameras, tuning, webcam, alerts.
"""

from issc.engine.buffer import Published
from issc.engine.camera import Camera
from issc.engine.capture import SourceFactory
from issc.engine.facade import WEBCAM_ID, AnalyzerFactory, Engine
from issc.engine.health import NullWatchdog, Watchdog

__all__ = [
    "WEBCAM_ID",
    "AnalyzerFactory",
    "Camera",
    "Engine",
    "NullWatchdog",
    "Published",
    "SourceFactory",
    "Watchdog",
]
