"""http(s) cameras (``issc.sources.http``): MJPEG variants, snapshots, credentials, errors, timeouts."""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import free_port
from mjpeg_server import MjpegCamera

from issc.config import CameraConfig
from issc.errors import SourceError
from issc.sources import HttpSource, make_source
from issc.sources import http as http_source

USER, PASSWORD, QUOTED = "admin", "p@ss:w/rd", "p%40ss%3Aw%2Frd"
FRAMES = 8


def jpeg(index: int) -> bytes:
    """A 160x120 picture whose brightness tells its index."""
    return cv2.imencode(".jpg", np.full((120, 160, 3), 20 * index, np.uint8))[1].tobytes()


def digest_response(method: str, fields: dict[str, str]) -> str:
    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()

    ha1, ha2 = md5(f"{USER}:cam:{PASSWORD}"), md5(f"{method}:{fields.get('uri', '')}")
    return md5(f"{ha1}:{fields.get('nonce')}:{fields.get('nc')}:{fields.get('cnonce')}:auth:{ha2}")


class Camera(BaseHTTPRequestHandler):
    """``/<auth>/<kind>``: auth is open, basic or digest; kind says what the camera sends."""

    protocol_version = "HTTP/1.0"

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        auth, kind = self.path.strip("/").split("/")
        if auth != "open" and not self._authorised(auth):
            challenge = (
                'Basic realm="cam"' if auth == "basic" else 'Digest realm="cam", nonce="n1", qop="auth"'
            )
            self._reply(401, "text/plain", b"", {"WWW-Authenticate": challenge})
        elif kind.startswith("status"):
            self._reply(int(kind[6:]), "text/plain", b"")
        elif kind == "html":
            self._reply(200, "text/html", b"<html><body>Please log in</body></html>" * 20)
        elif kind == "snapshot":
            self._reply(200, "image/jpeg", jpeg(1))
        else:
            self._stream(kind)

    def _authorised(self, auth: str) -> bool:
        header = self.headers.get("Authorization", "")
        if auth == "basic":
            return header == "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        if not header.startswith("Digest "):
            return False
        pairs = (item.strip().partition("=") for item in header.removeprefix("Digest ").split(","))
        fields = {key: value.strip('"') for key, _, value in pairs}
        return fields.get("response") == digest_response("GET", fields)

    def _reply(
        self, status: int, content_type: str, body: bytes, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _stream(self, kind: str) -> None:
        # kind: "sized" / "bare" (no Content-Length) / "dashes" (boundary declared with "--") /
        # "stall" (then silence) / "empty" (no part) / anything else ends after FRAMES parts.
        declared = "--myboundary" if kind == "dashes" else "myboundary"
        self.send_response(200)
        self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={declared}")
        self.end_headers()
        try:
            for index in range(0 if kind == "empty" else FRAMES):
                body = jpeg(index)
                length = b"" if kind == "bare" else b"Content-Length: %d\r\n" % len(body)
                self.wfile.write(
                    b"--myboundary\r\nContent-Type: image/jpeg\r\n" + length + b"\r\n" + body + b"\r\n"
                )
                time.sleep(0.02)
            if kind == "stall":
                time.sleep(5)
        except OSError:
            pass


@pytest.fixture(scope="module")
def camera() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Camera)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="test-camera", daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def read_all(url: str) -> tuple[list[int], str]:
    """The brightness index of every frame read, and the error that ended the stream."""
    source = HttpSource(url, stop=threading.Event())
    source.open()
    indexes = []
    try:
        while True:
            indexes.append(round(source.read().mean() / 20))
    except SourceError as exc:
        return indexes, str(exc)
    finally:
        source.close()


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("sized", list(range(FRAMES))),  # as our /video_feed route sends it
        ("dashes", list(range(FRAMES))),  # boundary declared with its dashes, as some cameras do
        ("bare", list(range(FRAMES - 1))),  # no Content-Length: a part ends at the next boundary
    ],
)
def test_mjpeg_streams_are_read_frame_by_frame_until_the_camera_closes(
    camera: str, kind: str, expected: list[int]
) -> None:
    indexes, error = read_all(f"http://{camera}/open/{kind}")
    assert indexes == expected
    assert error.endswith("closed the stream")


