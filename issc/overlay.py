"""Boxes on the live picture between analyses: they follow their objects and fade when stale.

The analysis thread runs the detector a few times a second at best (a 720p frame costs 200-400 ms
on two cores), while the capture thread publishes every frame. ``BoxOverlay`` sits between them:

* the analysis thread feeds it each result with the capture time of the frame it analysed
  (``update``); the result arrives 100-800 ms after that frame was captured;
* the capture thread asks it, for each published frame, which boxes to draw and how opaque
  (``boxes_at``), and hands the answer to ``FrameAnnotator``.

How boxes move, given the published picture (the engine's way):

* Every box is followed from one published frame to the next by short optical flow
  (``issc.flow.BoxFlow``) on a grey copy of the frame scaled to a 360-pixel short side.
* A new observation of a box corrects it: the flow box recorded for the analysed frame is
  compared with the observed box, and the difference (shift and size ratio) is applied to the box
  now and to the flow boxes recorded since, so the box keeps the motion seen since the analysed
  frame. A box observed for the first time is brought forward from the analysed frame to now
  through the grey copies of the frames in between (kept for ``flow_ring_s``).
* When flow cannot follow (too few corners, more than ``flow_max_boxes`` boxes) the box falls
  back to the motion model below; without pictures (``boxes_at(t)``) the model is all there is.

The motion model (``issc.flow.predict_box``): constant velocity of the centre and constant
growth rate of the size, from the last two observations, extrapolated at most
``max_extrapolate_s`` past the last observation, moving at most ``max_shift`` box sizes and
scaling at most by ``max_scale``.

Fading: a box not reported for ``fade_after`` analysis intervals starts fading and is gone after
``remove_after`` intervals (the interval is measured; the hold is kept between ``min_hold_s`` and
``max_hold_s``), so a box whose object left never hangs on. Fresh detections that are not tracked
yet (``tracker_id`` -1, or no tracker ids at all) are drawn at once; the next analysis tracks them
(the track takes over the box and its flow), shows them untracked again, or drops them.

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
import threading
from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np
import supervision as sv

from issc.detections import CLASS_NAMES, OPACITY_KEY, PLATE, box_iou
from issc.flow import BoxFlow, BoxObservation, centre_box, predict_box


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


@dataclass(frozen=True)
class _Look:
    """What a box is labelled with: taken from its newest observation."""

    class_id: int
    confidence: float
    class_name: str
    plate_text: str


class _Track:
    """One box's observations and flow state. Owned by ``BoxOverlay``, used under its lock."""

    def __init__(self, history: int) -> None:
        self.observations: deque[BoxObservation] = deque(maxlen=history)
        self.look: _Look | None = None
        self.box: np.ndarray | None = None  # flow box at the last followed frame (full pixels)
        self.steps: deque[tuple[float, np.ndarray]] = deque()  # (capture time, flow box) per frame
        self.applied = -math.inf  # capture time of the newest observation the flow box includes
        self.shown = (-math.inf, 1.0)  # (newest observation's time, opacity) when last drawn

    def observe(self, observation: BoxObservation, look: _Look) -> None:
        if self.observations and self.observations[-1].t >= observation.t:
            self.observations.pop()  # the same frame again: the newer report wins
        self.observations.append(observation)
        self.look = look

    def forget_flow(self) -> None:
        self.box = None
        self.steps.clear()
        self.applied = -math.inf


