"""Box motion between two analyses: by the picture (short optical flow) or by extrapolation.

Used by ``issc.overlay`` on the capture thread to keep boxes on their objects between two
analyses. Two ways to move a box:

* ``BoxFlow.move(prev, cur, xyxy) -> xyxy | None``: pyramidal Lucas-Kanade from one grey picture
  to the next (below);
* ``predict_box(observations, t, ...)``: the motion model, for when there is no picture or flow
  fails: constant velocity of the centre and constant growth rate of the size from the last two
  observations (``BoxObservation``), within limits.

Flow:

Corners inside the box (``cv2.goodFeaturesToTrack``) are followed from ``prev`` to ``cur`` and
back; those that come back to where they started (forward-backward error below a pixel) vote: the
box moves by their median shift and scales by the median ratio of their distances to their
centre. Fewer than ``MIN_POINTS`` reliable corners (a plain surface, an occlusion, a jump in the
picture) answer None: the caller keeps the box where it was. Regions larger than ``MAX_ROI_SIDE``
are halved first, so a big box costs about as much as a small one: ~0.4 ms a box on one core
(two LK calls ~60 %, corner search ~30 %).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np


class BoxFlow:
    """Moves boxes between two consecutive grey pictures of one camera.

    Attributes:
        MAX_CORNERS: Corners followed per box.
        MIN_POINTS: Reliable corners needed to move a box.
        MAX_FB_ERROR: Largest forward-backward error (pixels of the region) of a reliable corner.
        MAX_STEP_SCALE: Largest growth (1 / it the largest shrink) of a box in one step.
        MAX_ROI_SIDE: Regions with a longer side are halved (repeatedly) before the flow.
    """

    MAX_CORNERS = 20
    MIN_POINTS = 6
    MAX_FB_ERROR = 0.75
    MAX_STEP_SCALE = 1.1
    MAX_ROI_SIDE = 160
    _LK = {
        "winSize": (15, 15),
        "maxLevel": 2,
        "criteria": (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03),
    }

    def move(self, prev: np.ndarray, cur: np.ndarray, xyxy: np.ndarray) -> np.ndarray | None:
        """Where the box ``xyxy`` of ``prev`` is in ``cur``.

        Args:
            prev: Grey uint8 picture the box was in.
            cur: The next grey picture of the same size.
            xyxy: The box in ``prev``'s pixels.

        Returns:
            The moved box (float32 xyxy, same pixels), or None when it cannot be followed.
        """
        if prev.shape != cur.shape:
            return None
        x0, y0, x1, y1 = (float(v) for v in xyxy)
        w, h = x1 - x0, y1 - y0
        height, width = prev.shape[:2]
        if w < 4 or h < 4:
            return None
        margin = 0.5 * max(w, h) + 8
        rx0, ry0 = int(max(x0 - margin, 0)), int(max(y0 - margin, 0))
        rx1, ry1 = int(min(x1 + margin, width)), int(min(y1 + margin, height))
        if rx1 - rx0 < 16 or ry1 - ry0 < 16:
            return None
        a, b = prev[ry0:ry1, rx0:rx1], cur[ry0:ry1, rx0:rx1]
        shrink = 1
        while max(a.shape) > self.MAX_ROI_SIDE:
            a, b = cv2.pyrDown(a), cv2.pyrDown(b)
            shrink *= 2
        mask = np.zeros_like(a)
        mx0, my0 = max(int((x0 - rx0) / shrink), 0), max(int((y0 - ry0) / shrink), 0)
        mask[my0 : int(np.ceil((y1 - ry0) / shrink)), mx0 : int(np.ceil((x1 - rx0) / shrink))] = 255
        corners = cv2.goodFeaturesToTrack(a, self.MAX_CORNERS, 0.01, 2, mask=mask)
        if corners is None or len(corners) < self.MIN_POINTS:
            return None
        ahead, found, _ = cv2.calcOpticalFlowPyrLK(a, b, corners, None, **self._LK)
        back, found_back, _ = cv2.calcOpticalFlowPyrLK(b, a, ahead, None, **self._LK)
        error = np.linalg.norm((back - corners).reshape(-1, 2), axis=1)
        good = (found.ravel() == 1) & (found_back.ravel() == 1) & (error < self.MAX_FB_ERROR)
        if good.sum() < self.MIN_POINTS:
            return None
        p0, p1 = corners[good].reshape(-1, 2), ahead[good].reshape(-1, 2)
        dx, dy = np.median(p1 - p0, axis=0) * shrink
        r0 = np.linalg.norm(p0 - p0.mean(axis=0), axis=1)
        r1 = np.linalg.norm(p1 - p1.mean(axis=0), axis=1)
        spread = r0 > 2.0
        scale = float(np.median(r1[spread] / r0[spread])) if spread.sum() >= 3 else 1.0
        scale = min(max(scale, 1.0 / self.MAX_STEP_SCALE), self.MAX_STEP_SCALE)
        ncx, ncy = (x0 + x1) / 2 + dx, (y0 + y1) / 2 + dy
        nw, nh = w * scale, h * scale
        return np.array([ncx - nw / 2, ncy - nh / 2, ncx + nw / 2, ncy + nh / 2], dtype=np.float32)


@dataclass(frozen=True)
class BoxObservation:
    """Where one box was in one analysed frame (centre and size, pixels)."""

    t: float  # capture time (monotonic) of the analysed frame
    cx: float
    cy: float
    w: float
    h: float

    @staticmethod
    def of(t: float, xyxy: np.ndarray) -> BoxObservation:
        x0, y0, x1, y1 = (float(v) for v in xyxy)
        return BoxObservation(t, (x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, 1.0), max(y1 - y0, 1.0))

    def xyxy(self) -> np.ndarray:
        return centre_box(self.cx, self.cy, self.w, self.h)


def centre_box(cx: float, cy: float, w: float, h: float) -> np.ndarray:
    """The float32 xyxy box of centre (``cx``, ``cy``) and size ``w`` x ``h``."""
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dtype=np.float32)


def predict_box(
    observations: Sequence[BoxObservation],
    t: float,
    *,
    max_extrapolate_s: float,
    max_velocity_span_s: float,
    max_shift: float,
    max_scale: float,
) -> np.ndarray:
    """Where a box observed at ``observations`` (oldest first, at least one) is at time ``t``.

    Between two observations: interpolated. After the last: moved on at the velocity and growth
    rate of the last two, for at most ``max_extrapolate_s``, by at most ``max_shift`` box sizes and
    scaled by at most ``max_scale``; two observations further apart than ``max_velocity_span_s``
    give no velocity.
    """
    last = observations[-1]
    if t < last.t:
        earlier = [o for o in observations if o.t <= t]
        if not earlier:
            return observations[0].xyxy()
        a = earlier[-1]
        b = next(o for o in observations if o.t > t)
        f = (t - a.t) / (b.t - a.t)
        return centre_box(*(pa + f * (pb - pa) for pa, pb in zip(_vec(a), _vec(b), strict=True)))
    if len(observations) < 2:
        return last.xyxy()
    prev = observations[-2]
    span = last.t - prev.t
    if not 0 < span <= max_velocity_span_s:
        return last.xyxy()
    dt = min(t - last.t, max_extrapolate_s)
    shift_x = np.clip((last.cx - prev.cx) / span * dt, -max_shift * last.w, max_shift * last.w)
    shift_y = np.clip((last.cy - prev.cy) / span * dt, -max_shift * last.h, max_shift * last.h)
    lo, hi = 1.0 / max_scale, max_scale
    grow_w = np.clip(math.exp(math.log(last.w / prev.w) / span * dt), lo, hi)
    grow_h = np.clip(math.exp(math.log(last.h / prev.h) / span * dt), lo, hi)
    return centre_box(last.cx + shift_x, last.cy + shift_y, last.w * grow_w, last.h * grow_h)


def _vec(o: BoxObservation) -> tuple[float, float, float, float]:
    return o.cx, o.cy, o.w, o.h
