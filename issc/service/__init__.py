"""The service: builds settings → detector → store → engine once per process, and owns them.

- :mod:`issc.service.parts`: the detector, the analyzers, the history store, the alerts;
- :mod:`issc.service.build`: :class:`Service`, which puts them together, starts and stops them;
- :mod:`issc.service.process`: one service per process (:func:`start`, :func:`current`,
  :func:`stop`), a wrong configuration kept as its sentence, a passing failure retried.

Kept apart from ``issc.engine`` so that the engine knows only interfaces, and apart from ``issc.ui``
so that it runs headless (benchmarks, tests, servers).
"""

from issc.service.build import Service, build_engine
from issc.service.parts import (
    DETECTOR_FLOOR_CONF,
    alerting_sink,
    analyzer_factory,
    build_detector,
    open_history,
    saved_swaps,
)
from issc.service.process import RETRY_FIRST_S, RETRY_MAX_S, configure_logging, current, start, stop

__all__ = [
    "DETECTOR_FLOOR_CONF",
    "RETRY_FIRST_S",
    "RETRY_MAX_S",
    "Service",
    "alerting_sink",
    "analyzer_factory",
    "build_detector",
    "build_engine",
    "configure_logging",
    "current",
    "open_history",
    "saved_swaps",
    "start",
    "stop",
]
