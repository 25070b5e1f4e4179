"""Watchlist alerts: tag plate events that match the watchlist, keep recent hits for the pages,
and POST them to a webhook without ever blocking the engine."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

import requests

from issc.analytics.vehicles import VehicleVisit, overstays
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

    def raise_alert(self, event: PlateEvent, kind: str = "watchlist_hit") -> None:
        """Raise the alert of a watchlist hit (``event.watchlist`` set): recent list, log and webhook.

        Also used when an analyst's correction makes a stored event match the watchlist, and for
        overstays (``kind`` ``"overstay"``, the label saying how long, :class:`OverstayMonitor`).
        """
        with self._lock:
            self._seq += 1
            self._alerts.append(Alert(self._seq, time.time(), event))
        logger.info("%s: %s (%s) on %s", kind.replace("_", " "), event.text, event.watchlist, event.camera)
        if self.webhook is not None:
            self.webhook.send(alert_payload(event, kind))

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


class OverstayMonitor:
    """Raises an overstay alert, once per stay, for each vehicle on site longer than ``limit_s``.

    Checks every ``interval_s`` on its own thread; the alert goes through ``alerts`` (the
    watchlist's recent list, toast and webhook) as a ``PlateEvent`` of the entry camera whose label
    says how long the vehicle has been on site.

    Args:
        visits: Returns the current stays (``issc.store.Store.site_visits`` with the site's cameras).
        alerts: Where the alert is raised.
        limit_s: ``OVERSTAY_MIN`` in seconds.
    """

    def __init__(
        self,
        visits: Callable[[float], list[VehicleVisit]],
        alerts: AlertingSink,
        limit_s: float,
        interval_s: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._visits = visits
        self._alerts = alerts
        self.limit_s = limit_s
        self.interval_s = interval_s
        self._clock = clock
        self._alerted: set[int] = set()  # entry event ids already alerted
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check(self) -> list[VehicleVisit]:
        """Alert the new overstays now; returns them."""
        now = self._clock()
        found = [
            v
            for v in overstays(self._visits(now), now, self.limit_s)
            if v.entry.event_id not in self._alerted
        ]
        for visit in found:
            self._alerted.add(visit.entry.event_id)
            minutes = visit.on_site_s(now) / 60
            entered = datetime.fromtimestamp(visit.entry.at, tz=UTC)
            event = PlateEvent(
                camera=visit.entry.camera,
                first_seen=entered,
                last_seen=datetime.fromtimestamp(now, tz=UTC),
                text=visit.plate,
                confidence=1.0,
                reads=1,
                box=(0, 0, 0, 0),
                watchlist=f"overstay: {minutes:.0f} min on site (limit {self.limit_s / 60:g} min)",
            )
            self._alerts.raise_alert(event, kind="overstay")
        return found

    def start(self) -> OverstayMonitor:
        """Check every ``interval_s`` on a thread of its own (idempotent)."""
        if self._thread is not None and self._thread.is_alive():
            return self
        self._thread = threading.Thread(target=self._run, name="issc-overstay", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.check()
            except Exception:
                logger.exception("overstay check failed")
