"""What an alert is: one watchlist hit (or overstay), the feed the pages read, the webhook's JSON body."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from issc.types import PlateEvent


@dataclass(frozen=True)
class Alert:
    """One watchlist hit."""

    seq: int
    at: float  # wall-clock time the alert was raised
    event: PlateEvent


class AlertFeed(Protocol):
    """Where the pages find recent watchlist hits."""

    def alerts_after(self, seq: int) -> list[Alert]: ...


def alert_payload(event: PlateEvent, kind: str = "watchlist_hit") -> dict[str, Any]:
    """The JSON body posted to ``WEBHOOK_URL`` (``kind``: ``watchlist_hit`` or ``overstay``)."""
    return {
        "type": kind,
        "camera": event.camera,
        "plate": event.text,
        "label": event.watchlist,
        "confidence": round(event.confidence, 4),
        "reads": event.reads,
        "first_seen": event.first_seen.isoformat(),
        "last_seen": event.last_seen.isoformat(),
    }
