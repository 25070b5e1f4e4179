"""The alerting sink: tags plate events that match the watchlist before the history stores them, and
raises an alert (recent list, log, webhook) for each confident hit."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import replace
from typing import Protocol

from issc.alerts.alert import Alert, alert_payload
from issc.alerts.webhook import Outbox, WebhookSender
from issc.sink import EventSink
from issc.types import AnalyticsRecord, PeopleCount, PlateEvent

logger = logging.getLogger(__name__)


class Watchlist(Protocol):
    def watchlist_match(self, text: str) -> str | None: ...


class AlertingSink:
    """Wraps the history sink: sets ``event.watchlist`` from the watchlist before storing, and
    raises an alert (recent list + webhook) for every hit of a confident event.

    An unsure event (``event.unsure``: its best vote stayed below the recognition threshold) is
    stored with its watchlist label but raises no alert: a misread must not page anyone. An
    analyst's confirmation lifts the flag and raises the alert then (``Service.corrected``).
    """

    def __init__(
        self,
        inner: EventSink,
        watchlist: Watchlist | None,
        webhook_url: str | None = None,
        keep: int = 200,
        *,
        outbox: Outbox | None = None,
        webhook_secret: str | None = None,
    ) -> None:
        self.inner = inner
        self.watchlist = watchlist
        if webhook_url and outbox is None:
            raise ValueError("a webhook needs an outbox to keep its alerts (the history store's)")
        self.webhook = (
            WebhookSender(webhook_url, outbox, secret=webhook_secret) if webhook_url and outbox else None
        )
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
        if label is not None and not event.unsure:
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
