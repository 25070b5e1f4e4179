"""``BoxOverlay``: which boxes to draw on each published frame, between analyses included.

The analysis thread feeds it each result (``update``); the capture thread asks it, for each
published frame, which boxes to draw and how opaque (``boxes_at``). Boxes are moved by flow
(:mod:`~issc.overlay.follow`) for the first ``flow_max_boxes``, by the motion model
(``issc.flow.predict_box``) otherwise, and fade by :mod:`~issc.overlay.fading`.
"""

from __future__ import annotations

import math
import threading
from collections import deque

import numpy as np
import supervision as sv

from issc.detections import PLATE
from issc.flow import BoxObservation, predict_box
from issc.overlay.fading import ages
from issc.overlay.fading import opacity as opacity_at
from issc.overlay.follow import FlowFollower
from issc.overlay.options import OverlayOptions
from issc.overlay.track import Look, Track, claim, looks, to_detections


class BoxOverlay:
    """Which boxes to draw on each published frame, between analyses included.

    Thread-safe: ``update`` runs on a camera's analysis thread, ``boxes_at`` on its capture thread.

    Args:
        options: Flow, prediction and fading limits.
    """

    def __init__(self, options: OverlayOptions | None = None) -> None:
        self.options = options or OverlayOptions()
        self._follower = FlowFollower(self.options)
        self._lock = threading.Lock()
        self._tracks: dict[int, Track] = {}
        self._fresh: list[Track] = []  # untracked boxes of the newest analysis
        self._last_update: float | None = None
        self._interval: float | None = None  # smoothed time between analysed frames
        self._cleared_at = -math.inf  # capture time of the first frame after the last jump

    def update(self, detections: sv.Detections, captured_mono: float) -> None:
        """Take one analysis result.

        Args:
            detections: Boxes found in the analysed frame, in its pixels; ``tracker_id`` -1 (or
                ``None``) for boxes not tracked yet; ``data["plate_text"]`` optional.
            captured_mono: ``time.monotonic()`` at which the analysed frame was captured.
        """
        n = len(detections)
        ids = detections.tracker_id if detections.tracker_id is not None else np.full(n, -1)
        found = looks(detections)
        with self._lock:
            if captured_mono < self._cleared_at:
                return  # analysed before the picture jumped: its boxes are nowhere now
            if self._last_update is not None and captured_mono > self._last_update:
                gap = min(captured_mono - self._last_update, self.options.max_hold_s)
                self._interval = gap if self._interval is None else 0.5 * self._interval + 0.5 * gap
            self._last_update = captured_mono
            unclaimed = list(self._fresh)
            self._fresh = []
            for i in range(n):
                observation = BoxObservation.of(captured_mono, detections.xyxy[i])
                tid = int(ids[i])
                track = self._tracks.get(tid) if tid >= 0 else None
                if track is None:
                    # A box seen untracked last time is the same box: keep its flow.
                    track = claim(unclaimed, detections.xyxy[i], found[i].class_id)
                    track = track or Track(self.options.history)
                    if tid >= 0:
                        self._tracks[tid] = track
                    else:
                        self._fresh.append(track)
                track.observe(observation, found[i])
            _, remove_s = ages(self.options, self._interval)
            gone = [
                tid for tid, tr in self._tracks.items() if captured_mono - tr.observations[-1].t > remove_s
            ]
            for tid in gone:
                del self._tracks[tid]

    def boxes_at(self, captured_mono: float, image: np.ndarray | None = None) -> sv.Detections:
        """The boxes to draw on a frame captured at ``captured_mono``.

        Args:
            captured_mono: ``time.monotonic()`` at which the published frame was captured.
            image: The published frame (BGR). With it, boxes follow their objects by optical flow
                and boxes wholly outside the frame are left out; without it, the motion model
                alone places them.

        Returns:
            Detections with ``xyxy``, ``class_id``, ``confidence``, ``tracker_id`` (-1 for
            untracked), ``data["class_name"]``, ``data["plate_text"]`` and ``data["opacity"]``
            in (0, 1]: what ``FrameAnnotator`` draws.
        """
        t = captured_mono
        with self._lock:
            fade_s, remove_s = ages(self.options, self._interval)
            grey = self._follower.remember(t, image, self._last_update)
            shown: list[tuple[int, Track, float]] = []
            for tid, track in [*self._tracks.items(), *((-1, f) for f in self._fresh)]:
                seen = track.observations[-1].t
                opacity = opacity_at(t - seen, fade_s, remove_s)
                if track.shown[0] == seen:  # not seen since: a fading box never comes back
                    opacity = min(opacity, track.shown[1])
                track.shown = (seen, opacity)
                if opacity > 0:
                    shown.append((tid, track, opacity))
                else:
                    track.forget_flow()
            # Plates first, then the most recently seen: they get the flow budget.
            shown.sort(key=lambda r: (r[1].look.class_id != PLATE, -r[1].observations[-1].t))
            rows: list[tuple[np.ndarray, Look, int, float]] = []
            for rank, (tid, track, opacity) in enumerate(shown):
                if grey is not None and rank < self.options.flow_max_boxes:
                    box = self._follower.follow(track, t, grey)
                else:
                    track.forget_flow()
                    box = self._predict(track.observations, t)
                rows.append((box, track.look, tid, opacity))
        if image is not None:
            h, w = image.shape[:2]
            rows = [r for r in rows if r[0][0] < w and r[0][1] < h and r[0][2] > 0 and r[0][3] > 0]
        return to_detections(rows)

    def clear(self, captured_mono: float) -> None:
        """Forget every box: the picture jumped (a looped clip, a reconnected camera) at the frame
        captured at ``captured_mono``; results of frames captured before it are ignored too."""
        with self._lock:
            self._tracks.clear()
            self._fresh = []
            self._follower.clear()
            self._cleared_at = captured_mono

    def _predict(self, observations: deque[BoxObservation], t: float) -> np.ndarray:
        opts = self.options
        return predict_box(
            observations,
            t,
            max_extrapolate_s=opts.max_extrapolate_s,
            max_velocity_span_s=opts.max_velocity_span_s,
            max_shift=opts.max_shift,
            max_scale=opts.max_scale,
        )
