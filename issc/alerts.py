"""Watchlist alerts: tag plate events that match the watchlist, keep recent hits for the pages,
and POST them to a webhook without ever blocking the engine."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, replace
from typing import Any, Protocol

import requests

from issc.redact import redact_webhook
from issc.sink import EventSink
from issc.types import AnalyticsRecord, PeopleCount, PlateEvent

logger = logging.getLogger(__name__)


class Watchlist(Protocol):
    def watchlist_match(self, text: str) -> str | None: ...


@dataclass(frozen=True)
class Alert:
    """One watchlist hit."""

    seq: int
    at: float  # wall-clock time the alert was raised
    event: PlateEvent


class AlertFeed(Protocol):
    """Where the pages find recent watchlist hits."""

    def alerts_after(self, seq: int) -> list[Alert]: ...


def alert_payload(event: PlateEvent) -> dict[str, Any]:
    """The JSON body posted to ``WEBHOOK_URL``."""
    return {
        "type": "watchlist_hit",
        "camera": event.camera,
        "plate": event.text,
        "label": event.watchlist,
        "confidence": round(event.confidence, 4),
        "reads": event.reads,
        "first_seen": event.first_seen.isoformat(),
        "last_seen": event.last_seen.isoformat(),
    }


class WebhookSender:
    """Posts alerts from a bounded queue on its own thread, with retries and backoff."""

    def __init__(self, url: str, attempts: int = 4, timeout_s: float = 5.0, max_queue: int = 1000) -> None:
        self.url = url
        self.attempts = attempts
        self.timeout_s = timeout_s
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self.last_error: str | None = None
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue(max_queue)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="issc-webhook", daemon=True)
        self._thread.start()

    def send(self, payload: dict[str, Any]) -> None:
        try:
            self._queue.put_nowait(payload)
        except queue.Full:
            self.dropped += 1

    def close(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        session = requests.Session()
        while True:
            payload = self._queue.get()
            if payload is None:
                break
            delay = 0.5
            for attempt in range(1, self.attempts + 1):
                try:
                    response = session.post(self.url, json=payload, timeout=self.timeout_s)
                    if response.status_code < 500 and response.status_code != 429:
                        if response.ok:
                            self.sent += 1
                        else:
                            self.failed += 1
                            self.last_error = f"HTTP {response.status_code}"
                        break
                    self.last_error = f"HTTP {response.status_code}"
                except requests.RequestException as exc:
                    self.last_error = type(exc).__name__
                if attempt == self.attempts or self._stop.wait(delay):
                    self.failed += 1
                    logger.warning(
                        "webhook %s failed after %d attempts: %s",
                        redact_webhook(self.url),  # chat services keep the secret in the path
                        attempt,
                        self.last_error,
                    )
                    break
                delay = min(delay * 2, 10.0)
        session.close()


class AlertingSink:
    """Wraps the history sink: sets ``event.watchlist`` from the watchlist before storing, and
    raises an alert (recent list + webhook) for every hit."""

    def __init__(
        self, inner: EventSink, watchlist: Watchlist | None, webhook_url: str | None = None, keep: int = 200
    ) -> None:
        self.inner = inner
        self.watchlist = watchlist
        self.webhook = WebhookSender(webhook_url) if webhook_url else None
        self._alerts: deque[Alert] = deque(maxlen=keep)
        self._seq = 0
        self._lock = threading.Lock()

    def add_plate_event(self, event: PlateEvent) -> None:
        label = None
        if self.watchlist is not None:
            try:
                label = self.watchlist.watchlist_match(event.text)
            except Exception:
                logger.exception("watchlist lookup failed for a plate event")
        if label is not None:
            event = replace(event, watchlist=label)
        self.inner.add_plate_event(event)
        if label is not None:
            self.raise_alert(event)

    def raise_alert(self, event: PlateEvent) -> None:
        """Raise the alert of a watchlist hit (``event.watchlist`` set): recent list, log and webhook.

        Also used when an analyst's correction makes a stored event match the watchlist.
        """
        with self._lock:
            self._seq += 1
            self._alerts.append(Alert(self._seq, time.time(), event))
        logger.info("watchlist hit: %s (%s) on %s", event.text, event.watchlist, event.camera)
        if self.webhook is not None:
            self.webhook.send(alert_payload(event))

    def save_provisional(self, event: PlateEvent) -> None:
        """Passed on: no alert until the pass has ended (its final event comes through add_plate_event)."""
        self.inner.save_provisional(event)

    def add_people_count(self, count: PeopleCount) -> None:
        self.inner.add_people_count(count)

    def add_analytics(self, record: AnalyticsRecord) -> None:
        self.inner.add_analytics(record)

    def alerts_after(self, seq: int) -> list[Alert]:
        """Alerts newer than ``seq`` (0: all kept), oldest first."""
        with self._lock:
            return [a for a in self._alerts if a.seq > seq]

    def close(self) -> None:
        """Stop the webhook sender (the inner sink belongs to whoever made it)."""
        if self.webhook is not None:
            self.webhook.close()
