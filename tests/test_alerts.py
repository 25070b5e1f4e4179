"""Watchlist alerts: events are tagged before they are stored, hits are kept for the pages and
POSTed to the webhook with retries, never blocking the caller."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa
from conftest import free_port

from issc.alerts.signing import SIGNATURE_HEADER, verify
from issc.alerts.sink import AlertingSink
from issc.sink import MemorySink
from issc.store import Store
from issc.store.database import drop_database
from issc.types import PlateEvent


def event(text: str) -> PlateEvent:
    now = datetime.now(UTC)
    return PlateEvent(
        camera="gate", first_seen=now, last_seen=now, text=text, confidence=0.9, reads=2, box=(0, 0, 10, 5)
    )


class Hook:
    """A webhook receiver on loopback: answers each POST with the next of ``answers`` (status,
    headers), then 204; keeps what it took (body, raw bytes, headers) and when each POST came."""

    def __init__(self, fail_first: int = 0, answers: list[tuple[int, dict[str, str]]] | None = None) -> None:
        self.bodies: list[dict] = []
        self.raw: list[bytes] = []
        self.headers: list[dict[str, str]] = []
        self.times: list[float] = []
        self.attempts = 0
        self.answers = list(answers or [(500, {})] * fail_first)
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                hook.attempts += 1
                hook.times.append(time.monotonic())
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                status, headers = hook.answers.pop(0) if hook.answers else (204, {})
                if status == 204:
                    hook.bodies.append(json.loads(raw))
                    hook.raw.append(raw)
                    hook.headers.append(dict(self.headers))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook?token=secret"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def wait_for(check, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return bool(check())


@pytest.fixture
def store(tmp_path):
    with Store(f"sqlite:///{tmp_path}/h.db").start() as s:
        yield s


def test_watchlist_hit_is_tagged_stored_kept_and_posted_after_retries(store) -> None:
    store.add_watchlist("LS15EBC", "stolen")
    hook = Hook(fail_first=2)
    sink = AlertingSink(store, store, hook.url, outbox=store.outbox)
    try:
        sink.add_plate_event(event("LS15E8C"))  # one look-alike off: still a hit
        sink.add_plate_event(event("AB12CDE"))
        # never waits for the webhook: the post that gets through comes after two failures and
        # 0.5 s + 1 s of backoff, so a sink that waited would have returned after it
        assert hook.bodies == []
        deadline = time.monotonic() + 10
        while not hook.bodies and time.monotonic() < deadline:
            time.sleep(0.05)
        assert hook.attempts == 3
        assert hook.bodies == [
            {
                **hook.bodies[0],
                "type": "watchlist_hit",
                "plate": "LS15E8C",
                "label": "stolen",
                "camera": "gate",
            }
        ]
        assert [a.event.text for a in sink.alerts_after(0)] == ["LS15E8C"]
        assert sink.alerts_after(1) == []
        store.flush()
        rows = {r.text: r.watchlist for r in store.search_plates()}
        assert rows == {"LS15E8C": "stolen", "AB12CDE": None}
    finally:
        sink.webhook.close()
        hook.close()


def test_a_dead_webhook_gives_up_and_the_events_are_still_stored(store) -> None:
    store.add_watchlist("LS15EBC", "stolen")
    sink = AlertingSink(store, store, f"http://127.0.0.1:{free_port()}/nobody-listens", outbox=store.outbox)
    sink.webhook.attempts = 2
    sink.add_plate_event(event("LS15EBC"))
    deadline = time.monotonic() + 10
    while sink.webhook.failed == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sink.webhook.failed == 1 and sink.webhook.last_error == "ConnectionError"
    assert sink.webhook.sent == 0 and store.outbox.pending() == 0  # given up: out of the outbox
    sink.webhook.close()
    store.flush()
    assert [r.watchlist for r in store.search_plates()] == ["stolen"]


def test_without_a_watchlist_events_pass_through_unchanged() -> None:
    inner = MemorySink()
    sink = AlertingSink(inner, None)
    sink.add_plate_event(event("AB12CDE"))
    assert [e.watchlist for e in inner.events()] == [None] and sink.alerts_after(0) == []


@pytest.fixture(params=["sqlite", "postgresql"])
def history_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A history database of each kind (PostgreSQL: a throwaway database on the tests' server)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/h.db"
        return
    pg = request.getfixturevalue("postgres_url")
    admin = sa.create_engine(pg, isolation_level="AUTOCOMMIT")
    name = f"issc_alerts_{secrets.token_hex(4)}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.DBAPIError:
        admin.dispose()
        pytest.skip("the test role cannot create databases")
    try:
        yield sa.make_url(pg).set(database=name).render_as_string(hide_password=False)
    finally:
        drop_database(admin, name)
        admin.dispose()


def test_a_restart_keeps_a_pending_alert_and_sends_it(history_url: str) -> None:
    # given a receiver that is down when the hit is raised
    url = history_url
    hook = Hook(answers=[(503, {})] * 100)
    with Store(url) as first:
        first.add_watchlist("LS15EBC", "stolen")
        sink = AlertingSink(first, first, hook.url, outbox=first.outbox)
        sink.add_plate_event(event("LS15EBC"))
        assert wait_for(lambda: hook.attempts >= 1)
        sink.close()  # the process stops with the alert not delivered
        assert first.outbox.pending() == 1 and hook.bodies == []
    # when the process starts again and the receiver is back
    hook.answers.clear()
    try:
        with Store(url) as second:
            again = AlertingSink(second, second, hook.url, outbox=second.outbox)
            try:
                assert wait_for(lambda: again.webhook.sent == 1)
                assert second.outbox.pending() == 0
            finally:
                again.close()
    finally:
        hook.close()
    # then the alert raised before the restart arrives, once
    assert [(b["plate"], b["label"]) for b in hook.bodies] == [("LS15EBC", "stolen")]


def test_an_alert_raised_just_before_a_stop_is_kept_too(tmp_path) -> None:
    # the sender's in-memory queue goes to the outbox at the stop, before the first attempt
    url = f"sqlite:///{tmp_path}/h.db"
    with Store(url) as store:
        sink = AlertingSink(store, store, f"http://127.0.0.1:{free_port()}/x", outbox=store.outbox)
        sink.webhook._stop.set()  # the thread is stopping: nothing more is posted
        sink.webhook._thread.join(5)
        sink.raise_alert(replace(event("LS15EBC"), watchlist="stolen"))
        sink.close()
        assert store.outbox.pending() == 1


def test_retry_after_is_honoured(store) -> None:
    # given a receiver that asks to wait 2 s, then takes the alert
    store.add_watchlist("LS15EBC", "stolen")
    hook = Hook(answers=[(429, {"Retry-After": "2"})])
    sink = AlertingSink(store, store, hook.url, outbox=store.outbox)
    try:
        sink.add_plate_event(event("LS15EBC"))
        assert wait_for(lambda: sink.webhook.sent == 1)
    finally:
        sink.close()
        hook.close()
    # then the second POST came no sooner than asked (the backoff alone would be 0.5 s)
    assert hook.attempts == 2 and hook.times[1] - hook.times[0] >= 1.9


def test_a_final_refusal_is_not_retried_and_counts_as_failed(store) -> None:
    store.add_watchlist("LS15EBC", "stolen")
    hook = Hook(answers=[(400, {})])
    sink = AlertingSink(store, store, hook.url, outbox=store.outbox)
    try:
        sink.add_plate_event(event("LS15EBC"))
        assert wait_for(lambda: sink.webhook.failed == 1)
        time.sleep(0.7)
    finally:
        sink.close()
        hook.close()
    assert hook.attempts == 1 and sink.webhook.status()["last_error"] == "HTTP 400"


def test_payloads_are_signed_and_the_signature_verifies_at_a_real_receiver(store) -> None:
    # given a webhook with a secret
    store.add_watchlist("LS15EBC", "stolen")
    hook = Hook()
    sink = AlertingSink(store, store, hook.url, outbox=store.outbox, webhook_secret="whsec_0123456789abcdef")
    try:
        sink.add_plate_event(event("LS15EBC"))
        assert wait_for(lambda: hook.raw)
    finally:
        sink.close()
        hook.close()
    raw, header = hook.raw[0], hook.headers[0][SIGNATURE_HEADER]
    # then the receiver recomputes the HMAC-SHA256 of "<t>." + the raw body, as the README shows
    fields = dict(part.split("=", 1) for part in header.split(","))
    expected = hmac.new(
        b"whsec_0123456789abcdef", fields["t"].encode() + b"." + raw, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(fields["sha256"], expected)
    assert abs(int(fields["t"]) - time.time()) < 60
    assert verify("whsec_0123456789abcdef", raw, header)
    # and a changed body, another key or an old signature do not verify
    assert not verify("whsec_0123456789abcdef", raw.replace(b"LS15EBC", b"LS15EBD"), header)
    assert not verify("another key", raw, header)
    assert not verify("whsec_0123456789abcdef", raw, header, now=time.time() + 3600)


def test_unsigned_without_a_secret(store) -> None:
    store.add_watchlist("LS15EBC", "stolen")
    hook = Hook()
    sink = AlertingSink(store, store, hook.url, outbox=store.outbox)
    try:
        sink.add_plate_event(event("LS15EBC"))
        assert wait_for(lambda: hook.raw)
    finally:
        sink.close()
        hook.close()
    assert SIGNATURE_HEADER not in hook.headers[0]


def test_health_counts_sent_and_failed(tmp_path) -> None:
    from issc.config import load_settings
    from issc.health import health_json
    from issc.service import Service

    hook = Hook(answers=[(400, {})])
    settings = load_settings(
        cameras="demo",
        detector="none",
        database_url=f"sqlite:///{tmp_path}/h.db",
        webhook_url=hook.url,
        webhook_secret="whsec_0123456789abcdef",
    )
    service = Service.build(settings)
    try:
        service.store.add_watchlist("LS15EBC", "stolen")
        service.alerts.add_plate_event(event("LS15EBC"))  # refused (400): failed
        service.alerts.add_plate_event(event("LS15EBC"))  # taken: sent
        assert wait_for(lambda: service.alerts.webhook.sent == 1 and service.alerts.webhook.failed == 1)
        webhook = health_json(service)["webhook"]
    finally:
        service.stop()
        hook.close()
    assert webhook["sent"] == 1 and webhook["failed"] == 1 and webhook["pending"] == 0
    assert webhook["url"] == "http://127.0.0.1/…" and "secret" not in str(webhook)
