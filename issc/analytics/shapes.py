"""Counting lines and zones of one camera, in pixels of its frame, and their validation.

A **line** is a polyline (two or more points) with an ``"in"`` side, ``"left"`` or ``"right"`` as
seen walking from its first point to its last on the picture (y grows downwards). A **zone** is a
simple polygon (three or more points, no two edges crossing). Both carry a name unique within the
camera. The JSON shape (``GET/PUT /api/cameras/<name>/zones``) is::

    {"zones": [{"name": "table", "kind": "zone", "points": [[x, y], ...]},
               {"name": "door", "kind": "line", "points": [[x, y], [x, y]], "in": "left"}]}
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from issc.errors import ConfigError

KINDS = ("zone", "line")
SIDES = ("left", "right")
MAX_SHAPES = 32
MAX_POINTS = 64
NAME_MAX = 40


class ShapeError(ConfigError):
    """A line or zone that cannot be used (one sentence naming the shape and what is wrong)."""


@dataclass(frozen=True)
class Shape:
    """One counting line or zone.

    Attributes:
        name: Unique within the camera.
        kind: ``"zone"`` (a polygon) or ``"line"`` (a polyline).
        points: Vertices in frame pixels.
        in_side: For lines, the side counted as "in" (``"left"``/``"right"``); ``""`` for zones.
    """

    name: str
    kind: str
    points: tuple[tuple[float, float], ...]
    in_side: str = ""

    def to_json(self) -> dict[str, Any]:
        """The API's JSON object for this shape."""
        item: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "points": [list(p) for p in self.points],
        }
        if self.kind == "line":
            item["in"] = self.in_side
        return item

    @property
    def array(self) -> np.ndarray:
        """The vertices as an (n, 2) float array."""
        return np.asarray(self.points, dtype=np.float64)


def _cross(o: Sequence[float], a: Sequence[float], b: Sequence[float]) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def _on_segment(p: Sequence[float], q: Sequence[float], r: Sequence[float]) -> bool:
    return min(p[0], r[0]) <= q[0] <= max(p[0], r[0]) and min(p[1], r[1]) <= q[1] <= max(p[1], r[1])


def segments_intersect(
    p1: Sequence[float], p2: Sequence[float], q1: Sequence[float], q2: Sequence[float]
) -> bool:
    """Whether segments p1-p2 and q1-q2 share a point (touching counts)."""
    d1, d2 = _cross(q1, q2, p1), _cross(q1, q2, p2)
    d3, d4 = _cross(p1, p2, q1), _cross(p1, p2, q2)
    if ((d1 > 0 > d2) or (d1 < 0 < d2)) and ((d3 > 0 > d4) or (d3 < 0 < d4)):
        return True
    return (
        (d1 == 0 and _on_segment(q1, p1, q2))
        or (d2 == 0 and _on_segment(q1, p2, q2))
        or (d3 == 0 and _on_segment(p1, q1, p2))
        or (d4 == 0 and _on_segment(p1, q2, p2))
    )


