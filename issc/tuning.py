"""Live tuning: the thresholds analysts change while watching, which camera runs with which, and
keeping them across restarts.

:class:`Tuning` is the one declaration of each threshold (default, bounds, description); the
settings use it as their ``tuning`` section, so ``PLATE_CONF`` and the Tuning page's slider share
one default and one range. :class:`TuningBook` holds the tuning in force: one for every camera,
and per-camera overrides keyed by camera name, saved in a key-value store when there is one.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

logger = logging.getLogger(__name__)

GLOBAL_KEY = "tuning"


class Tuning(BaseModel):
    """Thresholds that analysts change while watching. Frozen: swapped whole, never mutated."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_by_name=True, validate_by_alias=True)

    person_conf: float = Field(0.5, ge=0, le=1, description="Minimum person confidence.")
    plate_conf: float = Field(0.3, ge=0, le=1, description="Minimum plate confidence.")
    ocr_min_conf: float = Field(0.1, ge=0, le=1, description="Reads below this confidence are ignored.")
    iou: float = Field(0.5, ge=0, le=1, description="IoU for non-maximum suppression and tracking.")
    motion_threshold: float = Field(0.002, ge=0, le=1, description="Changed-pixel fraction that is motion.")
    ocr_engine: Literal["rapidocr", "easyocr"] = Field("rapidocr", description="Plate OCR engine.")
    ocr_preprocess: Literal["none", "prototype"] = Field(
        "none", description="prototype: grey + fastNlMeansDenoising, as the old prototype."
    )
    recognition_threshold: float = Field(
        0.9,
        ge=0,
        le=1,
        alias="plate_recognition_threshold",
        description="One plate read at least this confident makes an event (else two agreeing reads); "
        "a pass with no read this confident is stored as unsure (no alert until confirmed).",
    )

    @classmethod
    def bounds(cls, name: str) -> tuple[float, float]:
        """``(lowest, highest)`` allowed for a numeric threshold, from its declaration."""
        rules = cls.model_fields[name].metadata
        low = next((float(r.ge) for r in rules if getattr(r, "ge", None) is not None), float("-inf"))
        high = next((float(r.le) for r in rules if getattr(r, "le", None) is not None), float("inf"))
        return low, high

    def changed(self, **values: Any) -> Tuning:
        """A copy with ``values`` replaced, checked against the bounds.

        Raises:
            pydantic.ValidationError: a value is out of range or of the wrong kind.
        """
        return Tuning.model_validate({**self.model_dump(), **values})


def restore(saved: Mapping[str, Any], base: Tuning) -> Tuning:
    """``base`` with the saved values that are known to this version and within bounds.

    Saved rows outlive code changes: unknown keys are ignored, invalid values are dropped with a
    warning (never a failed start), the rest is validated like any new tuning.
    """
    known = {k: v for k, v in saved.items() if k in Tuning.model_fields}
    try:
        return base.changed(**known)
    except ValidationError as exc:
        bad = {str(e["loc"][0]) for e in exc.errors() if e.get("loc")}
        logger.warning("ignoring saved tuning values out of range: %s", ", ".join(sorted(bad)))
        return base.changed(**{k: v for k, v in known.items() if k not in bad})


def camera_key(camera_name: str) -> str:
    """Key of one camera's own tuning in the key-value store."""
    return f"{GLOBAL_KEY}.camera.{camera_name}"


class KeyValueStore(Protocol):
    """Where tunings are kept (``issc.store.Store`` is one)."""

    def get_setting(self, key: str, default: Any = None) -> Any: ...

    def set_setting(self, key: str, value: Any) -> None: ...


class TuningBook:
    """The tuning in force: one for every camera, and overrides keyed by camera name.

    Listeners are called with the camera name whose tuning changed (``None``: possibly all). With a
    ``store``, every change is saved and :meth:`load` restores what was saved.
    """

    def __init__(self, default: Tuning, store: KeyValueStore | None = None) -> None:
        self._default = default
        self._store = store
        self._global = default
        self._own: dict[str, Tuning] = {}
        self._lock = threading.Lock()
        self._listeners: list[Callable[[str | None], None]] = []

    @property
    def persistent(self) -> bool:
        """Whether changes are saved."""
        return self._store is not None

    def load(self, camera_names: Iterable[str]) -> TuningBook:
        """Restore the saved global tuning and the saved overrides of ``camera_names``.

        Also a reload: the store is the truth, so an override that is no longer saved (cleared in
        another process) is dropped, and a global tuning no longer saved falls back to the default.
        Listeners hear of what changed: ``None`` when the global tuning did (every camera may run
        with it), else each camera whose override changed; nothing when nothing did.

        Raises:
            Exception: whatever the store raises when it cannot be read (nothing is changed then).
        """
        if self._store is None:
            return self
        names = list(dict.fromkeys(camera_names))
        saved = self._store.get_setting(GLOBAL_KEY)
        saved_own = {name: self._store.get_setting(camera_key(name)) for name in names}
        with self._lock:
            before = self._global, {name: self._own.get(name) for name in names}
            self._global = restore(saved, self._default) if isinstance(saved, dict) else self._default
            for name, own in saved_own.items():
                if isinstance(own, dict):
                    self._own[name] = restore(own, self._global)
                else:
                    self._own.pop(name, None)
            changed = self._changed_since(*before)
        for camera in changed:
            self._notify(camera)
        return self

    def _changed_since(self, global_before: Tuning, own_before: dict[str, Tuning | None]) -> list[str | None]:
        """``[None]`` when the global tuning changed, else the cameras whose override did."""
        if self._global != global_before:
            return [None]
        return [name for name, own in own_before.items() if self._own.get(name) != own]

    def subscribe(self, listener: Callable[[str | None], None]) -> None:
        """Call ``listener(camera_name or None)`` after every change."""
        self._listeners.append(listener)

    @property
    def global_tuning(self) -> Tuning:
        return self._global

    def for_camera(self, name: str | None) -> Tuning:
        """The tuning a camera runs with (its override, else the global one); ``None``: the global one."""
        if name is None:
            return self._global
        return self._own.get(name, self._global)

    def overrides(self) -> dict[str, Tuning]:
        """Cameras with their own tuning, by name."""
        return dict(self._own)

    def set(self, tuning: Tuning, camera: str | None = None) -> bool:
        """Apply ``tuning`` to every camera without an override, or to one camera as its override.

        Returns:
            Whether it was saved (False without a store).
        """
        with self._lock:
            if camera is None:
                self._global = tuning
            else:
                self._own[camera] = tuning
        if self._store is not None:
            key = GLOBAL_KEY if camera is None else camera_key(camera)
            self._store.set_setting(key, tuning.model_dump())
        self._notify(camera)
        return self._store is not None

    def clear(self, camera: str) -> bool:
        """Drop a camera's override: it follows the global tuning again (also in the store)."""
        with self._lock:
            self._own.pop(camera, None)
        if self._store is not None:
            self._store.set_setting(camera_key(camera), None)
        self._notify(camera)
        return self._store is not None

    def _notify(self, camera: str | None) -> None:
        for listener in self._listeners:
            listener(camera)


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
