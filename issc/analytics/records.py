"""What counting produces: frozen records the store keeps and the API serves.

Times are UNIX seconds (capture time of the frames). ``person`` is the counter's own person id:
tracker ids merged across short losses (see ``issc.analytics.people``), unique per camera and run.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Crossing:
    """A person crossed a counting line."""

    camera: str
    line: str
    direction: str  # "in" | "out"
    at: float
    person: int


@dataclass(frozen=True)
class ZoneVisit:
    """A person's stay in a zone, from the first to the last frame seen inside."""

    camera: str
    zone: str
    person: int
    start: float
    end: float

    @property
    def dwell_s(self) -> float:
        """Seconds from entry to exit."""
        return self.end - self.start


@dataclass(frozen=True)
class HourTotals:
    """The running totals of one line, zone or the whole camera (``kind`` ``"people"``) for one hour.

    Sent again whenever they change (at most once a minute) and when the hour closes; the store
    keeps the newest per (camera, hour, kind, name).

    Attributes:
        hour: Start of the hour (UNIX seconds, a multiple of 3600).
        kind: ``"line"``, ``"zone"`` or ``"people"`` (``name`` is ``""`` then).
        in_count / out_count: Line crossings.
        entries: Zone visits begun (past the minimum dwell).
        visits / dwell_s: Zone visits ended and their summed dwell.
        max_occupancy: Most people in the zone at once.
        distinct: Distinct people seen by the camera (``kind`` ``"people"``).
    """

    camera: str
    hour: int
    kind: str
    name: str
    in_count: int = 0
    out_count: int = 0
    entries: int = 0
    visits: int = 0
    dwell_s: float = 0.0
    max_occupancy: int = 0
    distinct: int = 0


AnalyticsRecord = Crossing | ZoneVisit | HourTotals
