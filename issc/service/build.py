"""The service: builds settings → detector → store → engine once per process, and owns them.

Kept apart from ``issc.engine`` so that the engine knows only interfaces, and apart from ``issc.ui``
so that it runs headless (benchmarks, tests, servers). Its parts are built in
:mod:`issc.service.parts`; one service per process is kept by :mod:`issc.service.process`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from issc.alerts.overstay import OverstayMonitor
from issc.alerts.sink import AlertingSink
from issc.camera_admin import CameraAdmin
from issc.config import Settings
from issc.detect import Detector
from issc.engine import Engine, SourceFactory
from issc.memory import tune_malloc
from issc.service.parts import (
    alerting_sink,
    analyzer_factory,
    build_detector,
    open_history,
    overstay_monitor,
    restore_shapes,
    saved_swaps,
)
from issc.sink import EventSink, MemorySink
from issc.sources import make_source
from issc.tuning import TuningBook

if TYPE_CHECKING:
    from issc.store import CorrectionResult, Store

logger = logging.getLogger(__name__)


@dataclass
class Service(CameraAdmin):
    """What one process runs: its settings, the shared detector, the history store and the engine."""

    settings: Settings
    engine: Engine
    sink: EventSink
    detector: Detector | None = None
    store: Store | None = None  # None when the history is off
    alerts: AlertingSink | None = None  # the watchlist alerts of the history's events
    overstay: OverstayMonitor | None = None  # OVERSTAY_MIN alerts, when set (started with the service)

    def corrected(self, result: CorrectionResult) -> None:
        """After an analyst's correction: a text that now matches the watchlist raises the alert."""
        if result.new_watchlist_hit and self.alerts is not None:
            self.alerts.raise_alert(result.after.as_event())

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        history: bool = True,
        sink: EventSink | None = None,
        detector: Detector | None = None,
        source_factory: SourceFactory = make_source,
    ) -> Service:
        """Everything for ``settings``, not started.

        With ``history`` and no explicit ``sink``, plate events and people counts go to the store of
        ``DATABASE_URL`` through the watchlist alerting sink, and saved tuning is restored.
        ``source_factory`` builds each camera's source (benchmarks play clips their own way).
        """
        if settings.cluster.engine == "remote":
            return cls._remote(settings)
        if detector is None and settings.detection.kind != "none":
            detector = build_detector(settings)
        store = open_history(settings) if sink is None and history else None
        alerts = None
        if store is not None:
            alerts = sink = alerting_sink(settings, store)
        sink = sink or MemorySink()
        try:
            tuning = TuningBook(settings.tuning, store)
            tuning.load(c.name for c in settings.cameras.cameras)
            engine = Engine(
                settings.cameras,
                settings.detection,
                settings.web,
                analyzer_factory=analyzer_factory(settings, detector, saved_swaps(store)),
                sink=sink,
                source_factory=source_factory,
                tuning=tuning,
                alerts=alerts,
                clip_saver=store,
            )
            if store is not None:
                restore_shapes(engine, store)
        except BaseException:
            if alerts is not None:
                alerts.close()  # nor a webhook thread
            if store is not None:
                store.close()  # no writer or retention thread left behind by a failed build
            raise
        return cls(
            settings=settings,
            engine=engine,
            sink=sink,
            detector=detector,
            store=store,
            alerts=alerts,
            overstay=overstay_monitor(settings, store, alerts),
        )

    @classmethod
    def _remote(cls, settings: Settings) -> Service:
        """``ENGINE=remote``: the history and the cluster's cameras, no detector, no camera here."""
        from issc.remote import RemoteEngine

        store = open_history(settings)
        if store.engine.dialect.name != "postgresql":
            logger.warning(
                "ENGINE=remote with DATABASE_URL on %s: only workers on this machine can share it",
                store.engine.dialect.name,
            )
        alerts = alerting_sink(settings, store)  # corrections raise alerts here
        try:
            engine = RemoteEngine(settings, store)
        except BaseException:
            alerts.close()
            store.close()
            raise
        return cls(settings=settings, engine=engine, sink=alerts, store=store, alerts=alerts)  # type: ignore[arg-type]

    def start(self) -> Service:
        """Start the cameras (after the malloc settings that keep a long run's memory flat)."""
        tune_malloc()
        if self.settings.cluster.engine != "remote":
            self._start_stored_cameras()
        self.engine.start()
        if self.overstay is not None:
            self.overstay.start()
        return self

    def stop(self) -> None:
        """Stop the cameras (their last events reach the sink), then close the sink and the store."""
        if self.overstay is not None:
            self.overstay.stop()
        self.engine.stop()
        self.sink.close()
        if self.store is not None:
            self.store.close()


def build_engine(settings: Settings, **kwargs: Any) -> Engine:
    """The engine of :meth:`Service.build` without a history store (benchmarks and tests that need
    only the engine; pass a ``sink`` to collect its events)."""
    return Service.build(settings, history=False, **kwargs).engine
