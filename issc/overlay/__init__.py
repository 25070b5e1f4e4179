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

The package, one job a module:

* :mod:`~issc.overlay.box_overlay`: ``BoxOverlay``, results in and boxes to draw out, per frame;
* :mod:`~issc.overlay.options`: ``OverlayOptions``, its tunables, checked;
* :mod:`~issc.overlay.track`: one box's observations and look, to and from ``sv.Detections``;
* :mod:`~issc.overlay.follow`: boxes followed from frame to frame by optical flow;
* :mod:`~issc.overlay.fading`: how long a box is held and how opaque it is as it ages.
"""

from __future__ import annotations

from issc.overlay.box_overlay import BoxOverlay
from issc.overlay.options import OverlayOptions

__all__ = ["BoxOverlay", "OverlayOptions"]
