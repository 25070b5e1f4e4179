"""No secret leaves the process: recognisable secrets are configured, the real dashboard server is
driven through every route and every page in Chromium, and neither the answers, the pages' HTML,
the websocket frames nor the server's log hold any of them.

The secrets: the Roboflow API key (used against the loopback emulator, which rejects it), a camera
password in userinfo, a DVR's path-style password, and a webhook's secret path token.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from conftest import free_port
from roboflow_emulator import Behaviour, RoboflowEmulator

from issc import redact
from issc.alerts.webhook import WebhookSender

API_KEY = "rfKeyLeakProbe7781"
CAMERA_PASSWORD = "S3cretPw"
DVR_PASSWORD = "DvrPw4455"
WEBHOOK_TOKEN = "HookTok3n9988"
SECRETS = (API_KEY, CAMERA_PASSWORD, DVR_PASSWORD, WEBHOOK_TOKEN)
PAGES = ("/", "/plates", "/review", "/tuning", "/watchlist", "/webcam")


def leaks(text: str | bytes) -> list[str]:
    """The secrets found in ``text``, plain or percent-encoded."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return [s for s in SECRETS if s in text or s.lower() in text.lower()]


def secret_env(closed_port: int, emulator_url: str) -> dict[str, str]:
    return {
        "CAMERAS": (
            f"street=demo,gate=rtsp://admin:{CAMERA_PASSWORD}@127.0.0.1:{closed_port}/s1,"
            f"dvr=http://127.0.0.1:{closed_port}/user=admin_password={DVR_PASSWORD}_channel=1_stream=0.sdp"
        ),
        "DETECTOR": "roboflow",
        "API_KEY": API_KEY,
        "API_URL": emulator_url,
        "HUMAN_MODEL": "issc-human-detection/1",
        "WEBHOOK_URL": f"http://127.0.0.1:{closed_port}/services/T000/B000/{WEBHOOK_TOKEN}",
        "AUTH": "off",
        "LOG_LEVEL": "DEBUG",
    }


def route_paths() -> list[str]:
    """A GET path for every route the server adds (path parameters filled in), plus wrong ones."""
    from starlette.routing import Route

    from issc import server

    paths = []
    for route in server.routes():
        if isinstance(route, Route) and "GET" in (route.methods or ()):
            path = re.sub(r"\{camera_id\}", "1", route.path)
            path = re.sub(r"\{event_id(:int)?\}", "1", path)
            paths.append(re.sub(r"\{[^}]+\}", "x", path))
    extra = [
        "/api/plates/abc/crop.jpg",
        "/api/plates/99999999999999999999/crop.jpg",
        "/api/plates?offset=99999999999999999999",
        "/api/plates?q=" + "A" * 100,
        "/video_feed/2/",
        "/video_feed/9/",
        "/_stcore/health",
        "/no/such/page",
    ]
    return sorted(set(paths)) + extra


def fetch_routes(base: str) -> dict[str, tuple[int, bytes, str]]:
    """(status, body, headers) of a GET of every route."""
    answers = {}
    for path in route_paths():
        with requests.get(base + path, timeout=15, stream=True) as response:
            if response.headers.get("content-type", "").startswith("multipart/"):
                body = next(response.iter_content(64 * 1024), b"")  # the first part of the stream
            else:
                body = response.content
            answers[path] = (response.status_code, body, str(response.headers))
    return answers


def assert_no_leaks(
    answers: dict[str, tuple[int, bytes, str]], seen: list[tuple[str, str | bytes]], log: bytes
) -> None:
    found = {f"route {p}": leaks(body + headers.encode()) for p, (_, body, headers) in answers.items()}
    found |= {f"{where} #{i}": leaks(data) for i, (where, data) in enumerate(seen)}
    found["server log"] = leaks(log)
    assert {k: v for k, v in found.items() if v} == {}


@pytest.fixture
def emulator() -> Iterator[RoboflowEmulator]:
    with RoboflowEmulator(Behaviour(valid_key="some-other-key")) as server:  # our key gets 401
        yield server


def browse_every_page(chromium, base: str, wait_for: str) -> list[tuple[str, str | bytes]]:
    """Open each page, keep its HTML and every websocket frame the browser received."""
    context = chromium.new_context(viewport={"width": 1300, "height": 900}, permissions=["camera"])
    page = context.new_page()
    seen: list[tuple[str, str | bytes]] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: seen.append(("ws", payload))))
    page.goto(base + "/")
    page.get_by_text(wait_for).first.wait_for(timeout=45_000)  # the errors have reached the page
    for path in PAGES:
        page.goto(base + path)
        # the page has drawn (its title, or the error that stopped it), then its script run has ended
        page.wait_for_function(
            '() => document.querySelector(\'[data-testid="stMain"] h1, [data-testid="stAlert"],'
            ' [data-testid="stException"]\')',
            timeout=30_000,
        )
        page.wait_for_function(
            "() => !document.querySelector('[data-testid^=\"stStatusWidgetRunning\"]')", timeout=30_000
        )
        seen.append((f"html {path}", page.content()))
        seen.append((f"text {path}", page.inner_text("body")))
    context.close()
    return seen


pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed"),
]


def test_no_secret_in_routes_pages_websocket_or_log(streamlit_server, emulator, chromium) -> None:
    # given a server configured with recognisable secrets, whose cameras and detector fail
    closed = free_port()
    server = streamlit_server(secret_env(closed, emulator.url))
    base = server.url
    # when every route is asked and every page opened in Chromium
    answers = fetch_routes(base)
    seen = browse_every_page(chromium, base, wait_for="***@127.0.0.1")
    answers.update(fetch_routes(base))  # again, now that the cameras have failed a few times
    server.stop()
    log = server.log.read_bytes()

    # then the failures really happened (the test saw the redacted strings) ...
    cameras = json.loads(answers["/api/cameras"][1])
    errors = " ".join(str(c.get("last_error")) for c in cameras)
    assert "***@127.0.0.1" in errors, cameras
    assert b"***@127.0.0.1" in log  # the camera failures were logged, redacted
    assert any(r.api_key == API_KEY for r in emulator.requests), "the detector never used the key"
    # ... the route fixes hold ...
    status, body, _ = answers["/api/plates/abc/crop.jpg"]
    assert status == 404 and body.startswith(b"{"), body[:200]
    assert answers["/api/plates/99999999999999999999/crop.jpg"][0] == 400
    assert answers["/api/plates?offset=99999999999999999999"][0] == 400
    # ... and no secret appears anywhere
    assert_no_leaks(answers, seen, log)
    assert any(where == "ws" for where, _ in seen), "no websocket frame was captured"


def test_configuration_error_leaks_nothing(streamlit_server, chromium) -> None:
    # given the example: a camera URL with a password next to a clip that does not exist
    server = streamlit_server(
        {
            "CAMERAS": f"gate=rtsp://admin:{CAMERA_PASSWORD}@10.0.0.5/s1,/no/such.mp4",
            "API_KEY": API_KEY,
            "WEBHOOK_URL": f"https://hooks.slack.com/services/T000/B000/{WEBHOOK_TOKEN}",
            "AUTH": "off",
        }
    )
    # when every route is asked (503 with the configuration's sentence) and every page opened
    answers = fetch_routes(server.url)
    seen = browse_every_page(chromium, server.url, wait_for="Configuration error")
    server.stop()
    log = server.log.read_bytes()
    # then the sentence is shown, with the password replaced
    shown = b" ".join(body for _, body, _ in answers.values())
    assert b"rtsp://***@10.0.0.5/s1" in shown and b"/no/such.mp4" in shown
    assert b"configuration error" in log.lower()
    assert_no_leaks(answers, seen, log)


def test_failed_webhook_log_shows_only_scheme_and_host(tmp_path: Path) -> None:
    from issc.store import Store

    # given a webhook on a closed port whose path holds the secret token
    url = f"http://127.0.0.1:{free_port()}/services/T000/B000/{WEBHOOK_TOKEN}"
    logger = logging.getLogger("issc.alerts")
    lines: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: lines.append(handler.format(record))  # type: ignore[method-assign]
    logger.addHandler(handler)
    try:
        with Store(f"sqlite:///{tmp_path}/h.db") as store:
            sender = WebhookSender(url, store.outbox, attempts=1, timeout_s=1)
            sender.send({"type": "watchlist_hit"})
            deadline = time.monotonic() + 10
            while sender.failed == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            sender.close(timeout=10)
    finally:
        logger.removeHandler(handler)
    # then the failure is logged without the path
    assert sender.failed == 1
    assert lines and "http://127.0.0.1/…" in lines[0], lines
    assert not leaks(" ".join(lines)) and "/services" not in lines[0]


def test_redaction_registry_is_filled_by_load_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from issc.config import load_settings

    redact.clear()
    for key, value in secret_env(9, "http://127.0.0.1:9").items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/x.db")
    load_settings()
    # a traceback or third-party message quoting a secret is redacted too
    assert not leaks(redact.redact(f"boom {API_KEY} {CAMERA_PASSWORD} {DVR_PASSWORD} {WEBHOOK_TOKEN}"))
    redact.clear()
