"""Evidence packs: the ZIP of a set of plate events, its manifest's SHA-256 checked file by file, from
the store, from ``/api/plates/evidence.zip`` on a real server, and from the Plates page in Chromium."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import zipfile
from pathlib import Path
from urllib.parse import parse_qsl, urljoin, urlsplit

import pytest
import requests
from test_browser_history import wait_for_rerun
from test_pages_history import seed_history

from issc.evidence import MANIFEST, write_pack
from issc.store import CSV_COLUMNS, PlateFilter, Store


def check_pack(data: bytes) -> tuple[dict, dict[str, bytes]]:
    """The manifest and the files of a pack, after checking every listed hash and size."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    manifest = json.loads(files.pop(MANIFEST))
    assert set(manifest["files"]) == set(files)  # every file listed, nothing unlisted
    for name, meta in manifest["files"].items():
        assert hashlib.sha256(files[name]).hexdigest() == meta["sha256"], name
        assert len(files[name]) == meta["bytes"], name
    return manifest, files


def test_a_pack_of_a_filter_holds_csv_images_reads_and_audit(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/h.db"
    seed_history(url)
    with Store(url) as store:
        gate = store.search_plates(PlateFilter(camera="gate"), limit=10)
        store.correct_plate(gate[0].id, text="LS15EBD", confirmed=True, user="ann")
        buffer = io.BytesIO()
        pack = write_pack(store, buffer, flt=PlateFilter(camera="gate"), made_by="ann")
    manifest, files = check_pack(buffer.getvalue())
    assert pack.events == manifest["events"] == 3 and not manifest["truncated"]
    rows = list(csv.reader(io.StringIO(files["events.csv"].decode())))
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == 4
    first = json.loads(files[f"events/{gate[0].id}/event.json"])
    assert first["text"] == "LS15EBD" and [a["user"] for a in first["audit"]] == ["ann"]
    assert files[f"events/{gate[0].id}/crop.jpg"][:2] == b"\xff\xd8"
    assert manifest["made_by"] == "ann" and manifest["filter"]["camera"] == "gate"


def test_a_pack_is_capped(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/h.db"
    seed_history(url)
    with Store(url) as store:
        buffer = io.BytesIO()
        pack = write_pack(store, buffer, limit=5)
    manifest, files = check_pack(buffer.getvalue())
    assert pack.events == 5 and manifest["truncated"] and manifest["matched"] > 5
    assert len({name.split("/")[1] for name in files if name.startswith("events/")}) == 5


def test_the_route_streams_a_pack_whose_hashes_match(streamlit_server, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/history.db"
    seed_history(url)
    server = streamlit_server({"CAMERAS": "demo", "DETECTOR": "none", "DATABASE_URL": url})
    answer = requests.get(server.url + "/api/plates/evidence.zip?camera=gate&since=2000-01-01", timeout=30)
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/zip"
    assert answer.headers["content-disposition"].startswith('attachment; filename="evidence-')
    manifest, _ = check_pack(answer.content)
    assert manifest["events"] == 3
    ids = ",".join(str(i) for i in manifest["ids"] or []) or "1,2"
    picked = requests.get(server.url + f"/api/plates/evidence.zip?ids={ids}", timeout=30)
    assert check_pack(picked.content)[0]["ids"] == [int(i) for i in ids.split(",")]
    bad = requests.get(server.url + "/api/plates/evidence.zip?ids=1,x", timeout=10)
    assert bad.status_code == 400 and bad.json()["parameter"] == "ids"


@pytest.mark.browser
@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
def test_the_plates_page_downloads_a_pack_whose_hashes_match(
    streamlit_server, browser, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/history.db"
    seed_history(url)
    server = streamlit_server({"CAMERAS": "demo", "DETECTOR": "none", "DATABASE_URL": url})
    page = browser
    page.goto(server.url + "/plates?camera=gate&range=All")
    page.get_by_text("3 plates match").wait_for(timeout=30_000)
    wait_for_rerun(page)
    # the page builds no file: its link opens the streamed route (a new tab), with the page's filter
    link = page.get_by_role("link", name="Evidence pack")
    href = link.get_attribute("href", timeout=30_000)
    assert href is not None and urlsplit(href).path == "/api/plates/evidence.zip"
    assert ("camera", "gate") in parse_qsl(urlsplit(href).query)
    answer = page.request.get(urljoin(server.url + "/", href), timeout=30_000)  # the browser's cookies
    assert answer.status == 200
    filename = answer.headers["content-disposition"].split("filename=")[1].strip('"')
    assert filename.startswith("evidence-") and filename.endswith(".zip")
    manifest, files = check_pack(answer.body())
    assert manifest["events"] == 3 and "events.csv" in files
