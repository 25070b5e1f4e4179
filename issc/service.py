"""Wiring: builds the engine, its analyzers and its sinks from the settings.

Kept apart from ``issc.engine`` so that the engine knows only interfaces, and apart from
``issc.ui`` so that the engine can run headless (``python -m issc.bench``, tests, servers).
"""

from __future__ import annotations

import logging

from issc.analysis import NullAnalyzer
from issc.config import Settings
from issc.engine import Engine
from issc.sink import EventSink, MemorySink

logger = logging.getLogger(__name__)


def build_engine(settings: Settings, sink: EventSink | None = None) -> Engine:
    """An engine for ``settings`` (not started)."""
    return Engine(
        settings, analyzer_factory=lambda cam, tuning: NullAnalyzer(tuning), sink=sink or MemorySink()
    )
