"""Boxes followed from one published frame to the next by optical flow.

How it moves and corrects boxes is told in :mod:`issc.overlay`; this module keeps the grey
copies (``flow_ring_s`` of them) and applies it.

Why flow and not only the model (measured on two shared cores, ``python -m issc.bench passes``
on the LS15EBC clip, 4 s gaps, ``--load 1``, 60 s each): the share of frames showing the plate's
box was 0.88 with flow against 0.79 with the model alone. The model overshoots as the car slows
and cannot move a box observed once; what flow misses is mostly the start of each pass, before the
first result arrives. Cost per 720p frame on the capture thread (CPU time of one thread): the grey
copy ~0.3-0.4 ms while analyses run (one frame in three otherwise), ~0.6-0.8 ms per box followed
by flow (at most ``flow_max_boxes``), 0.05-0.1 ms for the model; drawing ~0.4-0.6 ms. Capture to
publish took 2.3 ms at the median and 15 ms at p95 with flow (0.9 and 4 ms with the model alone):
each OpenCV call hands the GIL back and forth with the analysis thread.
"""

from __future__ import annotations

import itertools
import math
from collections import deque

import cv2
import numpy as np

from issc.flow import BoxFlow, BoxObservation, centre_box
from issc.overlay.options import OverlayOptions
from issc.overlay.track import Track


class FlowFollower:
    """Flow boxes moved over the ring of recent grey copies. Owned by ``BoxOverlay``, under its lock.

    Args:
        options: Flow limits (``flow``, ``flow_short_side``, ``flow_ring_s``, ``flow_idle_s``, ...).
    """

    def __init__(self, options: OverlayOptions) -> None:
        self.options = options
        self._flow = BoxFlow()
        self._ring: deque[tuple[float, np.ndarray]] = deque()  # (capture time, grey copy)
        self._scale = 1.0  # grey copy pixels per frame pixel

    def clear(self) -> None:
        """Forget the grey copies: the picture jumped."""
        self._ring.clear()

    def remember(self, t: float, image: np.ndarray | None, last_update: float | None) -> np.ndarray | None:
        """Add the frame's grey copy to the ring; its grey copy while analyses run, else None.

        Args:
            t: Capture time of the frame.
            image: The frame (BGR); None (or flow off) empties the ring.
            last_update: Capture time of the newest analysed frame; None before the first.
        """
        opts = self.options
        if not opts.flow or image is None:
            self._ring.clear()
            return None
        active = last_update is not None and t - last_update <= opts.flow_idle_s
        if not active and self._ring and t - self._ring[-1][0] < opts.flow_idle_period_s:
            return None
        h, w = image.shape[:2]
        scale = min(opts.flow_short_side / min(h, w), 1.0)
        if scale != self._scale:
            self._ring.clear()
            self._scale = scale
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        if scale != 1.0:
            grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        if self._ring and (t <= self._ring[-1][0] or self._ring[-1][1].shape != grey.shape):
            self._ring.clear()
        self._ring.append((t, grey))
        while self._ring[0][0] < t - opts.flow_ring_s:
            self._ring.popleft()
        return grey if active else None

    def _step(self, a: np.ndarray, b: np.ndarray, box: np.ndarray) -> np.ndarray:
        """``box`` (frame pixels) moved from grey copy ``a`` to ``b``; unmoved if flow fails."""
        moved = self._flow.move(a, b, box * self._scale)
        return box if moved is None else moved / self._scale

    def follow(self, track: Track, t: float, grey: np.ndarray) -> np.ndarray:
        """Move the track's flow box to frame ``t`` and apply its new observations."""
        if track.box is not None and len(self._ring) >= 2 and self._ring[-2][0] == track.steps[-1][0]:
            track.box = self._step(self._ring[-2][1], grey, track.box)
            track.steps.append((t, track.box))
        elif track.box is not None:
            track.forget_flow()  # a frame was missed (budget, idle): start again from the observation
        pending = [o for o in track.observations if o.t > track.applied]
        for observation in pending if track.box is not None else [track.observations[-1]]:
            recorded = _recorded(track.steps, observation.t)
            if track.box is not None and recorded is not None:
                _correct(track, observation, recorded)
            else:
                self._catch_up(track, observation, t)
            track.applied = observation.t
        while track.steps and track.steps[0][0] < t - self.options.flow_ring_s:
            track.steps.popleft()
        assert track.box is not None
        return track.box

    def _catch_up(self, track: Track, observation: BoxObservation, t: float) -> None:
        """Bring a box observed at ``observation.t`` forward to ``t`` through the ring."""
        frames = [f for f in self._ring if f[0] >= observation.t]
        stride = max(math.ceil((len(frames) - 1) / self.options.max_catch_up_steps), 1)
        picked = frames[::stride]
        if picked and picked[-1][0] != t:
            picked.append(frames[-1])
        box = observation.xyxy()
        track.steps = deque([(observation.t, box)])
        for (_, a), (tb, b) in itertools.pairwise(picked):
            box = self._step(a, b, box)
            track.steps.append((tb, box))
        if track.steps[-1][0] != t:
            track.steps.append((t, box))
        track.box = box


def _recorded(steps: deque[tuple[float, np.ndarray]], t: float) -> np.ndarray | None:
    """The flow box recorded for the frame captured at ``t``, if it was followed then."""
    for ts, box in reversed(steps):
        if ts == t:
            return box
        if ts < t:
            return None
    return None


def _correct(track: Track, observation: BoxObservation, recorded: np.ndarray) -> None:
    """Apply the observed-minus-recorded shift and size ratio to the flow boxes since then."""
    seen = BoxObservation.of(observation.t, recorded)
    dx, dy = observation.cx - seen.cx, observation.cy - seen.cy
    rw, rh = observation.w / seen.w, observation.h / seen.h

    def fix(box: np.ndarray) -> np.ndarray:
        o = BoxObservation.of(0.0, box)
        return centre_box(o.cx + dx, o.cy + dy, o.w * rw, o.h * rh)

    track.steps = deque((ts, fix(box) if ts >= observation.t else box) for ts, box in track.steps)
    assert track.box is not None
    track.box = fix(track.box)
