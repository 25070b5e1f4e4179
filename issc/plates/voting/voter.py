"""``PlateVoter``: the life of each tracked plate, from its first sighting to its one event.

For every tracked plate the voter counts the locator's free read, OCRs the crops worth reading
(:mod:`issc.plates.voting.budget`), and when the tracker drops the track (or on ``flush``) makes its
event (:mod:`issc.plates.voting.event`) if its reads are enough
(:mod:`issc.plates.voting.verdict`) and it repeats no recent pass
(:mod:`issc.plates.voting.passes`); an unsure read that may be a partial one waits in
:mod:`issc.plates.voting.partials`. A live track whose reads are enough also makes a
*provisional* event at once, for the store alone. The package docstring tells the whole story.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import supervision as sv

from issc.plates.crops import pad_box, sharpness
from issc.plates.ocr.reader import PlateReader
from issc.plates.voting.budget import worth_reading
from issc.plates.voting.event import plate_event
from issc.plates.voting.options import VotingOptions
from issc.plates.voting.partials import PartialHold
from issc.plates.voting.passes import RecentPasses, Seen
from issc.plates.voting.track_reads import TrackReads
from issc.plates.voting.verdict import enough, may_be_partial
from issc.types import PlateEvent, PlateRead

logger = logging.getLogger(__name__)


class PlateVoter:
    """Reads tracked plates sparingly and emits one ``PlateEvent`` per track. One thread only.

    Args:
        camera: Camera name written into events.
        reader: The plate reader (may be replaced between updates, e.g. when tuning changes).
        options: Budgets and thresholds.
    """

    def __init__(self, camera: str, reader: PlateReader, options: VotingOptions | None = None) -> None:
        self.camera = camera
        self.reader = reader
        self.options = options or VotingOptions()
        self._tracks: dict[int, TrackReads] = {}
        self._updates = 0
        self._recent = RecentPasses()  # passes with an event, final or provisional
        # finished tracks that may be partial reads (see partial_hold_s)
        self._held = PartialHold(
            camera, self.options.partial_hold_s, self.options.max_reads, self.options.cluster_similarity
        )
        self._provisional: list[PlateEvent] = []

    def current(self, tracker_id: int) -> PlateRead | None:
        """The text voted so far for a live track (for labels such as ``plate LS15EBC 0.93``)."""
        track = self._tracks.get(int(tracker_id))
        return None if track is None else track.voted

    def update(
        self, image: np.ndarray, plates: sv.Detections, timestamp: float, alive: set[int] | None = None
    ) -> tuple[list[PlateEvent], int]:
        """Take one analysed frame's tracked plates.

        Args:
            image: The clean frame (BGR), crops are cut from it. It is kept (not copied) as the
                snapshot candidate, so it must not be modified afterwards.
            plates: Plate detections with ``tracker_id`` set (others are ignored). Their
                ``data["plate_text"]``, when present, is a free read (the locator read the line
                to find it) that votes with ``data["text_conf"]`` (else ``confidence``) as its
                confidence.
            timestamp: Capture time, seconds since the epoch; stamped on the reads (``at``).
            alive: The tracker's live track ids: tracks not in it are finished. ``None``: tracks
                end after ``lost_frames`` analyses or ``lost_s`` seconds unseen.

        Returns:
            Events of the tracks finished by this frame, and the number of OCR calls made.
        """
        self._updates += 1
        calls = 0
        opts = self.options
        texts = plates.data.get("plate_text")
        # the read's own confidence (the locator also weighs in how plate-like the picture looks)
        confs = plates.data.get("text_conf", plates.confidence)
        if plates.tracker_id is not None:
            for i, (xyxy, tid) in enumerate(zip(plates.xyxy, plates.tracker_id, strict=True)):
                if tid is None or int(tid) < 0:
                    continue
                free = None
                if texts is not None and texts[i] and confs is not None:
                    free = PlateRead(str(texts[i]), float(confs[i]), at=timestamp, source="locator")
                calls += self._see(int(tid), xyxy, image, timestamp, free)
        if alive is not None:
            finished = [t for t in self._tracks.values() if t.tracker_id not in alive]
        else:
            finished = [
                t
                for t in self._tracks.values()
                if self._updates - t.last_update >= opts.lost_frames or timestamp - t.last_seen >= opts.lost_s
            ]
        events = self._finish(finished)
        self._held.merge_into_live(self._tracks.values())
        events += self._release_held(timestamp)
        for track in self._tracks.values():
            if track.last_update == self._updates and track.recent is None:
                self._make_provisional(track)
        return events, calls

    def take_provisional(self) -> list[PlateEvent]:
        """The provisional events made since the last call (for the store only; see the module)."""
        events, self._provisional = self._provisional, []
        return events

    def _make_provisional(self, track: TrackReads) -> None:
        voted = track.voted
        if voted is None or not self._enough(track, voted, quiet=True) or self._repeats(track, voted.text):
            return
        if self._may_be_partial(track, voted):  # its event may yet merge into a longer read's
            return
        track.recent = Seen(voted.text, track.last_seen)
        self._recent.add(track.recent)
        self._provisional.append(self._event(track, voted))

    def _repeats(self, track: TrackReads, text: str, prune: bool = False) -> bool:
        """Whether ``text`` repeats a recent pass (:meth:`RecentPasses.repeats`)."""
        return self._recent.repeats(track.first_seen, text, self.options, prune)

    def _may_be_partial(self, track: TrackReads, voted: PlateRead) -> bool:
        return may_be_partial(track, voted, getattr(self.reader, "rules", None), self.options)

    def _release_held(self, now: float | None) -> list[PlateEvent]:
        """Events of held tracks no longer read in full within ``partial_hold_s`` (all: ``now=None``)."""
        events = []
        for held in self._held.due(now):
            voted = held.voted
            if voted is None or self._repeats(held, voted.text, prune=True):
                continue
            event = self._event(held, voted)
            self._recent.add(Seen(event.text, held.last_seen))
            events.append(event)
        return events

    def flush(self) -> list[PlateEvent]:
        """Finish every open track now (stream ended, engine stopping); held partial reads too."""
        events = self._finish(list(self._tracks.values()))
        return events + self._release_held(None)

    def _see(
        self, tid: int, xyxy: np.ndarray, image: np.ndarray, timestamp: float, free: PlateRead | None = None
    ) -> int:
        opts = self.options
        track = self._tracks.get(tid)
        if track is None:
            track = self._tracks[tid] = TrackReads(tid, timestamp, timestamp, self._updates)
        track.last_seen = timestamp
        track.last_update = self._updates
        if track.recent is not None:  # its pass is still in view: a restarted track repeats it
            track.recent.last_seen = timestamp
        x0, y0, x1, y1 = pad_box(xyxy, image.shape, opts.pad_x, opts.pad_y)
        if x1 - x0 < 4 or y1 - y0 < 4:
            return 0
        crop = image[y0:y1, x0:x1]
        height = float(xyxy[3] - xyxy[1])
        sharp = sharpness(crop)
        quality = height * min(1.0, sharp / 100.0)
        if quality > track.best_quality:
            track.best_quality = quality
            track.best_crop = crop
            track.best_frame = image
            track.box = tuple(round(float(v)) for v in xyxy)  # type: ignore[assignment]
        h, w = image.shape[:2]
        m = opts.edge_margin
        at_edge = xyxy[0] < m or xyxy[1] < m or xyxy[2] > w - m or xyxy[3] > h - m
        if free is not None and not at_edge and height >= opts.min_free_height:
            track.add_read(free, opts.max_reads, opts.cluster_similarity)
            if free.confidence >= opts.recognition_threshold:
                return 0  # read well enough already: no OCR call
        if at_edge or not worth_reading(track, height, sharp, quality, self._updates, opts):
            return 0
        track.ocr_calls += 1
        track.last_ocr_update = self._updates
        track.last_ocr_quality = quality
        try:
            read = self.reader.read(crop)
        except Exception:  # OCR failures must not end the analysis loop
            logger.exception("camera %s: OCR failed on track %d", self.camera, tid)
            return 1
        if read is not None:
            track.add_read(replace(read, at=timestamp, source="ocr"), opts.max_reads, opts.cluster_similarity)
        return 1

    def _finish(self, tracks: list[TrackReads]) -> list[PlateEvent]:
        events = []
        for track in tracks:
            del self._tracks[track.tracker_id]
        for track in tracks:
            if track.voted is None:
                continue
            self._held.merge_into(track)
            voted = track.voted
            if voted is None:
                continue
            if track.recent is not None:  # its provisional event is stored: the final one replaces it
                self._repeats(track, voted.text, prune=True)
                self._recent.forget(track.recent)
            elif not self._enough(track, voted):
                continue
            elif self._repeats(track, voted.text, prune=True):
                logger.debug("camera %s: track %d repeats a recent event", self.camera, track.tracker_id)
                continue
            elif self._may_be_partial(track, voted):
                self._held.hold(track)  # waits partial_hold_s for a longer read of the same pass
                continue
            event = self._event(track, voted)
            self._recent.add(Seen(event.text, track.last_seen))
            events.append(event)
        return events

    def _enough(self, track: TrackReads, voted: PlateRead, quiet: bool = False) -> bool:
        return enough(track, voted, getattr(self.reader, "rules", None), self.options, self.camera, quiet)

    def _event(self, track: TrackReads, voted: PlateRead) -> PlateEvent:
        return plate_event(self.camera, track, voted, self.options)