class BoxOverlay:
    """Which boxes to draw on each published frame, between analyses included.

    Thread-safe: ``update`` runs on a camera's analysis thread, ``boxes_at`` on its capture thread.

    Args:
        options: Flow, prediction and fading limits.
    """

    def __init__(self, options: OverlayOptions | None = None) -> None:
        self.options = options or OverlayOptions()
        self._flow = BoxFlow()
        self._lock = threading.Lock()
        self._tracks: dict[int, _Track] = {}
        self._fresh: list[_Track] = []  # untracked boxes of the newest analysis
        self._last_update: float | None = None
        self._interval: float | None = None  # smoothed time between analysed frames
        self._ring: deque[tuple[float, np.ndarray]] = deque()  # (capture time, grey copy)
        self._scale = 1.0  # grey copy pixels per frame pixel
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
        looks = _looks(detections)
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
                    track = _claim(unclaimed, detections.xyxy[i], looks[i].class_id)
                    track = track or _Track(self.options.history)
                    if tid >= 0:
                        self._tracks[tid] = track
                    else:
                        self._fresh.append(track)
                track.observe(observation, looks[i])
            _, remove_s = self._ages()
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
            fade_s, remove_s = self._ages()
            grey = self._remember(t, image)
            shown: list[tuple[int, _Track, float]] = []
            for tid, track in [*self._tracks.items(), *((-1, f) for f in self._fresh)]:
                seen = track.observations[-1].t
                opacity = _opacity(t - seen, fade_s, remove_s)
                if track.shown[0] == seen:  # not seen since: a fading box never comes back
                    opacity = min(opacity, track.shown[1])
                track.shown = (seen, opacity)
                if opacity > 0:
                    shown.append((tid, track, opacity))
                else:
                    track.forget_flow()
            # Plates first, then the most recently seen: they get the flow budget.
            shown.sort(key=lambda r: (r[1].look.class_id != PLATE, -r[1].observations[-1].t))
            rows: list[tuple[np.ndarray, _Look, int, float]] = []
            for rank, (tid, track, opacity) in enumerate(shown):
                if grey is not None and rank < self.options.flow_max_boxes:
                    box = self._follow(track, t, grey)
                else:
                    track.forget_flow()
                    box = self._predict(track.observations, t)
                rows.append((box, track.look, tid, opacity))
        if image is not None:
            h, w = image.shape[:2]
            rows = [r for r in rows if r[0][0] < w and r[0][1] < h and r[0][2] > 0 and r[0][3] > 0]
        return _detections(rows)

    def clear(self, captured_mono: float) -> None:
        """Forget every box: the picture jumped (a looped clip, a reconnected camera) at the frame
        captured at ``captured_mono``; results of frames captured before it are ignored too."""
        with self._lock:
            self._tracks.clear()
            self._fresh = []
            self._ring.clear()
            self._cleared_at = captured_mono

    # --- flow ----------------------------------------------------------------------------

    def _remember(self, t: float, image: np.ndarray | None) -> np.ndarray | None:
        """Add the frame's grey copy to the ring; its grey copy while analyses run, else None."""
        opts = self.options
        if not opts.flow or image is None:
            self._ring.clear()
            return None
        active = self._last_update is not None and t - self._last_update <= opts.flow_idle_s
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

    def _follow(self, track: _Track, t: float, grey: np.ndarray) -> np.ndarray:
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

    def _catch_up(self, track: _Track, observation: BoxObservation, t: float) -> None:
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

    # --- model ---------------------------------------------------------------------------

    def _ages(self) -> tuple[float, float]:
        """(age at which boxes start fading, age at which they are gone), in seconds."""
        opts = self.options
        interval = opts.default_interval_s if self._interval is None else self._interval
        remove_s = min(max(opts.remove_after * interval, opts.min_hold_s), opts.max_hold_s)
        return min(opts.fade_after * interval, remove_s - opts.min_fade_s), remove_s

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


def _recorded(steps: deque[tuple[float, np.ndarray]], t: float) -> np.ndarray | None:
    """The flow box recorded for the frame captured at ``t``, if it was followed then."""
    for ts, box in reversed(steps):
        if ts == t:
            return box
        if ts < t:
            return None
    return None


def _correct(track: _Track, observation: BoxObservation, recorded: np.ndarray) -> None:
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


def _claim(unclaimed: list[_Track], xyxy: np.ndarray, class_id: int) -> _Track | None:
    """Take the untracked box of the same class that overlaps ``xyxy`` most (IoU >= 0.3)."""
    best, best_iou = None, 0.3
    for track in unclaimed:
        if track.look is None or track.look.class_id != class_id:
            continue
        iou = box_iou(track.observations[-1].xyxy(), xyxy)
        if iou >= best_iou:
            best, best_iou = track, iou
    if best is not None:
        unclaimed.remove(best)
    return best


def _opacity(age: float, fade_s: float, remove_s: float) -> float:
    if age <= fade_s:
        return 1.0
    if age >= remove_s:
        return 0.0
    return (remove_s - age) / (remove_s - fade_s)


def _looks(detections: sv.Detections) -> list[_Look]:
    n = len(detections)
    class_ids = detections.class_id if detections.class_id is not None else np.zeros(n, int)
    confidence = detections.confidence if detections.confidence is not None else np.full(n, np.nan)
    names = detections.data.get("class_name")
    texts = detections.data.get("plate_text")
    looks = []
    for i in range(n):
        cid = int(class_ids[i])
        default_name = CLASS_NAMES[cid] if 0 <= cid < len(CLASS_NAMES) else str(cid)
        name = str(names[i]) if names is not None and names[i] is not None else default_name
        text = str(texts[i]) if texts is not None and texts[i] else ""
        looks.append(_Look(cid, float(confidence[i]), name, text))
    return looks


def _detections(rows: list[tuple[np.ndarray, _Look, int, float]]) -> sv.Detections:
    n = len(rows)
    xyxy = np.array([r[0] for r in rows], dtype=np.float32).reshape(n, 4)
    return sv.Detections(
        xyxy=xyxy,
        confidence=np.array([r[1].confidence for r in rows], dtype=np.float32),
        class_id=np.array([r[1].class_id for r in rows], dtype=int),
        tracker_id=np.array([r[2] for r in rows], dtype=int),
        data={
            "class_name": np.array([r[1].class_name for r in rows], dtype=object),
            "plate_text": np.array([r[1].plate_text for r in rows], dtype=object),
            OPACITY_KEY: np.array([r[3] for r in rows], dtype=np.float32),
        },
    )
