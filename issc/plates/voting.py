"""Per-track plate voting: a few good OCR reads per vehicle pass, one ``PlateEvent`` per pass.

For every tracked plate (``tracker_id`` from ``issc.plates.tracking.PlateTracker``) the voter

1. counts the detector's own read of the plate (``data["plate_text"]``: the offline locator reads
   every line it finds) as a vote that costs nothing, and skips OCR when it is confident;
2. OCRs only crops worth reading: big enough, sharp enough (variance of the Laplacian), and
   clearly better than the last crop read (novelty), within a budget of OCR calls per track; it
   stops early once two reads agree;
3. clusters the reads by string similarity and takes the heaviest cluster (summed confidence);
   a partial read (``9658`` of ``K179658``, see ``is_partial``) joins the cluster of the full read
   it is part of; within the cluster, the full reads vote character by character and partial reads
   for the characters they cover, every vote weighted by the read's confidence;
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
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import cv2
import numpy as np
import supervision as sv

from issc.jpeg import encode_jpeg
from issc.plates.ocr.reader import PlateReader
from issc.plates.text import similarity
from issc.types import PlateEvent, PlateRead

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


@dataclass
class _Seen:
    """A pass that made an event (or a provisional one): its text and when it was last seen."""

    text: str
    last_seen: float


@dataclass
class _Track:
    """Mutable state of one tracked plate; private to the voter (one thread)."""

    tracker_id: int
    first_seen: float
    last_seen: float
    last_update: int
    box: tuple[int, int, int, int] = (0, 0, 0, 0)
    reads: list[PlateRead] = field(default_factory=list)
    ocr_calls: int = 0
    last_ocr_update: int = -(10**9)
    last_ocr_quality: float = 0.0
    best_quality: float = -1.0
    best_crop: np.ndarray | None = None
    best_frame: np.ndarray | None = None
    voted: PlateRead | None = None
    pass_key: str = field(default_factory=lambda: uuid.uuid4().hex)
    recent: _Seen | None = None  # the provisional event's entry in the voter's recent list (kept up to date)


def sharpness(image: np.ndarray) -> float:
    """Variance of the Laplacian of the grey image: higher is sharper."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def pad_box(
    xyxy: np.ndarray | tuple[float, ...], shape: tuple[int, ...], pad_x: float, pad_y: float
) -> tuple[int, int, int, int]:
    """Grow a box by fractions of its size and clamp it to an image of ``shape``."""
    x0, y0, x1, y1 = (float(v) for v in xyxy)
    gx, gy = pad_x * (x1 - x0), pad_y * (y1 - y0)
    h, w = shape[:2]
    return (
        int(max(0, np.floor(x0 - gx))),
        int(max(0, np.floor(y0 - gy))),
        int(min(w, np.ceil(x1 + gx))),
        int(min(h, np.ceil(y1 + gy))),
    )


#: Shortest read that counts as a partial read of a longer one (fewer characters prove nothing).
PARTIAL_MIN_CHARS = 3


def is_partial(short: str, full: str) -> bool:
    """Whether ``short`` is a partial read of ``full``: a shorter, contiguous piece of it.

    A plate read while it is still cut off, small or half in shadow often gives only its last or
    first characters (``9658`` of ``K179658``). Such a read is no other plate: it belongs to the
    full read's pass. At least ``PARTIAL_MIN_CHARS`` characters are needed.
    """
    return PARTIAL_MIN_CHARS <= len(short) < len(full) and short in full


