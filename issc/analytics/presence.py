"""Where each counted person is: their tracked state, the zones they stay in, and the thresholds
that decide when a stay is a visit (``issc.analytics.people.PeopleCounter`` keeps one per person)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CountingOptions:
    """How people are counted (README: "Lines, zones and visits").

    Attributes:
        band_px: Half-width of the hysteresis band along lines, in pixels.
        reid_s: A lost person may be re-found this long after last seen.
        reid_dist: ...within this many of their box heights of where they were last seen.
        exit_grace_s: A visit ends after this long seen outside the zone.
        hold_s: A visit whose person vanished inside the zone ends after this long unseen.
        min_dwell_s: Shorter stays are not visits.
        totals_every_s: Hourly totals are re-sent at most this often while they change.
        min_frames: A track counts as a distinct person after this many frames.
    """

    band_px: float = 8.0
    reid_s: float = 3.0
    reid_dist: float = 0.5
    exit_grace_s: float = 2.0
    hold_s: float = 6.0
    min_dwell_s: float = 1.0
    totals_every_s: float = 60.0
    min_frames: int = 3


@dataclass
class Stay:
    start: float
    last_inside: float
    counted: bool = False  # past the minimum dwell: an entry, in the occupancy


@dataclass
class Person:
    id: int
    first: float
    last: float
    foot: tuple[float, float]
    height: float
    frames: int = 0
    sides: dict[str, int] = field(default_factory=dict)
    stays: dict[str, Stay] = field(default_factory=dict)
    inside_before: dict[str, float] = field(default_factory=dict)  # zone -> first unconfirmed sighting in it


def vanished_inside(person: Person) -> bool:
    """Whether the person was inside a zone when last seen (an open visit, not seen leaving)."""
    return any(stay.last_inside >= person.last for stay in person.stays.values())
