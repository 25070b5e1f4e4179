"""Redaction: credentials in URLs and messages, known secrets anywhere, log records and webhooks."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from issc import redact
from issc.config import load_settings
from issc.errors import ConfigError


@pytest.fixture(autouse=True)
def _empty_registry() -> Iterator[None]:
    redact.clear()
    yield
    redact.clear()


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        # userinfo
        ("rtsp://admin:S3cret@10.0.0.5/s1", "rtsp://***@10.0.0.5/s1"),
        ("rtsp://admin:S3cret@10.0.0.5:554/s1", "rtsp://***@10.0.0.5:554/s1"),
        ("rtsp://admin@10.0.0.5/s1", "rtsp://***@10.0.0.5/s1"),
        ("rtsp://admin:S3cret@[fe80::1]:554/s1", "rtsp://***@[fe80::1]:554/s1"),
        ("http://admin:p%40ss@cam.local/video", "http://***@cam.local/video"),
        # passwords with @ / # not percent-encoded: split at the last @ before the host
        ("rtsp://admin:p@ss@10.0.0.5/s1", "rtsp://***@10.0.0.5/s1"),
        ("rtsp://admin:p@ss/w#rd@10.0.0.5:554/s1", "rtsp://***@10.0.0.5:554/s1"),
        ("rtsp://admin:pa/ss@10.0.0.5/s1", "rtsp://***@10.0.0.5/s1"),
        ("rtsp://admin:12/34@10.0.0.5/s1", "rtsp://***@10.0.0.5/s1"),
        ("rtsp://admin:pa#ss@cam.local/s1", "rtsp://***@cam.local/s1"),
        ("rtsp://admin:pa?ss@cam.local/s1", "rtsp://***@cam.local/s1"),
        # no credentials: unchanged
        ("rtsp://10.0.0.5:554/s1", "rtsp://10.0.0.5:554/s1"),
        ("http://cam.local:8080/video.mjpg?fps=5", "http://cam.local:8080/video.mjpg?fps=5"),
        ("http://host/path?email=a@b.com", "http://host/path?email=a@b.com"),
        ("/videos/gate.mp4", "/videos/gate.mp4"),
        # path-style credentials of cheap DVRs
        (
            "http://10.0.0.5/user=admin_password=S3cret_channel=1_stream=0.sdp",
            "http://10.0.0.5/user=admin_password=***_channel=1_stream=0.sdp",
        ),
        ("http://10.0.0.5/cgi/user=admin&password=S3cret", "http://10.0.0.5/cgi/user=admin&password=***"),
        ("rtsp://10.0.0.5/live;password=S3cret;x=1", "rtsp://10.0.0.5/live;password=***;x=1"),
        # query parameters, any case
        ("http://cam/x?user=a&password=b", "http://cam/x?user=a&password=***"),
        ("http://cam/x?PASSWD=b&ok=1", "http://cam/x?PASSWD=***&ok=1"),
        ("http://cam/x?pwd=b", "http://cam/x?pwd=***"),
        ("http://cam/x?pass=b", "http://cam/x?pass=***"),
        ("http://cam/x?Auth=b", "http://cam/x?Auth=***"),
        ("http://cam/x?key=b", "http://cam/x?key=***"),
        ("http://cam/x?Token=b", "http://cam/x?Token=***"),
        ("http://cam/x?secret=b", "http://cam/x?secret=***"),
        ("http://cam/x?api_key=b", "http://cam/x?api_key=***"),
        ("http://cam/x?apiKey=b", "http://cam/x?apiKey=***"),
        ("http://cam/x?access_token=b", "http://cam/x?access_token=***"),
        ("http://cam/x?sig=b&sv=2", "http://cam/x?sig=***&sv=2"),
        ("http://cam/x?X-Amz-Signature=b", "http://cam/x?X-Amz-Signature=***"),
        ("http://cam/x?client_secret=b", "http://cam/x?client_secret=***"),
        ("http://cam/x?monkey=b&bypass=c", "http://cam/x?monkey=b&bypass=c"),
        # webhooks: only scheme://host/…
        ("https://hooks.slack.com/services/T000/B000/XXXXSECRET", "https://hooks.slack.com/…"),
        ("https://discord.com/api/webhooks/123/tok-en", "https://discord.com/…"),
        (
            "https://acme.webhook.office.com/webhookb2/abc@def/IncomingWebhook/xyz/1",
            "https://acme.webhook.office.com/…",
        ),
        # URLs inside sentences, several in one value (CAMERAS)
        (
            "CAMERAS='gate=rtsp://admin:S3cret@10.0.0.5/s1,/no/such.mp4' is invalid",
            "CAMERAS='gate=rtsp://***@10.0.0.5/s1,/no/such.mp4' is invalid",
        ),
        ("rtsp://a:pw1@h1/x,rtsp://c:pw2@h2/y", "rtsp://***@h1/x,rtsp://***@h2/y"),
        ("cannot open rtsp://u:S3cret@cam/s1: check", "cannot open rtsp://***@cam/s1: check"),
        # a URL without its scheme
        (
            "video file 'admin:S3cret@10.0.0.5/s1' does not exist",
            "video file '***@10.0.0.5/s1' does not exist",
        ),
        # secrets in plain sentences; ordinary settings left alone
        ("login with password=hunter22 failed", "login with password=*** failed"),
        ("AUTH=off, key=person_conf, API_KEY=<hidden>", "AUTH=off, key=person_conf, API_KEY=<hidden>"),
        ("mail me@example.com at 12:00", "mail me@example.com at 12:00"),
        # names cameras and services use for credentials (issue 18)
        ("http://cam/cgi?usr=admin&pw=S3cret", "http://cam/cgi?usr=admin&pw=***"),
        (
            "http://nvr/login.cgi?loginUse=admin&loginPass=S3cret",
            "http://nvr/login.cgi?loginUse=admin&loginPass=***",
        ),
        ("https://gitlab/api?privateToken=glpat-123", "https://gitlab/api?privateToken=***"),
        ("wss://cam/stream?jwt=eyJhbGciOi.eyJzdWIi.c2ln", "wss://cam/stream?jwt=***"),
        ("https://h/x?Authorization=Bearer%20abc", "https://h/x?Authorization=***"),
        (
            "sent pw=S3cret loginPass=S3cret privateToken=T0k jwt=a.b.c",
            "sent pw=*** loginPass=*** privateToken=*** jwt=***",
        ),
        ("Authorization=Bearer issc_abcdefgh", "Authorization=Bearer ***"),
        ("header Authorization: Basic YWRtaW46cw== refused", "header Authorization: Basic *** refused"),
        (
            "GET /api/plates with Bearer issc_Zx9-abcdefghijkl failed",
            "GET /api/plates with Bearer *** failed",
        ),
        ("token issc_" + "Ab1_-" * 9 + " leaked", "token *** leaked"),
        # a mistyped scheme (no colon): the error quoting it still hides the password
        (
            "'postgresql+psycopg//u:Secr3tPw@h/db' cannot be opened",
            "'postgresql+psycopg//***@h/db' cannot be opened",
        ),
        # ordinary words stay
        (
            "issc_session cookie, a bearer of news, power=5 mpw=2",
            "issc_session cookie, a bearer of news, power=5 mpw=2",
        ),
    ],
)
def test_redact_hides_credentials(text: str, shown: str) -> None:
    assert redact.redact(text) == shown
    assert redact.redact(shown) == shown  # redacting twice changes nothing


def test_redact_url_of_config_is_the_same_function() -> None:
    from issc.config import redact_url

    assert redact_url("rtsp://admin:S3cret@cam/s1") == "rtsp://***@cam/s1"


def test_registered_secrets_are_hidden_anywhere() -> None:
    # given secrets the process knows
    redact.register("rf_0123456789", "p@ss/w#rd", None, "", "abc")
    # then they are hidden in any text, also percent-encoded; short ones are not registered
    assert redact.redact("key rf_0123456789 in a traceback") == "key *** in a traceback"
    assert redact.redact("sent p%40ss%2Fw%23rd to the camera") == "sent *** to the camera"
    assert redact.redact("abc stays") == "abc stays"


def test_load_settings_registers_the_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    # given settings with an API key, camera passwords and a webhook with a secret path
    monkeypatch.setenv("API_KEY", "rf_KEY_0123456789")
    monkeypatch.setenv(
        "CAMERAS",
        "gate=rtsp://admin:S3cretPw@10.0.0.5/s1,dvr=http://10.0.0.6/user=admin_password=DvrPw77_channel=1",
    )
    monkeypatch.setenv("WEBHOOK_URL", "https://hooks.slack.com/services/T00/B00/WebhookTok3n")
    load_settings()
    # then each of them is hidden wherever it appears later
    text = "rf_KEY_0123456789 S3cretPw DvrPw77 /services/T00/B00/WebhookTok3n WebhookTok3n?"
    shown = redact.redact(text)
    for secret in ("rf_KEY_0123456789", "S3cretPw", "DvrPw77", "WebhookTok3n"):
        assert secret not in shown


def test_cameras_error_does_not_print_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAMERAS", "gate=rtsp://admin:S3cret@10.0.0.5/s1,/no/such.mp4")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert "S3cret" not in message and "admin" not in message
    assert "/no/such.mp4" in message and "does not exist" in message


def test_log_records_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    # given a logger with the redacting filter on its handler
    redact.register("rf_KEY_0123456789")
    logger = logging.getLogger("issc.test_redact")
    handler = logging.Handler()
    seen: list[str] = []
    handler.emit = lambda record: seen.append(handler.format(record))  # type: ignore[method-assign]
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.addFilter(redact.RedactingFilter())
    logger.addHandler(handler)
    try:
        try:
            raise RuntimeError("open rtsp://u:S3cret@cam/s1 with rf_KEY_0123456789")
        except RuntimeError:
            logger.exception("camera %s failed", "rtsp://u:S3cret@cam/s1")
    finally:
        logger.removeHandler(handler)
    # then neither the message nor the traceback holds a secret
    assert seen and "rtsp://***@cam/s1" in seen[0]
    assert "S3cret" not in seen[0] and "rf_KEY_0123456789" not in seen[0]
    assert "RuntimeError" in seen[0]  # the traceback is still there


def test_install_log_redaction_covers_root_and_library_loggers() -> None:
    # given a handler on the root logger installed before the redaction
    root = logging.getLogger()
    seen: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: seen.append(record.getMessage())  # type: ignore[method-assign]
    root.addHandler(handler)
    try:
        redact.install_log_redaction()
        assert any(isinstance(f, redact.RedactingFilter) for f in handler.filters)
        # when a library logger made later logs a URL with a password
        logging.getLogger("some.library.made.later").warning("GET http://u:S3cret@cam/x?token=T0k")
    finally:
        root.removeHandler(handler)
    assert seen == ["GET http://***@cam/x?token=***"]


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://hooks.slack.com/services/T000/B000/XXXX", "https://hooks.slack.com/…"),
        ("https://user:pw@example.org/hook?token=x", "https://example.org/…"),
        ("not a url", "<webhook>"),
    ],
)
def test_redact_webhook_keeps_scheme_and_host_only(url: str, shown: str) -> None:
    assert redact.redact_webhook(url) == shown


@pytest.mark.parametrize(
    "text",
    [
        "a" * 100_000,
        "a_" * 50_000,
        "a:" * 50_000,
        "x@" * 50_000,
        "http://" + "a:b@" * 20_000,
        "http://a:" + "b" * 100_000,
        "rtsp://" + "a/" * 50_000 + "@h",
        "http://h/?" + "password=1&" * 10_000,
        "Authorization=" * 10_000,
        "Bearer " * 15_000,
        "issc_" * 20_000,
        "//a:" * 25_000,
        "//a:b" + "c" * 100_000,
    ],
    ids=lambda t: t[:12],
)
def test_redact_takes_linear_time_on_hostile_text(text: str) -> None:
    # a log line or setting made to make a regular expression backtrack costs no more than a scan
    started = time.perf_counter()
    redact.redact(text)
    assert time.perf_counter() - started < 1.0


def test_log_record_arguments_stay_a_tuple_for_formatters_that_read_them() -> None:
    # uvicorn's access formatter unpacks record.args: they stay, redacted
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/cam?token=T0kenValue", "1.1", 200), None,
    )  # fmt: skip
    redact.redact_record(record)
    assert record.args == ("127.0.0.1:5000", "GET", "/cam?token=***", "1.1", 200)
    assert record.getMessage() == '127.0.0.1:5000 - "GET /cam?token=*** HTTP/1.1" 200'


# --- errors that reach users: /api/health, the page banner, dead letters -----------------------


def test_store_errors_reach_health_redacted(tmp_path: Path, no_thread_leak: None) -> None:
    from issc.config import load_settings
    from issc.health import health_json
    from issc.service import Service
    from tests.test_store import plate_event

    # given a service whose database refuses plate events with a message quoting a credential
    settings = load_settings(cameras="demo", detector="none", database_url=f"sqlite:///{tmp_path}/issc.db")
    service = Service.build(settings)
    try:
        with service.store.engine.begin() as conn:
            conn.exec_driver_sql(
                "CREATE TRIGGER leak BEFORE INSERT ON plate_events BEGIN SELECT RAISE(ABORT, "
                "'replica postgresql://app:Leak3dPw@db/x refused, Authorization: Bearer issc_"
                + "k" * 40
                + "'); END"
            )
        # when an event is written (it is set aside) and the store's error is a driver's line
        service.store.add_plate_event(plate_event(0))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not service.store.dead_letters():
            time.sleep(0.05)
        letters = service.store.dead_letters()
        with service.store._lock:  # what a failing server's message looks like when it quotes a URL
            service.store._error = "OperationalError: could not reach postgresql://app:Leak3dPw@db/x"
        body = health_json(service)
        with service.store._lock:
            service.store._error = None
    finally:
        service.stop()
    # then neither the dead letter nor /api/health's store message shows the secrets
    assert letters and "refused" in letters[0].error
    shown = letters[0].error + " " + body["store"]["message"]
    assert "Leak3dPw" not in shown and "k" * 40 not in shown
    assert "postgresql://***@db/x" in body["store"]["message"]


def test_worker_camera_errors_reach_health_redacted() -> None:
    from issc.health import camera_json
    from issc.types import CameraState, CameraStatus

    # given a camera status as a remote worker reported it (its error quotes the URL it was handed)
    status = CameraStatus(
        id="0", name="gate", source_kind="url", source="rtsp://cam/s1", state=CameraState.OFFLINE,
        fps=0.0, last_frame_age_s=None, dropped=0,
        last_error="worker w1 does not answer at http://ops:Wk3rPw@10.0.0.9:8600 (timeout)",
    )  # fmt: skip
    # then its JSON hides the credential
    assert (
        camera_json(status)["last_error"] == "worker w1 does not answer at http://***@10.0.0.9:8600 (timeout)"
    )