def vote(reads: list[PlateRead], threshold: float = 0.7) -> PlateRead | None:
    """The consensus of several reads of one plate.

    Reads are clustered greedily by string similarity (``threshold``), the most confident first; a
    partial read (``is_partial``: a shorter piece of another read, such as ``9658`` of ``K179658``)
    joins the heaviest cluster holding a read it is part of instead of making its own. The cluster
    with the largest summed confidence wins. Inside it, the text length is the one whose full reads
    weigh most; those reads vote per character, and partial reads vote for the characters they
    cover (at the place they sit in the full read), every vote weighted by the read's confidence.
    That repairs a character misread in one frame, and lets a partial read confirm (never shorten)
    the full one.

    The confidence of voted character ``c`` at position ``i`` is

        char_conf[i] = sum(w_r * q_r[i] for r in S_i if r.text[i] == c) / sum(w_r for r in S_i)

    with ``S_i`` the reads voting at position ``i``, ``w_r`` a read's confidence and ``q_r[i]`` the
    recogniser's probability of its character there (``r.char_conf``; the read's confidence when
    it has none). It is the weighted share of reads that agree on ``c`` (lower where reads
    disagree) times how sure the recogniser was of it in those reads (lower where it doubted), in
    [0, 1]; 0 when every weight is 0. A single read keeps its own ``char_conf``.

    Args:
        reads: Normalised reads of one track.
        threshold: Minimum similarity for two reads to be one cluster.

    Returns:
        The voted text (``source="vote"``) with ``char_conf`` as above and confidence = (winning
        cluster's share of all confidence) × (mean confidence of its reads); ``None`` when there
        are no non-empty reads.
    """
    reads = [r for r in reads if r.text]
    if not reads:
        return None
    texts = {r.text for r in reads}
    partial = [r for r in reads if any(is_partial(r.text, t) for t in texts)]
    whole = [r for r in reads if not any(is_partial(r.text, t) for t in texts)]
    clusters: list[list[PlateRead]] = []
    for read in sorted(whole, key=lambda r: r.confidence, reverse=True):
        home = next((c for c in clusters if similarity(c[0].text, read.text) >= threshold), None)
        if home is None:
            clusters.append([read])
        else:
            home.append(read)
    pieces: list[list[PlateRead]] = [[] for _ in clusters]
    for read in partial:
        holders = [k for k, c in enumerate(clusters) if any(is_partial(read.text, r.text) for r in c)]
        home_k = max(holders, key=lambda k: sum(r.confidence for r in clusters[k]))
        pieces[home_k].append(read)
    best_k = max(range(len(clusters)), key=lambda k: sum(r.confidence for r in (*clusters[k], *pieces[k])))
    best, best_pieces = clusters[best_k], pieces[best_k]
    by_length: dict[int, float] = defaultdict(float)
    for r in best:
        by_length[len(r.text)] += r.confidence
    length = max(by_length, key=lambda n: (by_length[n], n))
    same_length = [r for r in best if len(r.text) == length]
    # each voter: (read, its first position in the voted text, per-character probabilities)
    voters: list[tuple[PlateRead, int, tuple[float, ...]]] = []
    for r in same_length:
        voters.append((r, 0, r.char_conf if len(r.char_conf) == length else (r.confidence,) * length))
    for r in best_pieces:
        where = next((f.text.find(r.text) for f in same_length if r.text in f.text), -1)
        if where >= 0:
            n = len(r.text)
            voters.append((r, where, r.char_conf if len(r.char_conf) == n else (r.confidence,) * n))
    chars, char_conf = [], []
    for i in range(length):
        weights: dict[str, float] = defaultdict(float)
        here = [(r, i - at, q) for r, at, q in voters if 0 <= i - at < len(r.text)]
        for r, j, _ in here:
            weights[r.text[j]] += r.confidence
        ch = max(weights, key=lambda c: weights[c])
        weight = sum(r.confidence for r, _, _ in here)
        sure = sum(r.confidence * q[j] for r, j, q in here if r.text[j] == ch)
        chars.append(ch)
        char_conf.append(round(min(1.0, sure / weight), 4) if weight > 0 else 0.0)
    members = [*best, *best_pieces]
    total = sum(r.confidence for r in reads)
    cluster_conf = sum(r.confidence for r in members)
    share = cluster_conf / total if total > 0 else 0.0
    confidence = round(share * cluster_conf / len(members), 4)
    return PlateRead("".join(chars), confidence, source="vote", char_conf=tuple(char_conf))


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
        self._tracks: dict[int, _Track] = {}
        self._updates = 0
        self._recent: list[_Seen] = []  # passes with an event, final or provisional
        self._held: list[_Track] = []  # finished tracks that may be partial reads (see partial_hold_s)
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
        self._merge_held()
        events += self._release_held(timestamp)
        for track in self._tracks.values():
            if track.last_update == self._updates and track.recent is None:
                self._make_provisional(track)
        return events, calls

    def take_provisional(self) -> list[PlateEvent]:
        """The provisional events made since the last call (for the store only; see the module)."""
        events, self._provisional = self._provisional, []
        return events

    def _make_provisional(self, track: _Track) -> None:
        voted = track.voted
        if voted is None or not self._enough(track, voted, quiet=True) or self._repeats(track, voted.text):
            return
        if self._may_be_partial(track, voted):  # its event may yet merge into a longer read's
            return
        track.recent = _Seen(voted.text, track.last_seen)
        self._recent.append(track.recent)
        self._provisional.append(self._event(track, voted))

    def _repeats(self, track: _Track, text: str, prune: bool = False) -> bool:
        """Whether ``text`` is like (or a partial read of) the text of a pass seen within
        ``dedupe_s`` before the track began (a pass still in view is seen now)."""
        recent = [seen for seen in self._recent if track.first_seen - seen.last_seen < self.options.dedupe_s]
        if prune:
            self._recent = recent
        like = self.options.cluster_similarity
        return any(similarity(s.text, text) >= like or is_partial(text, s.text) for s in recent)

    def _may_be_partial(self, track: _Track, voted: PlateRead) -> bool:
        """An unsure read that fits none of the region's layouts: perhaps a piece of a longer one."""
        rules = getattr(self.reader, "rules", None)
        if rules is None or not rules.formats or rules.matching_format(voted.text) is not None:
            return False
        return self._unsure(track, voted)

    def _unsure(self, track: _Track, voted: PlateRead) -> bool:
        """Whether the track's best vote stays below ``recognition_threshold``: no read that agrees
        with the voted text (``cluster_similarity``) is that confident."""
        like = self.options.cluster_similarity
        best = max((r.confidence for r in track.reads if similarity(r.text, voted.text) >= like), default=0.0)
        return best < self.options.recognition_threshold

    def _merge_held(self) -> None:
        """Held partial reads join a live track whose voted text holds them (same pass)."""
        for held in list(self._held):
            text = held.voted.text if held.voted is not None else ""
            home = next(
                (t for t in self._tracks.values() if t.voted is not None and is_partial(text, t.voted.text)),
                None,
            )
            if home is not None:
                self._held.remove(held)
                self._absorb(home, held)

    def _absorb(self, track: _Track, partial: _Track) -> None:
        """Give ``track`` the reads (and the start) of ``partial``, a partial read of the same pass."""
        logger.debug(
            "camera %s: track %d's partial read %r merges into track %d",
            self.camera,
            partial.tracker_id,
            partial.voted.text if partial.voted else "",
            track.tracker_id,
        )
        track.first_seen = min(track.first_seen, partial.first_seen)
        track.ocr_calls += partial.ocr_calls
        for read in partial.reads:
            track.reads.append(read)
        track.reads.sort(key=lambda r: r.at if r.at is not None else 0.0)
        while len(track.reads) > self.options.max_reads:
            del track.reads[min(range(len(track.reads)), key=lambda k: track.reads[k].confidence)]
        track.voted = vote(track.reads, self.options.cluster_similarity)

    def _release_held(self, now: float | None) -> list[PlateEvent]:
        """Events of held tracks no longer read in full within ``partial_hold_s`` (all: ``now=None``)."""
        events = []
        for held in list(self._held):
            if now is not None and now - held.last_seen < self.options.partial_hold_s:
                continue
            self._held.remove(held)
            voted = held.voted
            if voted is None or self._repeats(held, voted.text, prune=True):
                continue
            event = self._event(held, voted)
            self._recent.append(_Seen(event.text, held.last_seen))
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
            track = self._tracks[tid] = _Track(tid, timestamp, timestamp, self._updates)
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
            self._add_read(track, free)
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
            self._add_read(track, replace(read, at=timestamp, source="ocr"))
        return 1

    def _add_read(self, track: _Track, read: PlateRead) -> None:
        track.reads.append(read)
        if len(track.reads) > self.options.max_reads:  # drop the (first) least confident
            del track.reads[min(range(len(track.reads)), key=lambda k: track.reads[k].confidence)]
        track.voted = vote(track.reads, self.options.cluster_similarity)

    def _worth_reading(self, track: _Track, height: float, sharp: float, quality: float) -> bool:
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

    def _finish(self, tracks: list[_Track]) -> list[PlateEvent]:
        events = []
        for track in tracks:
            del self._tracks[track.tracker_id]
        for track in tracks:
            if track.voted is None:
                continue
            for held in [h for h in self._held if h.voted and is_partial(h.voted.text, track.voted.text)]:
                self._held.remove(held)
                self._absorb(track, held)
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
                self._held.append(track)  # waits partial_hold_s for a longer read of the same pass
                continue
            event = self._event(track, voted)
            self._recent.append(_Seen(event.text, track.last_seen))
            events.append(event)
        return events

    def _enough(self, track: _Track, voted: PlateRead, quiet: bool = False) -> bool:
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

    def _event(self, track: _Track, voted: PlateRead) -> PlateEvent:
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
