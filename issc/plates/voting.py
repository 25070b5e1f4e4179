"""Per-track plate voting: a few good OCR reads per vehicle pass, one ``PlateEvent`` per pass.

For every tracked plate (``tracker_id`` from ``issc.plates.tracking.PlateTracker``) the voter

1. counts the detector's own read of the plate (``data["plate_text"]``: the offline locator reads
   every line it finds) as a vote that costs nothing, and skips OCR when it is confident;
2. OCRs only crops worth reading: big enough, sharp enough (variance of the Laplacian), and
   clearly better than the last crop read (novelty), within a budget of OCR calls per track; it
   stops early once two reads agree;
3. votes the reads into one text (:func:`issc.plates.consensus.vote`): clusters by string
   similarity, the heaviest cluster wins, a partial read (``9658`` of ``K179658``) joins the full
   read it is part of, and the reads vote character by character, weighted by confidence;
4. when the tracker drops the track (or on ``flush``: the stream ended, the scene is static, the
   engine stops), emits exactly one event with the voted text and its per-character confidence,
   the reads that voted (each stamped with its frame's time and source), the sharpest crop and
   the full frame it came from (JPEG), if its reads are enough (``_enough``), and drops the track.

A track that the tracker loses and restarts under a new id would read the same plate again: a
second event with a similar text (or a partial read of it) within ``dedupe_s`` of the first pass's
last sighting is suppressed. A pass still in view counts as seen *now*: at one analysed frame a
second the tracker may start a second id for a plate whose first track is still running, seconds
after that track's provisional event; measured from the provisional event's time, such a second
track used to make a second event of the same pass. A partial read seen *before* the full one (a distant plate read as ``9658``, then
``K179658`` close up) cannot be told at once: an unsure track whose text fits none of the region's
layouts is held for ``partial_hold_s`` and merges into a track whose text holds it, or makes its
(unsure) event when none comes.

Every event says whether it is ``unsure``: no read agreeing with its voted text reached
``recognition_threshold`` (``PLATE_RECOGNITION_THRESHOLD``). Unsure events are stored for review,
but left out of the default history and of watchlist alerts (:mod:`issc.alerts`).

Durability: the event of a pass is only known once the tracker gives the track up, seconds after the
car left. So that a crash (``kill -9``) then loses nothing, the voter also makes a *provisional*
event as soon as a live track's reads are enough (and it repeats no recent event); the engine hands
it to the store alone (no alert, no recent-events entry, not counted by benchmarks), and the final
event, carrying the same ``pass_key``, replaces it in the database.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import numpy as np
import supervision as sv

from issc.jpeg import encode_jpeg
from issc.plates.consensus import PARTIAL_MIN_CHARS, is_partial, vote
from issc.plates.crops import pad_box, sharpness
from issc.plates.ocr.reader import PlateReader
from issc.plates.partials import PartialHold
from issc.plates.text import similarity
from issc.plates.track_reads import Seen, TrackReads
from issc.types import PlateEvent, PlateRead

# the consensus and crop helpers are part of this module's public face (tests, callers)
__all__ = [
    "PARTIAL_MIN_CHARS",
    "PlateVoter",
    "VotingOptions",
    "is_partial",
    "pad_box",
    "sharpness",
    "vote",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class VotingOptions:
    """Tunables of ``PlateVoter``.

    Attributes:
        max_ocr_per_track: OCR calls allowed per track (per vehicle pass).
        agree_stop: Stop OCR on a track once this many reads agree exactly.
        min_height: Plate boxes lower than this (pixels) are not read: characters under ~16 px are
            misread more often than read, and distant plates come closer later in the pass.
        edge_margin: Plate boxes within this many pixels of the frame border are not read: the
            plate is probably cut off, and a partial read would make a wrong event.
        min_sharpness: Crops with a Laplacian variance below this are not read.
        min_gap_frames: Analysed frames between two OCR calls on one track.
        improve: A further crop is read only if its quality (height × sharpness factor) beats the
            last read crop's by this factor.
        min_reads: Reads (in the winning cluster) a track needs for an event: one read alone may be
            a fluke (a partial plate, a sign). Tracks with fewer are re-read every
            ``retry_gap_frames`` even without a better crop (parked cars), within the budget.
        recognition_threshold: One read at least this confident is enough for an event (Frigate's
            ``recognition_threshold``, 0.9 there too), and a free read this confident spares the
            track an OCR call.
        flush_min_conf: A track that ends with a single read still makes its event when that
            read fits one of the region's plate formats with at least this confidence: at one or
            two analysed frames a second a fast pass may be seen once.
        min_free_height: Free reads (the locator's own line reads, ``data["plate_text"]``) of
            plate boxes lower than this (pixels) are not counted.
        max_reads: Reads kept per track: past this the least confident is dropped (a parked car
            is seen in every analysed frame for hours).
        retry_gap_frames: Analysed frames between re-reads of a track that lacks ``min_reads``.
        lost_frames: Without a tracker's word (``update(alive=None)``), a track unseen for this
            many analysed frames is finished...
        lost_s: ... or unseen for this many seconds, whichever comes first.
        cluster_similarity: Reads at least this similar (``issc.plates.text.similarity``) are
            one cluster.
        dedupe_s: A finished track whose text is like (or a partial read of) an event of a pass
            seen this recently (seconds before the track began; a pass still in view counts as
            seen now) is the same pass, tracked twice: no second event.
        partial_hold_s: An unsure track whose text fits none of the region's plate layouts may be
            a partial read (``9658`` of ``K179658``) of a plate still coming closer: its event
            waits this long (seconds) for a track whose text holds it, and merges into that one.
        pad_x: Crop padding around the plate box, fraction of its width each side.
        pad_y: Crop padding, fraction of its height each side.
        jpeg_quality: Quality of the crop and snapshot JPEGs.
    """

    max_ocr_per_track: int = 3
    agree_stop: int = 2
    min_height: int = 24
    edge_margin: int = 2
    min_sharpness: float = 15.0
    min_gap_frames: int = 3
    improve: float = 1.2
    min_reads: int = 2
    recognition_threshold: float = 0.9
    flush_min_conf: float = 0.6
    min_free_height: int = 20
    max_reads: int = 24
    retry_gap_frames: int = 10
    lost_frames: int = 30
    lost_s: float = 3.0
    cluster_similarity: float = 0.7
    dedupe_s: float = 10.0
    partial_hold_s: float = 4.0
    pad_x: float = 0.15
    pad_y: float = 0.5
    jpeg_quality: int = 85


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
        self._recent: list[Seen] = []  # passes with an event, final or provisional
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
        self._recent.append(track.recent)
        self._provisional.append(self._event(track, voted))

    def _repeats(self, track: TrackReads, text: str, prune: bool = False) -> bool:
        """Whether ``text`` is like (or a partial read of) the text of a pass seen within
        ``dedupe_s`` before the track began (a pass still in view is seen now)."""
        recent = [seen for seen in self._recent if track.first_seen - seen.last_seen < self.options.dedupe_s]
        if prune:
            self._recent = recent
        like = self.options.cluster_similarity
        return any(similarity(s.text, text) >= like or is_partial(text, s.text) for s in recent)

    def _may_be_partial(self, track: TrackReads, voted: PlateRead) -> bool:
        """An unsure read that fits none of the region's layouts: perhaps a piece of a longer one."""
        rules = getattr(self.reader, "rules", None)
        if rules is None or not rules.formats or rules.matching_format(voted.text) is not None:
            return False
        return self._unsure(track, voted)

    def _unsure(self, track: TrackReads, voted: PlateRead) -> bool:
        """Whether the track's best vote stays below ``recognition_threshold``: no read that agrees
        with the voted text (``cluster_similarity``) is that confident."""
        like = self.options.cluster_similarity
        best = max((r.confidence for r in track.reads if similarity(r.text, voted.text) >= like), default=0.0)
        return best < self.options.recognition_threshold

    def _release_held(self, now: float | None) -> list[PlateEvent]:
        """Events of held tracks no longer read in full within ``partial_hold_s`` (all: ``now=None``)."""
        events = []
        for held in self._held.due(now):
            voted = held.voted
            if voted is None or self._repeats(held, voted.text, prune=True):
                continue
            event = self._event(held, voted)
            self._recent.append(Seen(event.text, held.last_seen))
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
        if at_edge or not self._worth_reading(track, height, sharp, quality):
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

    def _worth_reading(self, track: TrackReads, height: float, sharp: float, quality: float) -> bool:
        opts = self.options
        if track.ocr_calls >= opts.max_ocr_per_track:
            return False
        if height < opts.min_height or sharp < opts.min_sharpness:
            return False
        top = Counter(r.text for r in track.reads).most_common(1)
        if top and top[0][1] >= opts.agree_stop:
            return False
        if track.ocr_calls == 0:
            return True
        if self._updates - track.last_ocr_update < opts.min_gap_frames:
            return False
        # no read yet: any new crop is worth a try; otherwise it must be clearly better, or the
        # track still lacks the reads an event needs and has waited long enough
        if not track.reads or quality >= opts.improve * track.last_ocr_quality:
            return True
        waited = self._updates - track.last_ocr_update >= opts.retry_gap_frames
        return waited and len(track.reads) < opts.min_reads

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
                self._recent = [entry for entry in self._recent if entry is not track.recent]
            elif not self._enough(track, voted):
                continue
            elif self._repeats(track, voted.text, prune=True):
                logger.debug("camera %s: track %d repeats a recent event", self.camera, track.tracker_id)
                continue
            elif self._may_be_partial(track, voted):
                self._held.hold(track)  # waits partial_hold_s for a longer read of the same pass
                continue
            event = self._event(track, voted)
            self._recent.append(Seen(event.text, track.last_seen))
            events.append(event)
        return events

    def _enough(self, track: TrackReads, voted: PlateRead, quiet: bool = False) -> bool:
        """Whether a finished track's reads make an event.

        Two reads like the voted text, or one read at or above ``recognition_threshold``, or (a
        pass seen once) one read that fits a plate format with at least ``flush_min_conf``. The
        text must look like a registration: digits in it, or a known format (signs and slogans
        that the locator took for a plate have neither).
        """
        opts = self.options
        rules = getattr(self.reader, "rules", None)
        fits = rules is not None and rules.matching_format(voted.text) is not None
        if not (fits or any(c.isdigit() for c in voted.text)):
            if quiet:
                return False
            logger.debug(
                "camera %s: track %d read %r, not a plate", self.camera, track.tracker_id, voted.text
            )
            return False
        like = [
            r
            for r in track.reads
            if similarity(r.text, voted.text) >= opts.cluster_similarity or is_partial(r.text, voted.text)
        ]
        best = max((r.confidence for r in like), default=0.0)
        if len(like) >= opts.min_reads or best >= opts.recognition_threshold:
            return True
        if fits and best >= opts.flush_min_conf:
            return True
        if quiet:
            return False
        logger.debug(
            "camera %s: track %d has too few reads (%d, best %.2f)",
            self.camera,
            track.tracker_id,
            len(like),
            best,
        )
        return False

    def _event(self, track: TrackReads, voted: PlateRead) -> PlateEvent:
        def jpeg(image: np.ndarray | None) -> bytes:
            if image is None:
                return b""
            try:
                return encode_jpeg(image, self.options.jpeg_quality)
            except ValueError:
                return b""

        return PlateEvent(
            pass_key=track.pass_key,
            camera=self.camera,
            first_seen=datetime.fromtimestamp(track.first_seen, tz=UTC),
            last_seen=datetime.fromtimestamp(track.last_seen, tz=UTC),
            text=voted.text,
            confidence=voted.confidence,
            reads=len(track.reads),
            box=track.box,
            crop_jpeg=jpeg(track.best_crop),
            snapshot_jpeg=jpeg(track.best_frame),
            ocr_calls=track.ocr_calls,
            votes=tuple(track.reads),
            char_conf=voted.char_conf,
            unsure=self._unsure(track, voted),
        )
