"""How long a box is held after its last observation, and how opaque it is as it ages.

A box not reported for ``fade_after`` analysis intervals starts fading and is gone after
``remove_after`` intervals; the hold is kept between ``min_hold_s`` and ``max_hold_s``.
"""

from __future__ import annotations

from issc.overlay.options import OverlayOptions


def ages(options: OverlayOptions, interval: float | None) -> tuple[float, float]:
    """(age at which boxes start fading, age at which they are gone), in seconds.

    Args:
        options: The overlay's limits.
        interval: The measured analysis interval; None until two analyses have been seen.
    """
    opts = options
    interval = opts.default_interval_s if interval is None else interval
    remove_s = min(max(opts.remove_after * interval, opts.min_hold_s), opts.max_hold_s)
    return min(opts.fade_after * interval, remove_s - opts.min_fade_s), remove_s


def opacity(age: float, fade_s: float, remove_s: float) -> float:
    """A box's opacity at ``age`` seconds: 1 up to ``fade_s``, 0 from ``remove_s``, linear between."""
    if age <= fade_s:
        return 1.0
    if age >= remove_s:
        return 0.0
    return (remove_s - age) / (remove_s - fade_s)
