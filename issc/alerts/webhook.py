"""Webhook delivery: posts the alerts kept in the history database's outbox from a thread of its own.

Each pending hit is kept in the outbox (a restart loses none), each POST is signed when
``WEBHOOK_SECRET`` is set (:mod:`issc.alerts.signing`), failures back off and a receiver's
``Retry-After`` is honoured; :meth:`WebhookSender.send` never blocks the engine.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any, Protocol

import requests

from issc.alerts.signing import SIGNATURE_HEADER, sign
from issc.detect.pool import parse_retry_after
from issc.redact import error_line, redact_webhook

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
