"""People analytics from tracker ids: line crossings, zone visits and occupancy, distinct people.

``PeopleCounter.update(people, at)`` takes one analysed frame's tracked people (``sv.Detections``
with ``tracker_id``; unconfirmed ones, id -1, are ignored) and returns the records it finished.

Track loss is handled in three places, so a short occlusion or a missed detection does not make a
second visit or a second crossing:

* **Re-identification by position and time.** A tracker id never seen before is given the person
  of a track lost at most ``reid_s`` ago whose last foot point is within ``reid_dist`` box heights
  of the newcomer's (the closest such). That person keeps its line sides and its open visits.
* **Exit grace and minimum dwell.** A visit ends when its person has been seen outside the zone
  for ``exit_grace_s``; it ends at the last frame seen inside. A person who vanished *inside* a zone
  was not seen leaving (a detector that misses someone standing still for a few seconds, an
  occlusion): their visit stays open, and they can be re-found, for ``hold_s``. A stay shorter
  than ``min_dwell_s`` is someone walking through, not a visit (not counted, no occupancy).
* **Unconfirmed sightings hold a stay.** A detection the tracker has not confirmed (id -1: seen in
  one frame, not two in a row) near where a held person vanished, inside the zone, refreshes that
  person's stay: a weak detector that finds someone standing still in one frame of five keeps
  their visit whole; those that lead up to a newly confirmed person (within ``reid_s``, each within
  ``reid_dist`` box heights of the next) date its arrival, and the start of its stay.
* **A still scene keeps everyone.** Motion gating skips detection while nothing in the picture
  moves; ``still(at)`` says so, and whoever was in view at the last analysed frame is taken as
  still there (their visits go on), rather than vanishing after ``hold_s``: someone standing at a
  counter keeps their whole dwell.
* **A hysteresis band along lines.** A person is on a line's in or out side only once their foot
  point is more than ``band_px`` from it; inside the band they keep the side they had, so jitter
  on the line counts nothing. Points beyond a polyline's ends have no side.

supervision's ``PolygonZone`` tests the foot points (bottom centre) against each zone. Its
``LineZone`` is not used: it takes straight lines only, counts per tracker id (a lost and re-found
person crosses twice) and its threshold is in frames, not pixels.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence

import numpy as np
import supervision as sv

from issc.analytics.presence import CountingOptions, Person, Stay, vanished_inside
from issc.analytics.records import AnalyticsRecord, Crossing, HourTotals, ZoneVisit
from issc.analytics.shapes import LineGeometry, Shape

_NOBODY = sv.Detections(xyxy=np.zeros((0, 4), np.float32), tracker_id=np.zeros(0, int))


def hour_of(at: float) -> int:
    """Start of the UTC hour holding ``at`` (UNIX seconds)."""
    return int(at // 3600) * 3600


class PeopleCounter:
    """Counts one camera's people through its lines and zones.

    Args:
        camera: Written into every record.
        shapes: The camera's lines and zones (replace with :meth:`set_shapes`).
        options: Counting thresholds.
    """

    def __init__(
        self, camera: str, shapes: Sequence[Shape] = (), options: CountingOptions | None = None
    ) -> None:
        self.camera = camera
        self.options = options or CountingOptions()
        self._people: dict[int, Person] = {}  # person id -> state
        self._ids: dict[int, int] = {}  # tracker id -> person id
        self._next_person = 1
        self._hour: int | None = None
        self._totals: dict[tuple[str, str], HourTotals] = {}
        self._distinct: set[int] = set()
        self._dirty = False
        self._sent_at = -math.inf
        self._occupancy_now: dict[str, int] = {}
        self._sightings: deque[tuple[float, tuple[float, float], frozenset[str]]] = deque(maxlen=256)
        self._analysed_at = -math.inf  # time of the last frame people were looked for in
        self.set_shapes(shapes)

    def set_shapes(self, shapes: Sequence[Shape]) -> None:
        """Use new lines and zones from the next frame on (state of shapes kept by name)."""
        self.shapes = tuple(shapes)
        self._zones = {
            s.name: sv.PolygonZone(
                np.round(s.array).astype(np.int64), triggering_anchors=(sv.Position.BOTTOM_CENTER,)
            )
            for s in self.shapes
            if s.kind == "zone"
        }
        self._lines = {s.name: LineGeometry(s) for s in self.shapes if s.kind == "line"}

    def occupancy(self) -> dict[str, int]:
        """People in each zone as of the last frame (stays past the minimum dwell, still open).

        Safe to call from any thread (a copy made by the counting thread).
        """
        return dict(self._occupancy_now)

    def _occupancy(self) -> dict[str, int]:
        counts = dict.fromkeys(self._zones, 0)
        for person in self._people.values():
            for name, stay in person.stays.items():
                if stay.counted and name in counts:
                    counts[name] += 1
        return counts

    def update(self, people: sv.Detections, at: float) -> list[AnalyticsRecord]:
        """Take one analysed frame's tracked people (all of them: people were looked for).

        Returns:
            Crossings and visits finished by this frame, and hourly totals when due.
        """
        out: list[AnalyticsRecord] = []
        self._roll_hour(at, out)
        if people.tracker_id is None or not len(people):
            people, unconfirmed = _NOBODY, _NOBODY
        else:
            people, unconfirmed = people[people.tracker_id >= 0], people[people.tracker_id < 0]
        inside: dict[str, np.ndarray] = {}
        if len(people):
            for name, zone in self._zones.items():
                inside[name] = zone.trigger(people)
        feet = people.get_anchors_coordinates(sv.Position.BOTTOM_CENTER) if len(people) else np.zeros((0, 2))
        heights = people.xyxy[:, 3] - people.xyxy[:, 1] if len(people) else np.zeros(0)
        # People whose tracker ids are in this frame cannot be re-found under a new id.
        seen_now = {self._ids[int(t)] for t in people.tracker_id if int(t) in self._ids}
        for i in range(len(people)):
            tid = int(people.tracker_id[i])
            foot = (float(feet[i, 0]), float(feet[i, 1]))
            person = self._person_for(tid, foot, float(heights[i]), at, seen_now)
            seen_now.add(person.id)
            person.last, person.foot, person.height = at, foot, float(heights[i])
            person.frames += 1
            if person.frames >= self.options.min_frames and person.id not in self._distinct:
                self._distinct.add(person.id)
                self._dirty = True
            for name, geometry in self._lines.items():
                self._cross(person, name, geometry, foot, at, out)
            for name in self._zones:
                if inside[name][i]:
                    stay = person.stays.get(name)
                    if stay is None:
                        start = min(at, person.inside_before.pop(name, at))
                        stay = person.stays[name] = Stay(start=start, last_inside=at)
                    self._inside(name, stay, at)
        if len(unconfirmed):
            self._refresh_held(unconfirmed, at, seen_now)
        self._analysed_at = at
        self._end_frame(at, out)
        return out

    def still(self, at: float) -> list[AnalyticsRecord]:
        """A frame at ``at`` was not analysed because nothing in the picture moved since the last one
        (motion gating): the people in view then are still where they were, inside the same zones.

        Returns:
            Visits of people who had vanished before the scene stood still (held ``hold_s``), and
            hourly totals when due.
        """
        out: list[AnalyticsRecord] = []
        if at <= self._analysed_at:
            return out
        self._roll_hour(at, out)
        last = self._analysed_at
        for person in self._people.values():
            if person.last != last:
                continue  # not in view at the last analysed frame
            for name, stay in person.stays.items():
                if stay.last_inside == last:
                    self._inside(name, stay, at)
            person.last = at
        self._analysed_at = at
        self._end_frame(at, out)  # ends the visits of someone who had vanished before the stillness
        return out

    def _inside(self, name: str, stay: Stay, at: float) -> None:
        """The person is in zone ``name`` at ``at``; past the minimum dwell the stay is an entry."""
        stay.last_inside = at
        if not stay.counted and at - stay.start >= self.options.min_dwell_s:
            stay.counted = True
            self._total("zone", name, entries=1)

    def _end_frame(self, at: float, out: list) -> None:
        """After a frame: visits that ended, people forgotten, occupancy, and totals when due."""
        self._close_stays(at, out)
        self._forget(at)
        self._update_occupancy()
        if self._dirty and at - self._sent_at >= self.options.totals_every_s:
            out.extend(self._snapshot(at))

    def flush(self, at: float | None = None) -> list[AnalyticsRecord]:
        """End every open visit (the stream ended or the engine stops) and send the totals."""
        out: list[AnalyticsRecord] = []
        for person in self._people.values():
            for name, stay in list(person.stays.items()):
                self._end_stay(person, name, stay, out)
        self._people.clear()
        self._ids.clear()
        self._occupancy_now = dict.fromkeys(self._zones, 0)
        self._dirty = True
        out.extend(self._snapshot(at if at is not None else math.inf))
        return out

    # -- internals ---------------------------------------------------------------------------

    def _person_for(
        self, tid: int, foot: tuple[float, float], height: float, at: float, taken: set[int]
    ) -> Person:
        pid = self._ids.get(tid)
        if pid is not None and pid in self._people:
            return self._people[pid]
        opts = self.options
        best: Person | None = None
        best_d = math.inf
        for person in self._people.values():
            window = opts.hold_s if vanished_inside(person) else opts.reid_s
            if person.id in taken or person.last >= at or at - person.last > window:
                continue  # seen in this frame under another id, or lost too long ago
            reach = opts.reid_dist * max(person.height, height, 1.0)
            d = math.dist(person.foot, foot)
            if d <= reach and d < best_d:
                best, best_d = person, d
        if best is None:
            best = Person(id=self._next_person, first=at, last=at, foot=foot, height=height)
            self._next_person += 1
            self._people[best.id] = best
            self._claim_sightings(best, at)
        self._ids[tid] = best.id
        return best

    def _claim_sightings(self, person: Person, at: float) -> None:
        """A new person takes the unconfirmed sightings that lead to where it was first confirmed.

        The tracker confirms a person only after consecutive detections; the sightings before that
        (kept ``reid_s``) date the person's arrival, and a zone entered then starts its stay then.
        """
        reach = self.options.reid_dist * max(person.height, 1.0)
        foot = person.foot
        for seen_at, seen_foot, zones in sorted(self._sightings, key=lambda s: -s[0]):  # newest first
            if seen_at >= at or at - seen_at > self.options.reid_s or math.dist(seen_foot, foot) > reach:
                continue
            foot = seen_foot  # chain back from sighting to sighting
            person.first = min(person.first, seen_at)
            for name in zones:
                person.inside_before[name] = min(person.inside_before.get(name, seen_at), seen_at)

    def _refresh_held(self, found: sv.Detections, at: float, taken: set[int]) -> None:
        """Detections the tracker has not confirmed keep a person held in a zone (see the module doc).

        A weak detector finds someone standing still in one frame out of several; the tracker
        confirms a track only over consecutive frames, so those sightings come without an id. Each
        one near where a held person vanished (``reid_dist`` box heights) and inside the zone
        refreshes that person's stay instead of being dropped.
        """
        opts = self.options
        feet = found.get_anchors_coordinates(sv.Position.BOTTOM_CENTER)
        inside = {name: zone.trigger(found) for name, zone in self._zones.items()}
        for i in range(len(found)):
            foot = (float(feet[i, 0]), float(feet[i, 1]))
            best: Person | None = None
            best_d = math.inf
            for person in self._people.values():
                if person.id in taken or not vanished_inside(person) or at - person.last > opts.hold_s:
                    continue
                d = math.dist(person.foot, foot)
                if d <= opts.reid_dist * max(person.height, 1.0) and d < best_d:
                    best, best_d = person, d
            in_zones = frozenset(name for name in inside if inside[name][i])
            if best is None:
                self._sightings.append((at, foot, in_zones))
                continue
            zones = [name for name in best.stays if name in in_zones]
            if not zones:
                continue
            taken.add(best.id)
            best.last, best.foot = at, foot
            for name in zones:
                best.stays[name].last_inside = at

    def _cross(
        self,
        person: Person,
        name: str,
        geometry: LineGeometry,
        foot: tuple[float, float],
        at: float,
        out: list,
    ) -> None:
        distance = geometry.signed_distance(*foot)
        if distance is None or abs(distance) <= self.options.band_px:
            return
        side = 1 if distance > 0 else -1
        before = person.sides.get(name)
        person.sides[name] = side
        if before is None or before == side:
            return
        direction = "in" if side > 0 else "out"
        out.append(Crossing(self.camera, name, direction, at, person.id))
        self._total("line", name, in_count=int(side > 0), out_count=int(side < 0))

    def _close_stays(self, at: float, out: list) -> None:
        opts = self.options
        for person in self._people.values():
            for name, stay in list(person.stays.items()):
                vanished_inside = stay.last_inside >= person.last  # not seen since it was inside
                limit = opts.hold_s if vanished_inside else opts.exit_grace_s
                if at - stay.last_inside > limit or name not in self._zones:
                    self._end_stay(person, name, stay, out)

    def _end_stay(self, person: Person, name: str, stay: Stay, out: list) -> None:
        del person.stays[name]
        if not stay.counted:
            return
        visit = ZoneVisit(self.camera, name, person.id, stay.start, stay.last_inside)
        out.append(visit)
        self._total("zone", name, visits=1, dwell_s=visit.dwell_s)

    def _forget(self, at: float) -> None:
        horizon = max(self.options.reid_s, self.options.exit_grace_s, self.options.hold_s)
        gone = [pid for pid, p in self._people.items() if at - p.last > horizon and not p.stays]
        for pid in gone:
            del self._people[pid]
        if gone:
            self._ids = {tid: pid for tid, pid in self._ids.items() if pid in self._people}

    def _update_occupancy(self) -> None:
        now = self._occupancy()
        self._occupancy_now = now
        for name, count in now.items():
            key = ("zone", name)
            totals = self._totals.get(key)
            if count and (totals is None or count > totals.max_occupancy):
                self._set(key, max_occupancy=count)

    def _total(self, kind: str, name: str, **add: float) -> None:
        key = (kind, name)
        totals = self._totals.get(key) or HourTotals(self.camera, self._hour or 0, kind, name)
        changes = {k: getattr(totals, k) + v for k, v in add.items()}
        self._set(key, **changes)

    def _set(self, key: tuple[str, str], **values: float) -> None:
        totals = self._totals.get(key) or HourTotals(self.camera, self._hour or 0, key[0], key[1])
        self._totals[key] = HourTotals(**{**totals.__dict__, **values})
        self._dirty = True

    def _snapshot(self, at: float) -> list[AnalyticsRecord]:
        self._sent_at = at if math.isfinite(at) else -math.inf
        self._dirty = False
        if self._hour is None:
            return []
        people = HourTotals(self.camera, self._hour, "people", "", distinct=len(self._distinct))
        return [*self._totals.values(), people]

    def _roll_hour(self, at: float, out: list) -> None:
        hour = hour_of(at)
        if self._hour == hour:
            return
        if self._hour is not None:
            out.extend(self._snapshot(at))
        self._hour = hour
        self._totals = {}
        self._distinct = {p.id for p in self._people.values() if at - p.last <= self.options.reid_s}
        self._dirty = bool(self._distinct)
