"""Live tuning: which thresholds a camera runs with, applying new ones and keeping them.

The engine swaps tunings on its analyzers; this module adds persistence in the history store
(global tuning and per-camera overrides), restored by ``issc.service.build_engine`` at start.
"""

from __future__ import annotations

import math
from dataclasses import asdict, fields, replace
from typing import TYPE_CHECKING

from issc.types import Tuning

if TYPE_CHECKING:
    from issc.engine import Engine


def camera_tuning_key(camera_name: str) -> str:
    """Settings key of one camera's own tuning."""
    return f"tuning.camera.{camera_name}"


def tuning_from_dict(values: dict, base: Tuning) -> Tuning:
    """A ``Tuning`` from saved values; keys unknown to this version are ignored."""
    known = {f.name for f in fields(Tuning)}
    return replace(base, **{k: v for k, v in values.items() if k in known})


#: Motion sensitivity 0..100 maps log-linearly onto a changed-pixel threshold of 10 % .. 0.01 %.
_MOTION_LOG10_AT_0, _MOTION_LOG10_AT_100 = -1.0, -4.0


def sensitivity_from_threshold(threshold: float) -> int:
    """Motion sensitivity (0..100, higher reacts to smaller changes) of a changed-pixel fraction."""
    if threshold <= 0:
        return 100
    position = (math.log10(threshold) - _MOTION_LOG10_AT_0) / (_MOTION_LOG10_AT_100 - _MOTION_LOG10_AT_0)
    return round(min(max(position, 0.0), 1.0) * 100)


def threshold_from_sensitivity(sensitivity: int) -> float:
    """Changed-pixel fraction of a motion sensitivity (inverse of :func:`sensitivity_from_threshold`)."""
    exponent = _MOTION_LOG10_AT_0 + (_MOTION_LOG10_AT_100 - _MOTION_LOG10_AT_0) * sensitivity / 100
    return float(f"{10**exponent:.3g}")


def effective_tuning(engine: Engine, camera_id: str | None) -> Tuning:
    """The tuning in force for one camera (its override, else the global one), or the global one."""
    if camera_id is None:
        return engine.tuning
    return engine.camera_tuning.get(camera_id, engine.tuning)


def apply_tuning(engine: Engine, tuning: Tuning, camera_id: str | None) -> bool:
    """Apply ``tuning`` to the running engine (all cameras, or one as an override) and persist it.

    Returns:
        Whether it was persisted (False when the engine has no history store).
    """
    engine.set_tuning(tuning, camera_id)
    store = engine.history
    if store is None:
        return False
    if camera_id is None:
        store.save_tuning(tuning)
    else:
        store.set_setting(camera_tuning_key(engine.camera(camera_id).config.name), asdict(tuning))
    return True


def reset_camera_tuning(engine: Engine, camera_id: str) -> bool:
    """Drop a camera's override (it follows the global tuning again), also in the store."""
    engine.clear_camera_tuning(camera_id)
    store = engine.history
    if store is None:
        return False
    store.set_setting(camera_tuning_key(engine.camera(camera_id).config.name), None)
    return True
