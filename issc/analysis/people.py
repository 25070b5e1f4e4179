"""People counts per minute: one ``PeopleCount`` per camera per minute from per-frame counts."""

from __future__ import annotations

from datetime import UTC, datetime

from issc.types import PeopleCount


class PeopleMinutes:
    """Aggregates per-frame people counts into one ``PeopleCount`` per camera per minute."""

    def __init__(self, camera: str) -> None:
        self.camera = camera
        self._minute: int | None = None
        self._counts: list[int] = []

    def add(self, captured_at: float, people: int) -> list[PeopleCount]:
        """Record one analysed frame; returns the finished minute when a new one starts."""
        minute = int(captured_at // 60)
        finished: list[PeopleCount] = []
        if self._minute is not None and minute != self._minute:
            finished = self.flush()
        self._minute = minute
        self._counts.append(people)
        return finished

    def flush(self) -> list[PeopleCount]:
        if self._minute is None or not self._counts:
            return []
        count = PeopleCount(
            camera=self.camera,
            minute=datetime.fromtimestamp(self._minute * 60, tz=UTC),
            max_count=max(self._counts),
            mean_count=sum(self._counts) / len(self._counts),
            samples=len(self._counts),
        )
        self._counts = []
        return [count]
