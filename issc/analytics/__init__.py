"""Lines, zones and visits: consumers of tracks and plate events.

* ``shapes.py``: a camera's counting lines and zones, their validation, and ``LineGeometry`` (the
  side of a line a point is on).
* ``presence.py``: one counted person's state (their stays in zones) and ``CountingOptions``.
* ``people.py``: ``PeopleCounter``: crossings, zone visits, occupancy and distinct people from
  tracker ids, merged across short track losses.
* ``records.py``: the frozen records it produces (``Crossing``, ``ZoneVisit``, ``HourTotals``).

Layering: below the engine and the store (which feed and keep it), above detection; it imports
neither.
"""

from issc.analytics.people import CountingOptions, PeopleCounter, hour_of
from issc.analytics.records import AnalyticsRecord, Crossing, HourTotals, ZoneVisit
from issc.analytics.shapes import Shape, ShapeError, parse_shapes, shapes_json

__all__ = [
    "AnalyticsRecord",
    "CountingOptions",
    "Crossing",
    "HourTotals",
    "PeopleCounter",
    "Shape",
    "ShapeError",
    "ZoneVisit",
    "hour_of",
    "parse_shapes",
    "shapes_json",
]
