"""Watchlist alerts: tag plate events that match the watchlist, keep recent hits for the pages,
and POST them to a webhook without ever blocking the engine.

The webhook's pending hits are kept in the history database's outbox (a restart loses none), each
POST is signed with HMAC-SHA256 when ``WEBHOOK_SECRET`` is set (:func:`sign`, :func:`verify`),
and a receiver's ``Retry-After`` is honoured.
"""

from __future__ import annotations

import hashlib
import hmac
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
from issc.detect.pool import parse_retry_after
from issc.redact import error_line, redact_webhook
from issc.sink import EventSink
from issc.types import AnalyticsRecord, PeopleCount, PlateEvent

logger = logging.getLogger(__name__)


class OutboxItem(Protocol):
    """A leased outbox row: its id, the JSON body and the attempts made before."""

    id: int
    body: str
    attempts: int


class Outbox(Protocol):
    """Where pending webhook payloads are kept (:class:`issc.store.outbox.Outbox`, the history's)."""

    max_rows: int

    def put(self, payload: dict[str, Any]) -> bool: ...
    def claim(self) -> OutboxItem | None: ...
    def done(self, item: OutboxItem) -> None: ...
    def retry(self, item: OutboxItem, after_s: float, error: str) -> None: ...
    def pending(self) -> int: ...
    def next_due_s(self) -> float | None: ...


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


#: Header carrying the payload's signature: ``t=<unix seconds>,sha256=<hex HMAC>``.
SIGNATURE_HEADER = "X-ISSC-Signature"


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The ``X-ISSC-Signature`` value of ``body`` sent at ``timestamp`` (Unix seconds).

    The HMAC-SHA256, keyed with ``WEBHOOK_SECRET``, covers ``"<timestamp>." + body`` (the raw bytes
    of the POST), so a receiver can refuse a changed body and a replay of an old one.
    """
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},sha256={mac.hexdigest()}"


def verify(secret: str, body: bytes, header: str, max_age_s: float = 300.0, now: float | None = None) -> bool:
    """Whether ``header`` (an ``X-ISSC-Signature`` value) signs ``body`` with ``secret`` and is at
    most ``max_age_s`` old: what a receiver written in Python does (README, "Webhook")."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > max_age_s:
        return False
    expected = sign(secret, body, timestamp).split("sha256=", 1)[1]
    return hmac.compare_digest(expected, fields.get("sha256", ""))


class WebhookSender:
    """Posts alerts kept in the outbox on its own thread: backoff, ``Retry-After``, signatures.

    :meth:`send` never blocks (a bounded in-memory queue); the sender's thread moves each payload to
    the outbox (:class:`issc.store.outbox.Outbox`, in the history database) before its first attempt,
    then posts the due rows oldest first. A row leaves the outbox when the receiver answers 2xx, or
    gives up: a 4xx other than 408/429, or ``attempts`` failures. A 429 or 503 with ``Retry-After``
    waits as long as asked (at most an hour); other failures back off from ``backoff_s``, doubling up
    to ``max_backoff_s``. Rows left at a stop are sent by the next sender, after a restart too.

    Args:
        url: ``WEBHOOK_URL``.
        outbox: Where pending payloads are kept.
        secret: ``WEBHOOK_SECRET``; None: payloads are not signed.
        attempts: Tries per payload before it counts as failed.
        timeout_s: HTTP timeout of one POST.
        max_queue: Payloads that may wait in memory for the outbox.

    Attributes:
        sent, failed, dropped: Payloads delivered, given up, and lost to a full queue or outbox.
        pending: Rows in the outbox at the last look (this and other senders').
        last_error: The last failure, one redacted line.
    """

    def __init__(
        self,
        url: str,
        outbox: Outbox,
        *,
        secret: str | None = None,
        attempts: int = 8,
        timeout_s: float = 5.0,
        max_queue: int = 1000,
        backoff_s: float = 0.5,
        max_backoff_s: float = 300.0,
        poll_s: float = 2.0,
    ) -> None:
        self.url = url
        self.outbox = outbox
        self.attempts = attempts
        self.timeout_s = timeout_s
        self.backoff_s, self.max_backoff_s, self.poll_s = backoff_s, max_backoff_s, poll_s
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self.pending = 0
        self.last_error: str | None = None
        self._secret = secret
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue(max_queue)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="issc-webhook", daemon=True)
        self._thread.start()

    def send(self, payload: dict[str, Any]) -> None:
        """Queue a payload (never blocks; a full queue drops it and counts it)."""
        try:
            self._queue.put_nowait(payload)
        except queue.Full:
            self.dropped += 1
        self._wake.set()

    def status(self) -> dict[str, Any]:
        """What ``/api/health`` shows of the webhook."""
        return {
            "url": redact_webhook(self.url),
            "sent": self.sent,
            "failed": self.failed,
            "dropped": self.dropped,
            "pending": self.pending + self._queue.qsize(),
            "last_error": self.last_error,
        }

    def close(self, timeout: float = 5.0) -> None:
        """Stop posting; what is queued in memory is moved to the outbox first (the next start sends it)."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)
        self._keep_queued()

    def _keep_queued(self) -> None:
        while True:
            try:
                payload = self._queue.get_nowait()
            except queue.Empty:
                return
            try:
                if not self.outbox.put(payload):
                    self.dropped += 1
                    logger.warning(
                        "webhook outbox is full (%d rows): a watchlist hit is dropped", self.outbox.max_rows
                    )
            except Exception as exc:  # the database is away: keep it in memory, try again soon
                self._queue.put_nowait(payload)
                self.last_error = f"outbox: {error_line(exc)}"
                return

    def _run(self) -> None:
        session = requests.Session()
        try:
            while not self._stop.is_set():
                try:
                    self._keep_queued()
                    item = self.outbox.claim()
                    if item is None:
                        self.pending = self.outbox.pending()
                        due = self.outbox.next_due_s()
                        self._wake.wait(self.poll_s if due is None else min(max(due, 0.05), self.poll_s))
                        self._wake.clear()
                        continue
                    self._post(session, item)
                except Exception as exc:  # the database is away: try again in a while
                    self.last_error = f"outbox: {error_line(exc)}"
                    logger.warning("webhook outbox: %s", self.last_error)
                    self._stop.wait(self.poll_s)
        finally:
            session.close()

    def _post(self, session: requests.Session, item: OutboxItem) -> None:
        body = item.body.encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if self._secret:
            headers[SIGNATURE_HEADER] = sign(self._secret, body, int(time.time()))
        wait: float | None = None
        try:
            response = session.post(self.url, data=body, headers=headers, timeout=self.timeout_s)
        except requests.RequestException as exc:
            error, final = type(exc).__name__, False
        else:
            if response.ok:
                self.outbox.done(item)
                self.sent += 1
                return
            error = f"HTTP {response.status_code}"
            final = response.status_code < 500 and response.status_code not in (408, 429)
            if response.status_code in (429, 503):
                wait = parse_retry_after(response.headers.get("Retry-After"))
        self.last_error = error
        attempt = item.attempts + 1
        if final or attempt >= self.attempts:
            self.outbox.done(item)
            self.failed += 1
            logger.warning(
                "webhook %s failed after %d attempt%s: %s",
                redact_webhook(self.url),  # chat services keep the secret in the path
                attempt,
                "s" if attempt > 1 else "",
                error,
            )
            return
        backoff = min(self.backoff_s * 2**item.attempts, self.max_backoff_s)
        self.outbox.retry(item, backoff if wait is None else max(wait, backoff), error)


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
