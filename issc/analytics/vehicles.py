"""Vehicle visits from plate events: a plate's entry paired with its next exit, and who is on site.

Cameras are marked ``entry`` or ``exit`` (``ENTRY_CAMERAS``, ``EXIT_CAMERAS``). Reads are taken in
time order; each exit read closes the open entry whose plate text is nearest to it, within the edit
distance the watchlist uses (after look-alike folding, ``issc.search``), preferring an exact
match, then a confirmed read, then the smaller distance, then the older entry. An entry read of a
plate already on site within ``SAME_PASS_S`` of its entry is the same stay (a second read of the
same pass; a confirmed one names it); a later one is a new stay (its exit read was missed). What
is left open is on site now; an open stay longer than ``OVERSTAY_MIN`` is an overstay.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein

from issc.search import allowed_distance, fold

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
    exits one that is.
    """
    entries, exits = set(entry), set(exit)
    open_: list[SiteRead] = []
    visits: list[VehicleVisit] = []
    for read in sorted(reads, key=lambda r: (r.at, r.event_id)):
        best: tuple[tuple[int, int, int, float], SiteRead] | None = None
        for candidate in open_:
            d = _distance(read.text, candidate.text)
            if d > allowed_distance(max(len(read.text), len(candidate.text))):
                continue
            rank = (d != 0, not (candidate.confirmed or read.confirmed), d, candidate.at)
            if best is None or rank < best[0]:
                best = (rank, candidate)
        if read.camera in exits and best is not None:
            stay = best[1]
            open_.remove(stay)
            plate = read.text if read.confirmed and not stay.confirmed else stay.text
            visits.append(VehicleVisit(plate, stay, read))
        elif read.camera not in entries:
            continue
        elif best is None or read.at - best[1].at > SAME_PASS_S or (best[0][0] and read.camera not in exits):
            open_.append(read)  # a new stay (a near but different plate is another car)
        elif read.confirmed and not best[1].confirmed:
            open_[open_.index(best[1])] = SiteRead(
                best[1].event_id, best[1].camera, read.text, best[1].at, True
            )
    visits.extend(VehicleVisit(r.text, r, None) for r in open_)
    return sorted(visits, key=lambda v: v.entry.at)


def overstays(visits: Iterable[VehicleVisit], now: float, limit_s: float) -> list[VehicleVisit]:
    """The vehicles on site for longer than ``limit_s`` at ``now``."""
    return [v for v in visits if v.exit is None and now - v.entry.at > limit_s]
