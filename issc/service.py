"""Wiring: builds the engine, its detector, analyzers and sinks from the settings.

Kept apart from ``issc.engine`` so that the engine knows only interfaces, and apart from
``issc.ui`` so that the engine can run headless (``python -m issc.bench``, tests, servers).
"""

from __future__ import annotations

import logging
from typing import Any

from issc.alerts import AlertingSink
from issc.analysis import Analyzer, NullAnalyzer
from issc.config import CameraConfig, Settings, redact_url
from issc.detect import Detector, make_detector
from issc.engine import AnalyzerFactory, Engine, SourceFactory, tuning_from_settings
from issc.errors import ConfigError
from issc.sink import EventSink, MemorySink
from issc.sources import make_source
from issc.tuning import camera_tuning_key, tuning_from_dict
from issc.types import Tuning

logger = logging.getLogger(__name__)

# Detectors return boxes down to this confidence; the analyzers filter by the live tuning, so
# the sliders can go below the configured thresholds without rebuilding the detector.
DETECTOR_FLOOR_CONF = 0.1


def plate_rules(settings: Settings) -> Any:
    """``PlateRules`` of ``PLATE_REGION``, with the parts that ``PLATE_FORMATS``, the look-alike
    pairs and ``PLATE_O_IS_ZERO`` set replaced."""
    from issc.plates.regions import region_preset
    from issc.plates.text import PlateFormat

    masks = [m.strip().upper() for m in settings.plate_formats.split(",") if m.strip()]

    def pairs(value: str | None) -> dict[str, str] | None:
        if value is None:
            return None
        return {p[0]: p[1] for p in (q.strip().upper() for q in value.split(",")) if len(p) == 2}

    return region_preset(settings.plate_region).rules(
        formats=tuple(PlateFormat(m, m) for m in masks) if masks else None,
        letter_to_digit=pairs(settings.plate_letter_to_digit),
        digit_to_letter=pairs(settings.plate_digit_to_letter),
        o_is_zero=settings.plate_o_is_zero,
    )


def build_detector(settings: Settings) -> Detector:
    """The detector chosen by ``DETECTOR``, shared by every camera (models load once)."""
    from issc.plates.regions import region_preset

    kind = settings.detector_kind
    values = {
        "api_url": settings.api_url,
        "api_key": settings.api_key,
        "human_model": settings.human_model,
        "plate_model": settings.plate_model,
        "detector_timeout_s": settings.detector_timeout_s,
        "onnx_model": settings.onnx_model,
        "onnx_classes": settings.onnx_classes,
        "person_conf": min(settings.person_conf, DETECTOR_FLOOR_CONF),
        "plate_conf": min(settings.plate_conf, DETECTOR_FLOOR_CONF),
        "iou": settings.iou,
        "ocr_engine": settings.ocr_engine,
    }
    if kind == "local":
        values["plate_rules"] = plate_rules(settings)
        values["plate_detect_short_side"] = settings.plate_detect_short_side
        values["plate_grow_y"] = region_preset(settings.plate_region).plate_grow_y
    return make_detector(kind, **values)


def analyzer_factory(settings: Settings, detector: Detector | None = None) -> AnalyzerFactory:
    """Makes one analyzer per camera around the shared detector."""
    if settings.detector_kind == "none" and detector is None:
        return lambda camera, tuning: NullAnalyzer(tuning)
    from issc.plates.pipeline import PlateAnalyzer
    from issc.plates.voting import VotingOptions

    shared = detector or build_detector(settings)
    voting = VotingOptions(dedupe_s=settings.plate_dedupe_s)  # recognition threshold: from the tuning
    rules = plate_rules(settings)

    def make(camera: CameraConfig, tuning: Tuning) -> Analyzer:
        return PlateAnalyzer(
            shared, camera.name, tuning, voting=voting, frame_rate=settings.detect_fps, rules=rules
        )

    return make


def open_history(settings: Settings) -> Any:
    """The history store of ``DATABASE_URL``, its writer started.

    Raises:
        ConfigError: the URL is malformed, or the database cannot be opened (one sentence).
    """
    import sqlalchemy.exc

    from issc.store import Store

    shown = redact_url(settings.database_url)
    try:
        return Store(settings.database_url).start()
    except sqlalchemy.exc.ArgumentError:
        raise ConfigError(
            f"DATABASE_URL={shown!r} is invalid: expected an SQLAlchemy URL such as "
            "sqlite:///data/issc.db or postgresql+psycopg://user:password@host/db."
        ) from None
    except (sqlalchemy.exc.SQLAlchemyError, OSError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise ConfigError(
            f"DATABASE_URL={shown!r} cannot be opened ({reason}): check that the database server runs "
            "and that the folder is writable."
        ) from None


def build_engine(
    settings: Settings,
    sink: EventSink | None = None,
    detector: Detector | None = None,
    history: bool = True,
    source_factory: SourceFactory = make_source,
) -> Engine:
    """An engine for ``settings`` (not started).

    With ``history`` and no explicit ``sink``, plate events and people counts go to the store of
    ``DATABASE_URL`` through the watchlist alerting sink, and saved tuning is restored.
    ``source_factory`` builds each camera's source (benchmarks play clips their own way).
    """
    store = None
    tuning = tuning_from_settings(settings)
    if sink is None and history:
        store = open_history(settings)
        sink = AlertingSink(store, store, settings.webhook_url)
        tuning = store.load_tuning(default=tuning)
    engine = Engine(
        settings,
        analyzer_factory=analyzer_factory(settings, detector),
        sink=sink or MemorySink(),
        tuning=tuning,
        history=store,
        source_factory=source_factory,
    )
    if store is not None:
        for camera in engine.cameras.values():
            saved = store.get_setting(camera_tuning_key(camera.config.name))
            if saved:
                engine.set_tuning(tuning_from_dict(saved, tuning), camera.config.id)
    return engine