@pytest.mark.parametrize("auth", ["basic", "digest"])
def test_credentials_in_the_url_answer_basic_and_digest_challenges(camera: str, auth: str) -> None:
    indexes, _ = read_all(f"http://{USER}:{QUOTED}@{camera}/{auth}/sized")
    assert indexes == list(range(FRAMES))


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("basic/sized", "refused access (HTTP 401): check the credentials"),
        ("open/status403", "refused access (HTTP 403): check the credentials"),
        ("open/status404", "answered HTTP 404"),
        ("open/status503", "answered HTTP 5xx"),
        ("open/html", "sends no video that FFmpeg can read"),
        ("open/empty", "closed the connection before sending a picture"),
    ],
)
def test_a_camera_that_refuses_or_sends_no_video_gets_a_clear_message_without_the_password(
    camera: str, path: str, message: str
) -> None:
    source = HttpSource(f"http://{USER}:wrong-{QUOTED}@{camera}/{path}", stop=threading.Event())
    with pytest.raises(SourceError) as caught:
        source.open()
    assert str(caught.value) == f"http://***@{camera}/{path} {message}"
    assert "wrong" not in str(caught.value) and caught.value.__cause__ is None


def test_a_snapshot_url_is_polled(camera: str) -> None:
    source = HttpSource(f"http://{camera}/open/snapshot", stop=threading.Event())
    source.open()
    start = time.monotonic()
    images = [source.read() for _ in range(3)]
    source.close()
    assert all(image.shape == (120, 160, 3) for image in images)
    assert time.monotonic() - start >= 2 * http_source.SNAPSHOT_INTERVAL_S - 0.02


def test_a_stalled_stream_raises_after_the_read_timeout(camera: str, monkeypatch) -> None:
    monkeypatch.setattr(http_source, "NETWORK_TIMEOUT_S", 1.0)
    source = HttpSource(f"http://{camera}/open/stall", stop=threading.Event())
    source.open()
    for _ in range(FRAMES):
        source.read()
    start = time.monotonic()
    with pytest.raises(SourceError, match=r"stopped sending frames \(timed out\)"):
        source.read()
    assert time.monotonic() - start < 10.0  # the 1 s read timeout, not a hang
    source.close()


def test_refused_connection_and_unreadable_open_say_cannot_connect() -> None:
    with pytest.raises(SourceError, match=r"^cannot connect to http://\*\*\*@127\.0\.0\.1:9/x: "):
        HttpSource(f"http://{USER}:{QUOTED}@127.0.0.1:9/x", stop=threading.Event()).open()


def test_read_before_open_is_an_error() -> None:
    with pytest.raises(SourceError, match="is not open"):
        HttpSource("http://127.0.0.1:9/x", stop=threading.Event()).read()


def test_make_source_picks_http_for_http_urls(camera: str) -> None:
    config = CameraConfig(id="0", name="gate", kind="url", source=f"HTTP://{camera}/open/sized")
    assert isinstance(make_source(config, threading.Event()), HttpSource)


def self_signed(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def test_https_certificates_are_verified(tmp_path: Path, monkeypatch) -> None:
    # Given an https camera with a self-signed certificate
    cert, key = self_signed(tmp_path)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Camera)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, name="test-https-camera", daemon=True).start()
    url = f"https://127.0.0.1:{server.server_address[1]}/open/sized"
    try:
        # Then it is refused while its certificate is not trusted, as requests did
        with pytest.raises(SourceError, match=r"cannot connect .* certificate trusted"):
            HttpSource(url, stop=threading.Event()).open()
        # And read once it is
        monkeypatch.setitem(http_source.FFMPEG_OPTIONS, "ca_file", str(cert))
        indexes, _ = read_all(url)
        assert indexes == list(range(FRAMES))
    finally:
        server.shutdown()
        server.server_close()


def test_a_camera_that_loses_power_is_reported_and_then_cannot_be_reached() -> None:
    camera = MjpegCamera(free_port()).start()
    source = HttpSource(camera.url, stop=threading.Event())
    try:
        source.open()
        image = source.read()
        assert image.shape == (240, 320, 3)
        camera.kill()
        with pytest.raises(SourceError):
            for _ in range(100):
                source.read()
    finally:
        source.close()
        camera.kill()
    with pytest.raises(SourceError, match="cannot connect"):
        HttpSource(camera.url, stop=threading.Event()).open()
