"""Vehicle visits from plate events: a plate's entry paired with its next exit, and who is on site.

Cameras are marked ``entry`` or ``exit`` (``ENTRY_CAMERAS``, ``EXIT_CAMERAS``). Reads are taken in
time order; each exit read closes the open entry whose plate text is nearest to it, within the edit
distance the watchlist uses (after look-alike folding, ``issc.search``), preferring an exact
match, then a confirmed read, then the smaller distance, then the older entry. An entry read of a
plate already on site within ``SAME_PASS_S`` of its entry is the same stay (a second read of the
same pass; a confirmed one names it); a later one is a new stay (its exit read was missed). What
is left open is on site now; an open stay longer than ``OVERSTAY_MIN`` is an overstay.

A camera with a counting line needs no entry/exit marking: a read whose pass crossed the line to
its "in" side (direction ``"in"``) opens a stay, one that crossed to the other side (``"out"``)
closes one, so one camera at a gate pairs its own entries and exits.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import supervision as sv
from rapidfuzz.distance import Levenshtein

from issc.analytics.shapes import LineGeometry, Shape
from issc.search import allowed_distance, fold
from issc.types import PlateDirection, PlateEvent

#: Entry reads of one plate this close in time are one pass (seconds).
SAME_PASS_S = 120.0


@dataclass(frozen=True)
class SiteRead:
    """A plate event on an entry or exit camera, as the pairing needs it."""

    event_id: int
    camera: str
    text: str
    at: float  # UNIX seconds (last seen)
    confirmed: bool = False
    direction: str = ""  # "in"/"out" when the pass crossed a counting line of its camera, else ""


@dataclass(frozen=True)
class VehicleVisit:
    """A stay on site: an entry read and its exit read (``exit`` None while on site)."""

    plate: str
    entry: SiteRead
    exit: SiteRead | None

    @property
    def duration_s(self) -> float | None:
        """Seconds from entry to exit (None while on site)."""
        return None if self.exit is None else self.exit.at - self.entry.at

    def on_site_s(self, now: float) -> float:
        """Seconds on site at ``now`` (to the exit once out)."""
        return (self.exit.at if self.exit is not None else now) - self.entry.at


def _distance(a: str, b: str) -> int:
    return Levenshtein.distance(fold(a), fold(b))


def pair_visits(reads: Iterable[SiteRead], entry: Sequence[str], exit: Sequence[str]) -> list[VehicleVisit]:
    """Every stay found in ``reads``: closed visits and (``exit`` None) vehicles still on site.

    A camera in both ``entry`` and ``exit`` (one camera at a gate) enters a plate not on site and
    exits one that is. A read that crossed a line (``direction`` ``"in"`` or ``"out"``) is an entry
    or an exit whatever its camera's marking.
    """
    entries, exits = set(entry), set(exit)
    open_: list[SiteRead] = []
    visits: list[VehicleVisit] = []
    for read in sorted(reads, key=lambda r: (r.at, r.event_id)):
        if read.direction in ("in", "out"):
            is_entry, is_exit = read.direction == "in", read.direction == "out"
        else:
            is_entry, is_exit = read.camera in entries, read.camera in exits
        best: tuple[tuple[int, int, int, float], SiteRead] | None = None
        for candidate in open_:
            d = _distance(read.text, candidate.text)
            if d > allowed_distance(max(len(read.text), len(candidate.text))):
                continue
            rank = (d != 0, not (candidate.confirmed or read.confirmed), d, candidate.at)
            if best is None or rank < best[0]:
                best = (rank, candidate)
        if is_exit and best is not None:
            stay = best[1]
            open_.remove(stay)
            plate = read.text if read.confirmed and not stay.confirmed else stay.text
            visits.append(VehicleVisit(plate, stay, read))
        elif not is_entry:
            continue
        elif best is None or read.at - best[1].at > SAME_PASS_S or (best[0][0] and not is_exit):
            open_.append(read)  # a new stay (a near but different plate is another car)
        elif read.confirmed and not best[1].confirmed:
            open_[open_.index(best[1])] = SiteRead(
                best[1].event_id, best[1].camera, read.text, best[1].at, True, best[1].direction
            )
    visits.extend(VehicleVisit(r.text, r, None) for r in open_)
    return sorted(visits, key=lambda v: v.entry.at)


def overstays(visits: Iterable[VehicleVisit], now: float, limit_s: float) -> list[VehicleVisit]:
    """The vehicles on site for longer than ``limit_s`` at ``now``."""
    return [v for v in visits if v.exit is None and now - v.entry.at > limit_s]


#: A plate box that grows (shrinks) by this factor over a pass is coming towards (going away from)
#: the camera.
GROWTH_FACTOR = 1.2
#: Plate tracks remembered for the direction of their pass.
TRACKS_KEPT = 256


@dataclass
class _PlateTrack:
    first_height: float
    last_height: float
    first_center: tuple[float, float]
    last_center: tuple[float, float]
    boxes: set[tuple[int, ...]]


class PlateDirections:
    """Direction of travel per plate pass, over the track of its plate.

    ``observe`` takes every analysed frame's tracked plates; ``direction_of`` answers for a finished
    pass: its event's box is one of the boxes its track was seen with (the box of the read), which
    names the track. When the camera has a counting line (``set_lines``) and the plate's centre went
    from one side of it to the other over the track, the direction is ``"in"`` (to the line's in
    side) or ``"out"``; otherwise the track's last box height over its first gives ``"towards"``,
    ``"away"`` or ``"unknown"``.
    """

    def __init__(self, camera: str, shapes: Iterable[Shape] = ()) -> None:
        self.camera = camera
        self._tracks: OrderedDict[int, _PlateTrack] = OrderedDict()
        self._lines: list[LineGeometry] = []
        self.set_lines(shapes)

    def set_lines(self, shapes: Iterable[Shape]) -> None:
        """Use the counting lines among ``shapes`` (zones are ignored) for the passes ended from now on."""
        self._lines = [LineGeometry(s) for s in shapes if s.kind == "line"]

    def observe(self, plates: sv.Detections) -> None:
        """Record the boxes of the tracked plates of one analysed frame."""
        if plates.tracker_id is None:
            return
        for box, tid in zip(plates.xyxy, plates.tracker_id, strict=True):
            if tid < 0:
                continue
            height = float(box[3] - box[1])
            center = (float(box[0] + box[2]) / 2, float(box[1] + box[3]) / 2)
            key = tuple(round(float(v)) for v in box)
            track = self._tracks.pop(int(tid), None) or _PlateTrack(height, height, center, center, set())
            track.boxes.add(key)
            track.last_height, track.last_center = height, center
            self._tracks[int(tid)] = track
        while len(self._tracks) > TRACKS_KEPT:
            self._tracks.popitem(last=False)

    def _crossed(self, track: _PlateTrack) -> str | None:
        """``"in"``/``"out"`` when the plate's centre changed sides of a line over its track."""
        for line in self._lines:
            before = line.signed_distance(*track.first_center)
            after = line.signed_distance(*track.last_center)
            if before is None or after is None:
                continue
            if before < 0 < after:
                return "in"
            if after < 0 < before:
                return "out"
        return None

    def direction_of(self, event: PlateEvent) -> PlateDirection | None:
        """The direction of the pass ``event`` ends (None without a ``pass_key`` or a known track)."""
        if not event.pass_key:
            return None
        box = tuple(int(v) for v in event.box)
        for track in reversed(self._tracks.values()):
            if box in track.boxes:
                first = track.first_height
                growth = track.last_height / first if first > 0 else 1.0
                direction = self._crossed(track) or (
                    "towards"
                    if growth >= GROWTH_FACTOR
                    else "away"
                    if growth <= 1 / GROWTH_FACTOR
                    else "unknown"
                )
                return PlateDirection(
                    self.camera, event.pass_key, direction, round(growth, 3), event.last_seen.timestamp()
                )
        return None
