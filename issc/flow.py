"""Short optical flow: moves a box from one grey picture to the next (pyramidal Lucas-Kanade).

Used by ``issc.overlay`` on the capture thread to keep boxes on their objects between two
analyses. One verb: ``BoxFlow.move(prev, cur, xyxy) -> xyxy | None``.

Corners inside the box (``cv2.goodFeaturesToTrack``) are followed from ``prev`` to ``cur`` and
back; those that come back to where they started (forward-backward error below a pixel) vote: the
box moves by their median shift and scales by the median ratio of their distances to their
centre. Fewer than ``MIN_POINTS`` reliable corners (a plain surface, an occlusion, a jump in the
picture) answer None: the caller keeps the box where it was. Regions larger than ``MAX_ROI_SIDE``
are halved first, so a big box costs about as much as a small one: ~0.4 ms a box on one core
(two LK calls ~60 %, corner search ~30 %).
"""

from __future__ import annotations

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
