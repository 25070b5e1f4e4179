"""Plate tracking that holds at any analysis rate: one id per plate pass, from its first sighting.

ByteTrack (``supervision``) is built for detectors that run on every frame: a new track needs two
consecutive matches before it gets an id, its lost buffer counts frames, and it matches by box
overlap alone. At one or two analysed frames a second, a plate that comes closer moves and grows
so much between two analyses that its boxes barely overlap, and a pass may be analysed only two
or three times: by the time ByteTrack gives it an id, the car has gone.

``PlateTracker`` therefore

* gives every detection an id at once (the voter decides from the reads whether a track is a
  plate; an unconfirmed id costs nothing);
* predicts each track's box at the new frame's time from its last two boxes (constant velocity of
  corners, so growth is predicted too), and matches by overlap with the prediction;
* also matches by what the plate says: a detection whose free read (``data["plate_text"]``, the
  locator's own line read) is like the track's text belongs to it however far it moved;
* ends a track that has not been seen for ``lost_s`` seconds *and* ``lost_analyses`` analysed
  frames, so the buffer follows the real analysis rate, not the source's frame rate.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import supervision as sv

from issc.detections import box_iou
from issc.plates.text import similarity


@dataclass(frozen=True)
class TrackerOptions:
    """Tunables of ``PlateTracker``.

    Attributes:
        min_iou: Least overlap of a detection with a track's predicted box to match by position.
        text_similarity: Free reads at least this similar (``issc.plates.text.similarity``) match
            a detection to a track whatever the overlap ...
        text_reach: ... if its centre is within this many box widths of the predicted centre.
        lost_s: A track unseen for this many seconds ...
        lost_analyses: ... and this many analysed frames ends.
        max_predict_s: Boxes are extrapolated at most this far past the last sighting.
    """

    min_iou: float = 0.1
    text_similarity: float = 0.7
    text_reach: float = 4.0
    lost_s: float = 2.0
    lost_analyses: int = 3
    max_predict_s: float = 1.0


@dataclass
class _Track:
    track_id: int
    box: np.ndarray  # xyxy at last_seen
    last_seen: float
    last_update: int
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(4, np.float32))  # px/s per corner
    text: str = ""

    def predict(self, timestamp: float, max_s: float) -> np.ndarray:
        dt = min(max(timestamp - self.last_seen, 0.0), max_s)
        box = self.box + self.velocity * dt
        if box[2] - box[0] < 2 or box[3] - box[1] < 2:  # shrunk to nothing: keep the last box
            return self.box
        return box


class PlateTracker:
    """Gives plate detections a ``tracker_id`` per pass. One thread only.

    Args:
        options: Matching and ending rules.
    """

    def __init__(self, options: TrackerOptions | None = None) -> None:
        self.options = options or TrackerOptions()
        self._tracks: dict[int, _Track] = {}
        self._next_id = 1
        self._updates = 0

    @property
    def active_ids(self) -> set[int]:
        """Ids of the tracks still alive."""
        return set(self._tracks)

    def update(self, plates: sv.Detections, timestamp: float) -> sv.Detections:
        """Match one analysed frame's plates to the tracks; returns them with ``tracker_id`` set.

        Args:
            plates: Plate detections of one frame (``data["plate_text"]`` used when present).
            timestamp: Capture time of the frame, seconds.
        """
        self._updates += 1
        opts = self.options
        texts = plates.data.get("plate_text")
        n = len(plates)
        det_texts = [str(texts[i]) if texts is not None and texts[i] else "" for i in range(n)]
        tracks = list(self._tracks.values())
        predicted = [t.predict(timestamp, opts.max_predict_s) for t in tracks]
        pairs: list[tuple[float, int, int]] = []
        for ti, (track, box) in enumerate(zip(tracks, predicted, strict=True)):
            width = max(box[2] - box[0], 1.0)
            centre = (box[:2] + box[2:]) / 2
            for di in range(n):
                det = plates.xyxy[di]
                overlap = box_iou(box, det)
                score = overlap if overlap >= opts.min_iou else 0.0
                if track.text and det_texts[di]:
                    alike = similarity(track.text, det_texts[di])
                    reach = np.linalg.norm((det[:2] + det[2:]) / 2 - centre) / width
                    if alike >= opts.text_similarity and reach <= opts.text_reach:
                        score += alike
                if score > 0:
                    pairs.append((score, ti, di))
        ids = np.full(n, -1, dtype=int)
        used_tracks: set[int] = set()
        for _, ti, di in sorted(pairs, reverse=True):
            if ti in used_tracks or ids[di] >= 0:
                continue
            used_tracks.add(ti)
            ids[di] = tracks[ti].track_id
            self._observe(tracks[ti], plates.xyxy[di], timestamp, det_texts[di])
        for di in np.flatnonzero(ids < 0):
            track = _Track(self._next_id, np.asarray(plates.xyxy[di], np.float32), timestamp, self._updates)
            track.text = det_texts[di]
            self._tracks[track.track_id] = track
            ids[di] = track.track_id
            self._next_id += 1
        self._expire(timestamp)
        out = plates[np.arange(n)] if n else plates
        out.tracker_id = ids
        return out

    def _observe(self, track: _Track, box: np.ndarray, timestamp: float, text: str) -> None:
        box = np.asarray(box, np.float32)
        dt = timestamp - track.last_seen
        if dt > 1e-3:
            measured = (box - track.box) / dt
            # a light smoothing: a plate's motion changes little between analyses
            track.velocity = measured if not track.velocity.any() else 0.5 * track.velocity + 0.5 * measured
        track.box = box
        track.last_seen = timestamp
        track.last_update = self._updates
        if text:
            track.text = text

    def _expire(self, timestamp: float) -> None:
        opts = self.options
        for tid in [
            t.track_id
            for t in self._tracks.values()
            if timestamp - t.last_seen > opts.lost_s and self._updates - t.last_update >= opts.lost_analyses
        ]:
            del self._tracks[tid]
