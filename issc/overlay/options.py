"""``OverlayOptions``: the tunables of the live boxes (flow, prediction, fading), checked once."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OverlayOptions:
    """Tunables of ``BoxOverlay``.

    Attributes:
        history: Observations kept per track.
        max_extrapolate_s: A box is moved along at most this long past its last observation.
        max_velocity_span_s: Two observations further apart than this give no velocity.
        max_shift: Largest predicted move, in box widths (x) and heights (y).
        max_scale: Largest predicted growth (and 1 / it the largest shrink) of a box side.
        fade_after: A box not updated for this many analysis intervals starts fading...
        remove_after: ... and is removed after this many.
        min_hold_s: The removal age is at least this (fast analysis, one missed frame)...
        max_hold_s: ... and at most this (slow analysis must not leave boxes hanging).
        min_fade_s: Fading takes at least this long (it starts earlier when the hold is capped).
        default_interval_s: The analysis interval assumed until two analyses have been seen.
        flow: Follow boxes with optical flow when ``boxes_at`` is given the picture.
        flow_short_side: Flow runs on grey copies scaled down (never up) to this short side.
        flow_max_boxes: Boxes followed by flow per frame (plates first); the rest use the model.
        flow_ring_s: Seconds of grey copies kept to bring a new box forward from its analysed
            frame (about the longest analysis latency).
        flow_idle_s: Grey copies of every frame are made only this long after the last analysis
            (a static scene is not analysed)...
        flow_idle_period_s: ... otherwise one every this many seconds, so that the first box after
            a quiet spell can still be brought forward (coarsely).
        max_catch_up_steps: Flow steps at most to bring a new box forward (frames are skipped
            evenly beyond that).
    """

    history: int = 4
    max_extrapolate_s: float = 1.0
    max_velocity_span_s: float = 2.0
    max_shift: float = 3.0
    max_scale: float = 1.6
    fade_after: float = 1.5
    remove_after: float = 3.0
    min_hold_s: float = 0.5
    max_hold_s: float = 2.5
    min_fade_s: float = 0.3
    default_interval_s: float = 0.5
    flow: bool = True
    flow_short_side: int = 360
    flow_max_boxes: int = 4
    flow_ring_s: float = 1.5
    flow_idle_s: float = 10.0
    flow_idle_period_s: float = 0.1
    max_catch_up_steps: int = 12

    def __post_init__(self) -> None:
        if self.history < 2:
            raise ValueError(f"history must be at least 2 observations, got {self.history}")
        if not 0 < self.fade_after < self.remove_after:
            raise ValueError(
                f"expected 0 < fade_after < remove_after, got {self.fade_after} and {self.remove_after}"
            )
        if not 0 < self.min_hold_s <= self.max_hold_s:
            raise ValueError(
                f"expected 0 < min_hold_s <= max_hold_s, got {self.min_hold_s} and {self.max_hold_s}"
            )
        if not 0 < self.min_fade_s < self.min_hold_s:
            raise ValueError(
                f"expected 0 < min_fade_s < min_hold_s, got {self.min_fade_s} and {self.min_hold_s}"
            )
        if self.max_scale < 1:
            raise ValueError(f"max_scale must be at least 1, got {self.max_scale}")
        if self.flow_short_side < 64:
            raise ValueError(f"flow_short_side must be at least 64 pixels, got {self.flow_short_side}")
        if self.max_catch_up_steps < 1:
            raise ValueError(f"max_catch_up_steps must be at least 1, got {self.max_catch_up_steps}")
