"""The service: builds settings → detector → store → engine once per process, and owns them.

The server's lifespan starts the process's service (:func:`start`) and stops it; pages and routes
find it with :func:`current`. A wrong configuration is found once, at the start, and kept as its
one sentence (:class:`~issc.errors.ConfigError`), which every page and route then shows; nothing
re-reads the settings on a request. Something the configuration names that cannot be reached yet
(:class:`~issc.errors.UnavailableError`: a database server that is down) is retried on a
background thread with backoff instead, never on a request. Kept apart from ``issc.engine`` so that the engine knows only
interfaces, and apart from ``issc.ui`` so that it runs headless (benchmarks, tests, servers).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from issc.alerts import AlertingSink, OverstayMonitor
from issc.analysis import Analyzer, NullAnalyzer
from issc.camera_admin import CameraAdmin
from issc.config import CameraConfig, Settings, load_settings, redact_url
from issc.detect import Detector, make_detector
from issc.engine import AnalyzerFactory, Engine, SourceFactory
from issc.errors import ConfigError, UnavailableError
from issc.memory import tune_malloc
from issc.redact import error_line
from issc.sink import EventSink, MemorySink
from issc.sources import make_source
from issc.tuning import Tuning, TuningBook

if TYPE_CHECKING:
    from issc.store import CorrectionResult, Store

logger = logging.getLogger(__name__)

# Detectors return boxes down to this confidence; the analyzers filter by the live tuning, so
# the sliders can go below the configured thresholds without rebuilding the detector.
DETECTOR_FLOOR_CONF = 0.1


def build_detector(settings: Settings) -> Detector:
    """The detector chosen by ``DETECTOR``, shared by every camera (models load once).

    It returns boxes down to :data:`DETECTOR_FLOOR_CONF`: the analyzers filter by the live tuning.
    """
    tuning = settings.tuning
    floor = tuning.changed(
        person_conf=min(tuning.person_conf, DETECTOR_FLOOR_CONF),
        plate_conf=min(tuning.plate_conf, DETECTOR_FLOOR_CONF),
    )
    return make_detector(settings.detection, floor, settings.plates)


def analyzer_factory(
    settings: Settings, detector: Detector | None, swaps: list[tuple[str, str]] | None = None
) -> AnalyzerFactory:
    """Makes one analyzer per camera around the shared detector (none: nothing is detected).

    ``swaps`` are look-alike rules applied from the Review page's corrections report (``[read,
    meant]`` pairs saved in the store), added to the region's.
    """
    if detector is None:
        return lambda camera, tuning: NullAnalyzer(tuning)
    from issc.analysis import PlateAnalyzer
    from issc.plates.regions import plate_rules
    from issc.plates.text import PlateRules
    from issc.plates.voting import VotingOptions

    voting = VotingOptions(dedupe_s=settings.plates.plate_dedupe_s)  # recognition threshold: the tuning's
    by_region: dict[str | None, PlateRules] = {}

    def rules_for(region: str | None) -> PlateRules:
        """``PLATE_REGION``'s rules, or a camera's own region's, with the applied look-alikes."""
        if region not in by_region:
            plates = (
                settings.plates
                if region is None
                else settings.plates.model_copy(update={"plate_region": region})
            )
            rules = plate_rules(plates)
            if swaps:
                from issc.plates.review import with_lookalikes

                try:
                    rules = with_lookalikes(rules, swaps)
                except ValueError as exc:  # a hand-edited setting: read with the region's rules
                    logger.warning("ignoring the saved look-alike rules: %s", exc)
            by_region[region] = rules
        return by_region[region]

    rate = settings.detection.detect_fps

    def make(camera: CameraConfig, tuning: Tuning) -> Analyzer:
        return PlateAnalyzer(
            detector,
            camera.name,
            tuning,
            voting=voting,
            frame_rate=camera.detect_fps or rate,
            rules=rules_for(camera.plate_region),
            people=camera.people,
        )

    return make