def is_simple_polygon(points: Sequence[Sequence[float]]) -> bool:
    """Whether a closed polygon has no crossing or touching non-adjacent edges and a non-zero area."""
    n = len(points)
    edges = [(points[i], points[(i + 1) % n]) for i in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            if j == i + 1 or (i == 0 and j == n - 1):
                continue  # neighbours share a vertex
            if segments_intersect(*edges[i], *edges[j]):
                return False
    area = sum(_cross((0.0, 0.0), points[i], points[(i + 1) % n]) for i in range(n)) / 2.0
    return abs(area) > 1.0


def _point(shape: str, value: Any, width: int, height: int) -> tuple[float, float]:
    if not (isinstance(value, list | tuple) and len(value) == 2):
        raise ShapeError(f"{shape}: each point must be [x, y], got {value!r}")
    try:
        x, y = float(value[0]), float(value[1])
    except (TypeError, ValueError):
        raise ShapeError(f"{shape}: each point must be two numbers, got {value!r}") from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ShapeError(f"{shape}: point {value!r} is not finite")
    if not (0 <= x <= width - 1 and 0 <= y <= height - 1):
        raise ShapeError(f"{shape}: point [{x:g}, {y:g}] is outside the {width}x{height} frame")
    return (x, y)


def parse_shapes(payload: Any, width: int, height: int) -> tuple[Shape, ...]:
    """Check a ``{"zones": [...]}`` payload against a ``width`` x ``height`` frame.

    Raises:
        ShapeError: The first problem found, in one sentence.
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("zones"), list):
        raise ShapeError('expected a JSON object {"zones": [...]}')
    items = payload["zones"]
    if len(items) > MAX_SHAPES:
        raise ShapeError(f"at most {MAX_SHAPES} lines and zones per camera, got {len(items)}")
    shapes: list[Shape] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise ShapeError(f"zones[{index}] must be an object")
        unknown = set(item) - {"name", "kind", "points", "in"}
        if unknown:
            raise ShapeError(f"zones[{index}] has unknown fields {sorted(unknown)}")
        name = item.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > NAME_MAX:
            raise ShapeError(f"zones[{index}] needs a name of 1 to {NAME_MAX} characters")
        name = name.strip()
        if name in seen:
            raise ShapeError(f"the name {name!r} is used twice: names must be unique per camera")
        seen.add(name)
        kind = item.get("kind")
        if kind not in KINDS:
            raise ShapeError(f"{name!r}: kind must be 'zone' or 'line', got {kind!r}")
        raw = item.get("points")
        if not isinstance(raw, list) or len(raw) > MAX_POINTS:
            raise ShapeError(f"{name!r}: points must be a list of at most {MAX_POINTS} [x, y] pairs")
        points = tuple(_point(repr(name), p, width, height) for p in raw)
        if kind == "zone":
            if len(points) < 3:
                raise ShapeError(f"{name!r}: a zone needs at least 3 points, got {len(points)}")
            if not is_simple_polygon(points):
                raise ShapeError(f"{name!r}: the polygon crosses itself or has no area")
            if "in" in item:
                raise ShapeError(f"{name!r}: only lines have an 'in' side")
            shapes.append(Shape(name, "zone", points))
        else:
            if len(points) < 2:
                raise ShapeError(f"{name!r}: a line needs at least 2 points, got {len(points)}")
            if any(points[i] == points[i + 1] for i in range(len(points) - 1)):
                raise ShapeError(f"{name!r}: two consecutive points of the line are the same")
            side = item.get("in", "left")
            if side not in SIDES:
                raise ShapeError(f"{name!r}: 'in' must be 'left' or 'right', got {side!r}")
            shapes.append(Shape(name, "line", points, side))
    return tuple(shapes)


def shapes_json(shapes: Sequence[Shape]) -> dict[str, Any]:
    """The API's ``{"zones": [...]}`` object."""
    return {"zones": [s.to_json() for s in shapes]}


class LineGeometry:
    """Signed distance of points to a polyline (positive on its in side), None beyond its ends."""

    def __init__(self, shape: Shape) -> None:
        pts = shape.array
        self.a = pts[:-1]
        self.d = pts[1:] - pts[:-1]
        self.length2 = (self.d**2).sum(axis=1)
        self.sign = -1.0 if shape.in_side == "left" else 1.0  # left of the direction: cross < 0

    def signed_distance(self, x: float, y: float) -> float | None:
        rel = np.array([x, y]) - self.a
        t = (rel * self.d).sum(axis=1) / self.length2
        within = (t >= 0.0) & (t <= 1.0)
        if not within.any():
            return None
        cross = self.d[:, 0] * rel[:, 1] - self.d[:, 1] * rel[:, 0]
        dist = cross / np.sqrt(self.length2)
        idx = np.flatnonzero(within)
        best = idx[np.argmin(np.abs(dist[idx]))]
        return float(self.sign * dist[best])
