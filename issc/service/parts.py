"""The parts the service is built from: the detector, the analyzers, the history store, the
watchlist alerts, the overstay check and the cameras' stored lines and zones.

Each takes the checked settings (and what it needs of the others) and turns a failure into one
sentence (:class:`~issc.errors.ConfigError`, :class:`~issc.errors.UnavailableError`).
:class:`issc.service.Service` puts them together.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from issc.alerts.overstay import OverstayMonitor
from issc.alerts.sink import AlertingSink
from issc.analysis import Analyzer, NullAnalyzer
from issc.config import CameraConfig, Settings, redact_url
from issc.detect import Detector, make_detector
from issc.engine import AnalyzerFactory, Engine
from issc.errors import ConfigError, UnavailableError
from issc.redact import error_line
from issc.tuning import Tuning

if TYPE_CHECKING:
    from issc.store import Store

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


def saved_swaps(store: Store | None) -> list[tuple[str, str]]:
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


def overstay_monitor(
    settings: Settings, store: Store | None, alerts: AlertingSink | None
) -> OverstayMonitor | None:
    """The ``OVERSTAY_MIN`` check over entry/exit cameras and line passes (None: off or no history)."""
    site = settings.analytics
    if not site.overstay_min or store is None or alerts is None:
        return None
    return OverstayMonitor(
        lambda now: store.site_visits(site.entries, site.exits, now), alerts, site.overstay_min * 60
    )


def restore_shapes(engine: Engine, store: Store) -> None:
    """Give each camera the counting lines and zones stored for its name (a bad row is skipped)."""
    try:
        stored = store.all_camera_shapes()
    except Exception:
        logger.exception("reading the cameras' lines and zones failed: counting without them")
        return
    for name, item in stored.items():
        engine.set_shapes(name, item.shapes)