def _saved_swaps(store: Store | None) -> list[tuple[str, str]]:
    """The look-alike rules applied from the corrections report (none without a history)."""
    if store is None:
        return []
    from issc.plates.review import LOOKALIKES_SETTING

    try:
        return [(str(a), str(b)) for a, b in store.get_setting(LOOKALIKES_SETTING, [])]
    except (TypeError, ValueError):
        logger.warning("ignoring the saved look-alike rules: %s is not a list of pairs", LOOKALIKES_SETTING)
        return []


def open_history(settings: Settings) -> Store:
    """The history store of ``DATABASE_URL``, its writer started.

    Raises:
        ConfigError: the URL is malformed, or the database cannot be opened (one sentence).
    """
    import sqlalchemy.exc

    from issc.store import Store

    url = settings.store.database_url
    shown = redact_url(url)
    try:
        store = settings.store
        return Store(
            url,
            retention_days=store.retention_days,
            retention_max_gb=store.retention_max_gb,
            retention_min_keep_h=store.retention_min_keep_h,
            snapshot_retention_days=store.snapshot_retention_days,
        ).start()
    except sqlalchemy.exc.ArgumentError:
        raise ConfigError(
            f"DATABASE_URL={shown!r} is invalid: expected an SQLAlchemy URL such as "
            "sqlite:///data/issc.db or postgresql+psycopg://user:password@host/db."
        ) from None
    except (sqlalchemy.exc.SQLAlchemyError, OSError) as exc:
        reason = error_line(getattr(exc, "orig", None) or exc)
        raise UnavailableError(
            f"DATABASE_URL={shown!r} cannot be opened ({reason}): check that the database server runs "
            "and that the folder is writable."
        ) from None


def alerting_sink(settings: Settings, store: Store) -> AlertingSink:
    """The watchlist alerts of the history's events; the webhook's queue is the store's outbox."""
    secret = settings.store.webhook_secret
    return AlertingSink(
        store,
        store,
        settings.store.webhook_url,
        outbox=store.outbox,
        webhook_secret=secret.get_secret_value() if secret is not None else None,
    )


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
                analyzer_factory=analyzer_factory(settings, detector, _saved_swaps(store)),
                sink=sink,
                source_factory=source_factory,
                tuning=tuning,
                alerts=alerts,
                clip_saver=store,
            )
            if store is not None:
                _restore_shapes(engine, store)
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
            overstay=_overstay_monitor(settings, store, alerts),
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


def _overstay_monitor(
    settings: Settings, store: Store | None, alerts: AlertingSink | None
) -> OverstayMonitor | None:
    """The ``OVERSTAY_MIN`` check over entry/exit cameras and line passes (None: off or no history)."""
    site = settings.analytics
    if not site.overstay_min or store is None or alerts is None:
        return None
    return OverstayMonitor(
        lambda now: store.site_visits(site.entries, site.exits, now), alerts, site.overstay_min * 60
    )


def _restore_shapes(engine: Engine, store: Store) -> None:
    """Give each camera the counting lines and zones stored for its name (a bad row is skipped)."""
    try:
        stored = store.all_camera_shapes()
    except Exception:
        logger.exception("reading the cameras' lines and zones failed: counting without them")
        return
    for name, item in stored.items():
        engine.set_shapes(name, item.shapes)


def build_engine(settings: Settings, **kwargs: Any) -> Engine:
    """The engine of :meth:`Service.build` without a history store (benchmarks and tests that need
    only the engine; pass a ``sink`` to collect its events)."""
    return Service.build(settings, history=False, **kwargs).engine


# --- one service per process ---------------------------------------------------------------

#: The first retry of a service that could not be built for a passing reason, then doubling.
RETRY_FIRST_S = 2.0
RETRY_MAX_S = 60.0

_lock = threading.Lock()
_current: Service | None = None
_failed: ConfigError | None = None  # a wrong configuration: kept, never retried
_retrying: _Retry | None = None  # a passing failure (UnavailableError): retried on a thread


def _build_and_start(build: Any) -> Service:
    if build is None:
        settings = load_settings()
        configure_logging(settings.web.log_level)
        service = Service.build(settings)
    else:
        service = build()
    try:
        return service.start()
    except BaseException:
        service.stop()  # cameras that started, the store's and the webhook's threads
        raise


