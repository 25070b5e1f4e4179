"""Where plate events and people counts go. The history store implements the same interface."""

from __future__ import annotations

import threading
from collections import deque
from typing import Protocol

from issc.types import AnalyticsRecord, PeopleCount, PlateEvent


class EventSink(Protocol):
    """Takes plate events and people counts without blocking; ``close`` after the last one.

    ``save_provisional`` takes the provisional event of a pass still in view; the pass's final event
    (same ``pass_key``) comes through ``add_plate_event`` and replaces it. Sinks that do not persist
    ignore provisional events.
    """

    def add_plate_event(self, event: PlateEvent) -> None: ...

    def save_provisional(self, event: PlateEvent) -> None: ...

    def add_people_count(self, count: PeopleCount) -> None: ...

    def add_analytics(self, record: AnalyticsRecord) -> None:
        """A line crossing, zone visit or hourly totals (``issc.analytics``)."""
        ...

    def close(self) -> None: ...


class MemorySink:
    """Keeps the newest events in memory (bounded). Thread-safe."""

    def __init__(self, max_events: int = 10_000) -> None:
        self._lock = threading.Lock()
        self.plate_events: deque[PlateEvent] = deque(maxlen=max_events)
        self.people_counts: deque[PeopleCount] = deque(maxlen=max_events)
        self.analytics: deque[AnalyticsRecord] = deque(maxlen=max_events)

    def add_plate_event(self, event: PlateEvent) -> None:
        with self._lock:
            self.plate_events.append(event)

    def add_people_count(self, count: PeopleCount) -> None:
        with self._lock:
            self.people_counts.append(count)

    def add_analytics(self, record: AnalyticsRecord) -> None:
        with self._lock:
            self.analytics.append(record)

    def save_provisional(self, event: PlateEvent) -> None:
        """Ignored: in memory, only finished passes are kept."""

    def close(self) -> None:
        """Nothing to flush: everything is in memory."""

    def events(self) -> list[PlateEvent]:
        with self._lock:
            return list(self.plate_events)

    def counts(self) -> list[PeopleCount]:
        with self._lock:
            return list(self.people_counts)
