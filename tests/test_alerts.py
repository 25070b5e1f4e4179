"""Watchlist alerts: events are tagged before they are stored, hits are kept for the pages and
POSTed to the webhook with retries, never blocking the caller."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import free_port

from issc.alerts import AlertingSink
from issc.sink import MemorySink
from issc.store import Store
from issc.types import PlateEvent


def event(text: str) -> PlateEvent:
    now = datetime.now(UTC)
    return PlateEvent(
        camera="gate", first_seen=now, last_seen=now, text=text, confidence=0.9, reads=2, box=(0, 0, 10, 5)
    )


class Hook:
    """A webhook receiver on loopback that fails the first ``fail_first`` posts with HTTP 500."""

    def __init__(self, fail_first: int = 0) -> None:
        self.bodies: list[dict] = []
        self.attempts = 0
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                hook.attempts += 1
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status = 500 if hook.attempts <= fail_first else 204
                if status == 204:
                    hook.bodies.append(body)
                self.send_response(status)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook?token=secret"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def store(tmp_path):
    with Store(f"sqlite:///{tmp_path}/h.db").start() as s:
        yield s


def test_watchlist_hit_is_tagged_stored_kept_and_posted_after_retries(store) -> None:
    store.add_watchlist("LS15EBC", "stolen")
    hook = Hook(fail_first=2)
    sink = AlertingSink(store, store, hook.url)
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
    sink = AlertingSink(store, store, f"http://127.0.0.1:{free_port()}/nobody-listens")
    sink.webhook.attempts = 2
    sink.add_plate_event(event("LS15EBC"))
    deadline = time.monotonic() + 10
    while sink.webhook.failed == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sink.webhook.failed == 1 and sink.webhook.last_error == "ConnectionError"
    sink.webhook.close()
    store.flush()
    assert [r.watchlist for r in store.search_plates()] == ["stolen"]


def test_without_a_watchlist_events_pass_through_unchanged() -> None:
    inner = MemorySink()
    sink = AlertingSink(inner, None)
    sink.add_plate_event(event("AB12CDE"))
    assert [e.watchlist for e in inner.events()] == [None] and sink.alerts_after(0) == []
