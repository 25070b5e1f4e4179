"""Cameras managed at run time: the stored records (SQLite and PostgreSQL), the source test, and
``/api/cameras`` against a real ``streamlit run app.py`` with real clips from ``../shared/data``."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import requests
from conftest import PLATE_CLIP
from test_auth import run_cli

from issc.config import CameraConfig
from issc.sources.probe import probe_source
from issc.store import create_engine
from issc.store.cameras import CameraTable, camera_changes, split_credentials
from issc.store.migrate import migrate


@pytest.fixture(params=["sqlite", "postgresql"])
def table(request: pytest.FixtureRequest, tmp_path: Path) -> CameraTable:
    if request.param == "postgresql":
        url = request.getfixturevalue("empty_postgres_url")
    else:
        url = f"sqlite:///{tmp_path}/cams.db"
    engine = create_engine(url)
    migrate(engine)
    yield CameraTable(engine)
    engine.dispose()


def test_credentials_are_stored_apart_and_never_shown(table: CameraTable) -> None:
    # Given a camera added with a user and password in its URL
    record = table.add_camera({"name": "gate2", "source": "rtsp://bob:s3cr%40t@10.0.0.5:554/live"}, "alice")
    # Then the source column holds no credentials, and what is shown hides them
    assert record.source == "rtsp://10.0.0.5:554/live" and record.credentials == "bob:s3cr%40t"
    assert record.display_source == "rtsp://***@10.0.0.5:554/live"
    assert "s3cr" not in str(record.as_json()) and "bob" not in str(record.as_json())
    assert record.config().source == "rtsp://bob:s3cr%40t@10.0.0.5:554/live"
    # When the shown form is sent back with a new path, the stored credentials stay
    again = table.update_camera(
        "gate2", {"source": "rtsp://***@10.0.0.5:554/main", "notes": "north"}, "alice"
    )
    assert again is not None and again.config().source == "rtsp://bob:s3cr%40t@10.0.0.5:554/main"
    # When only the password is replaced, the user stays
    changed = table.update_camera("gate2", {"password": "n3w pass"}, "carol")
    assert changed is not None and changed.credentials == "bob:n3w%20pass" and changed.updated_by == "carol"
    assert table.get_camera("gate2") == changed
    assert [r.name for r in table.list_cameras()] == ["gate2"]
    assert table.remove_camera("gate2") and table.get_camera("gate2") is None
    assert not table.remove_camera("gate2")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"source": "demo"}, "name must be"),
        ({"name": "2gate", "source": "demo"}, "name must be"),
        ({"name": "gate"}, "source is missing"),
        ({"name": "gate", "source": "ftp://x/y"}, "unsupported scheme"),
        ({"name": "gate", "source": "/no/such/clip.mp4"}, "does not exist"),
        ({"name": "gate", "source": "demo", "detect_fps": 0}, "detect_fps must be above 0"),
        ({"name": "gate", "source": "demo", "detect_fps": True}, "detect_fps must be a number"),
        ({"name": "gate", "source": "demo", "plate_region": "mars"}, "plate_region must be one of"),
        ({"name": "gate", "source": "demo", "enabled": "yes"}, "enabled must be true or false"),
        ({"name": "gate", "source": "demo", "colour": "red"}, "Unknown field 'colour'"),
        ({"name": "gate", "source": "demo", "password": "x"}, "password applies only to a URL"),
    ],
)
def test_bad_fields_get_one_sentence(fields: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        camera_changes(fields, None)


def test_split_credentials() -> None:
    assert split_credentials("rtsp://u:p@h/s") == ("rtsp://h/s", "u:p")
    assert split_credentials("http://h:8080/x") == ("http://h:8080/x", None)
    assert split_credentials("/videos/a.mp4") == ("/videos/a.mp4", None)


def test_probe_reports_a_clip_and_the_reason_of_a_refused_rtsp(videos_dir: Path) -> None:
    # Given a real clip: the first picture, its size, the measured rate and the codec
    clip = CameraConfig("t", "t", "file", str(videos_dir / PLATE_CLIP))
    result = probe_source(clip, read_s=1.0)
    assert result.ok and result.reason == ""
    picture = cv2.imdecode(np.frombuffer(result.jpeg or b"", np.uint8), cv2.IMREAD_COLOR)
    assert picture.shape[:2] == (result.height, result.width) and result.width > 0
    assert result.fps > 5 and result.codec
    # Given an RTSP address where nothing listens: the exact reason, no credentials
    refused = probe_source(CameraConfig("r", "r", "url", "rtsp://bob:pw@127.0.0.1:9/stream"))
    assert not refused.ok and "connection refused by 127.0.0.1:9" in refused.reason
    assert "pw" not in refused.reason and refused.seconds < 15


def _cameras(server) -> dict[str, dict]:
    return {c["name"]: c for c in requests.get(server.url + "/api/cameras", timeout=10).json()}


def _wait_for(check, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.3)
    return False


def test_api_adds_edits_tests_and_removes_a_camera_while_others_run(
    streamlit_server, videos_dir: Path
) -> None:
    server = streamlit_server({"CAMERAS": "street=demo", "DETECTOR": "none"})
    api = server.url + "/api/cameras"
    assert _wait_for(lambda: _cameras(server)["street"]["state"] == "online", 20)
    street = _cameras(server)["street"]
    assert street["origin"] == "configuration"

    # When gate2 is added with a real clip
    clip = str(videos_dir / PLATE_CLIP)
    added = requests.post(api, json={"name": "gate2", "source": clip, "plate_region": "uk"}, timeout=10)
    assert added.status_code == 201, added.text
    assert added.json()["plate_region"] == "uk"
    # Then it streams within 10 s, and the configured camera keeps its rate
    assert _wait_for(lambda: _cameras(server).get("gate2", {}).get("state") == "online", 10)
    cams = _cameras(server)
    assert cams["gate2"]["origin"] == "stored" and cams["gate2"]["id"] == "gate2"
    assert cams["street"]["state"] == "online" and cams["street"]["fps"] > street["fps"] * 0.5
    frame = requests.get(server.url + "/video_feed/gate2/", stream=True, timeout=10)
    assert frame.status_code == 200
    frame.close()

    # Bad input gets one sentence; unknown and configured cameras are refused
    assert requests.post(api, json={"name": "gate2", "source": clip}, timeout=10).status_code == 400
    assert requests.post(api, json={"name": "street", "source": clip}, timeout=10).status_code == 400
    bad = requests.post(api, data="{", headers={"Content-Type": "application/json"}, timeout=10)
    assert bad.status_code == 400 and bad.json()["error"] == "The body must be a JSON object."
    assert requests.patch(api + "/nope", json={"notes": "x"}, timeout=10).status_code == 404
    assert requests.delete(api + "/nope", timeout=10).status_code == 404
    assert requests.patch(api + "/street", json={"notes": "x"}, timeout=10).status_code == 409

    # A Test of an unreachable RTSP URL says why; a Test of a clip shows its first picture
    refused = requests.post(api + "/test", json={"source": "rtsp://127.0.0.1:9/s"}, timeout=30).json()
    assert refused["ok"] is False and "connection refused" in refused["reason"]
    tested = requests.post(api + "/test", json={"name": "gate2"}, timeout=30).json()
    assert tested["ok"] and tested["width"] > 0 and base64.b64decode(tested["jpeg_base64"])[:2] == b"\xff\xd8"

    # Disabling stops it (listed as disabled); enabling starts it again
    assert requests.patch(api + "/gate2", json={"enabled": False}, timeout=20).status_code == 200
    assert _cameras(server)["gate2"]["state"] == "disabled"
    assert requests.patch(api + "/gate2", json={"enabled": True}, timeout=20).status_code == 200
    assert _wait_for(lambda: _cameras(server)["gate2"]["state"] == "online", 10)

    # Removing stops it; the configured camera never stopped
    assert requests.delete(api + "/gate2", timeout=20).status_code == 204
    assert "gate2" not in _cameras(server)
    assert requests.get(server.url + "/video_feed/gate2/", timeout=10).status_code == 404
    assert _cameras(server)["street"]["state"] == "online"


def test_stored_cameras_start_with_the_service_and_viewers_may_not_change_them(
    streamlit_server, tmp_path: Path, videos_dir: Path
) -> None:
    url = f"sqlite:///{tmp_path}/history.db"
    engine = create_engine(url)
    migrate(engine)
    CameraTable(engine).add_camera({"name": "gate2", "source": str(videos_dir / PLATE_CLIP)}, "setup")
    engine.dispose()
    tokens = {
        role: run_cli(url, "token", "create", "--name", f"{role}-script", "--role", role).stdout.strip()
        for role in ("viewer", "admin")
    }
    server = streamlit_server({"CAMERAS": "demo", "DETECTOR": "none", "DATABASE_URL": url, "AUTH": "on"})
    viewer = {"Authorization": f"Bearer {tokens['viewer']}"}
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    api = server.url + "/api/cameras"

    def states() -> dict[str, str]:
        return {c["name"]: c["state"] for c in requests.get(api, headers=viewer, timeout=10).json()}

    assert _wait_for(lambda: states().get("gate2") == "online", 20)
    body = {"name": "gate3", "source": "demo"}
    assert requests.post(api, json=body, headers=viewer, timeout=10).status_code == 403
    assert requests.post(api + "/test", json=body, headers=viewer, timeout=10).status_code == 403
    assert requests.delete(api + "/gate2", headers=viewer, timeout=10).status_code == 403
    added = requests.post(api, json=body, headers=admin, timeout=10)
    assert added.status_code == 201 and added.json()["updated_by"] == "admin-script"
    assert _wait_for(lambda: states().get("gate3") == "online", 10)


def test_editing_a_cameras_region_changes_how_its_plates_are_read(tmp_path: Path, videos_dir: Path) -> None:
    from issc.config import load_settings
    from issc.plates.regions import plate_rules
    from issc.service import Service

    # Given a running service whose stored camera reads UK plates
    settings = load_settings(cameras="street=demo", database_url=f"sqlite:///{tmp_path}/h.db")
    service = Service.build(settings).start()
    try:
        clip = str(videos_dir / PLATE_CLIP)
        service.add_camera({"name": "gate2", "source": clip, "plate_region": "uk"}, "alice")
        before = service.engine.camera("gate2").analyzer
        uk = plate_rules(settings.plates.model_copy(update={"plate_region": "uk"}))
        assert repr(before.rules.formats) == repr(uk.formats) != repr(plate_rules(settings.plates).formats)
        assert not before.voter.reader.rules.o_is_zero  # the voter's reader reads with it
        street = service.engine.camera("0")
        # When its region becomes "us" (plates never use the letter O there)
        service.update_camera("gate2", {"plate_region": "us"}, "alice")
        after = service.engine.camera("gate2").analyzer
        # Then its reader reads O as 0, the configured camera was never restarted
        assert after.voter.reader.rules.apply("7OKY123") == "70KY123"
        assert before.voter.reader.rules.apply("7OKY123") == "7OKY123"
        assert service.engine.camera("0") is street and street.threads[0].is_alive()
        assert repr(service.engine.camera("0").analyzer.rules.formats) == repr(
            plate_rules(settings.plates).formats
        )
    finally:
        service.stop()