class _Retry:
    """Builds the service again on a thread of its own, every 2 s doubling to 60 s, until it starts,
    the configuration turns out wrong, or :func:`stop` is called."""

    def __init__(self, build: Any, error: UnavailableError) -> None:
        self._build = build
        self._cause = error
        self._attempts = 1
        self._delay = RETRY_FIRST_S
        self._next_at = time.monotonic() + self._delay
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="issc-service-retry", daemon=True)

    def error(self) -> UnavailableError:
        """What pages and routes show meanwhile: the cause, and when the next try comes."""
        wait = max(self._next_at - time.monotonic(), 0.0)
        return UnavailableError(
            f"{str(self._cause).rstrip('.')}. Retrying in {wait:.0f} s "
            f"({self._attempts} attempt{'s' if self._attempts > 1 else ''} so far)."
        )

    def cancel(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        global _current, _failed, _retrying
        while not self._stop.wait(max(self._next_at - time.monotonic(), 0.0)):
            try:
                service = _build_and_start(self._build)
            except UnavailableError as exc:
                self._failed_again(exc)
                continue
            except ConfigError as exc:
                with _lock:
                    if _retrying is self:
                        _failed, _retrying = exc, None
                logger.error("ISSC configuration error: %s", exc)
                return
            except Exception as exc:  # a worker never dies: report, retry
                logger.exception("building the service failed")
                self._failed_again(
                    UnavailableError(f"the service could not start ({type(exc).__name__}: {error_line(exc)})")
                )
                continue
            with _lock:
                keep = _retrying is self and not self._stop.is_set()
                if keep:
                    _current, _retrying = service, None
            if not keep:
                service.stop()  # stop() came while this build ran: leave nothing running
                return
            logger.info("service started after %d attempts", self._attempts + 1)
            return

    def _failed_again(self, exc: UnavailableError) -> None:
        self._cause = exc
        self._attempts += 1
        self._delay = min(self._delay * 2, RETRY_MAX_S)
        self._next_at = time.monotonic() + self._delay
        logger.warning("%s (retrying in %.0f s)", exc, self._delay)


def start(build: Any = None) -> Service:
    """Build and start the process's service once (``build``: a no-argument factory, for tests).

    A wrong configuration is kept as its sentence; something it names that cannot be reached now
    (:class:`~issc.errors.UnavailableError`: a database server that is down) is retried on a
    background thread with backoff, and meanwhile every call raises at once, without building.

    Raises:
        ConfigError: the configuration is wrong (kept: later calls raise the same sentence).
        UnavailableError: the service cannot start yet; says when it is tried again.
    """
    global _current, _failed, _retrying
    with _lock:
        if _current is not None:
            return _current
        if _failed is not None:
            raise _failed
        if _retrying is not None:
            raise _retrying.error()
        try:
            _current = _build_and_start(build)
        except UnavailableError as exc:
            _retrying = _Retry(build, exc)
            _retrying.thread.start()
            logger.warning("%s (retrying in %.0f s)", exc, RETRY_FIRST_S)
            raise _retrying.error() from None
        except ConfigError as exc:
            _failed = exc
            raise
        return _current


def current() -> Service:
    """The process's service, started on first use (pages run without the server in tests).

    Raises:
        ConfigError: the configuration is wrong (one sentence, found once at the start).
        UnavailableError: the service is being retried (never built on the caller meanwhile).
    """
    service = _current
    return service if service is not None else start()


def stop() -> None:
    """Stop the process's service or its retries; the next :func:`current` builds a new one."""
    global _current, _failed, _retrying
    with _lock:
        service, retrying = _current, _retrying
        _current, _failed, _retrying = None, None, None
    if retrying is not None:
        retrying.cancel()
        retrying.thread.join(30)  # a build under way finishes, then stops what it started
    if service is not None:
        service.stop()


def configure_logging(level: str = "INFO") -> None:
    """ISSC's log lines on stderr, once per process; every log record of the process is redacted
    (:func:`issc.redact.install_log_redaction`: credentials and known secrets become ``***``)."""
    from issc.redact import install_log_redaction

    root = logging.getLogger("issc")
    if not root.handlers:
        import sys

        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
        root.propagate = False
    root.setLevel(level)
    install_log_redaction()
