"""Regenerate the README screenshots from generated data only (no third-party media).

    .venv/bin/python scripts/screenshots.py

Seeds a history with plates drawn on the demo scene, starts the dashboard on three demo cameras
and takes the pictures in docs/ with Debian's Chromium.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from issc.sources import demo as sources  # noqa: E402
from issc.store import Store  # noqa: E402
from issc.types import PeopleCount, PlateEvent, PlateRead  # noqa: E402

CAMERAS = ["gate", "car-park", "street"]
PLATES = ["ISSC42", "AB12CDE", "KX65TRM", "RK755AJ", "BRA2E19", "GH07LMN", "ZX19QWE", "LS15EBC", "MN23OPQ"]
PLATE_BOX = (149, 256, 273, 290)  # where DemoSource draws the plate at t = 3 s


def scene(text: str):
    sources.DEMO_PLATE = text
    return sources.DemoSource(threading.Event()).render(3.0)


def seed(url: str) -> None:
    rng = random.Random(7)
    now = datetime.now(UTC)
    store = Store(url).start()
    for i in range(160):
        text = rng.choice(PLATES)
        image = scene(text)
        x0, y0, x1, y1 = PLATE_BOX
        crop = image[y0 - 8 : y1 + 8, x0 - 10 : x1 + 10]
        seen = now - timedelta(minutes=rng.randint(1, 7 * 24 * 60) * (1 if i > 20 else 0.02))
        conf = round(rng.uniform(0.55, 0.98), 3)
        misread = text.replace("B", "8", 1) if "B" in text and i % 3 == 0 else text
        voted = misread if i % 2 == 0 else text  # the reader voted the misread half of those times
        t = seen.timestamp()
        votes = (
            PlateRead(voted, conf, at=t - 3.2, source="locator"),
            PlateRead(misread, round(conf * 0.8, 3), at=t - 2.1, source="ocr"),
            PlateRead(text, round(conf * 0.7, 3), at=t - 1.0, source="ocr"),
        )
        weak = [i for i, (a, b) in enumerate(zip(text, misread, strict=True)) if a != b]
        char_conf = tuple(0.45 if j in weak else round(rng.uniform(0.85, 0.99), 2) for j in range(len(text)))
        store.add_plate_event(
            PlateEvent(
                camera=rng.choice(CAMERAS),
                first_seen=seen - timedelta(seconds=4),
                last_seen=seen,
                text=voted,
                confidence=conf,
                reads=len(votes),
                votes=votes,
                char_conf=char_conf,
                box=PLATE_BOX,
                crop_jpeg=cv2.imencode(".jpg", crop)[1].tobytes(),
                snapshot_jpeg=cv2.imencode(".jpg", image)[1].tobytes(),
                ocr_calls=rng.randint(2, 3),
                watchlist="stolen" if text == "KX65TRM" else None,
            )
        )
    for camera in CAMERAS:
        for m in range(0, 7 * 24 * 60, 30):
            minute = (now - timedelta(minutes=m)).replace(second=0, microsecond=0)
            store.add_people_count(PeopleCount(camera, minute, rng.randint(0, 6), rng.uniform(0, 3), 60))
    store.add_watchlist("KX65TRM", "stolen")
    store.add_watchlist("AB12CDE", "staff", 0)
    store.flush()
    # an analyst has reviewed some reads: a few corrections (8 read for B) and confirmations
    for n, row in enumerate(store.search_plates(limit=80)):
        meant = row.text.replace("8", "B", 1)
        if meant != row.text and meant in PLATES:
            store.correct_plate(row.id, text=meant, user="ana")
        elif n % 4 == 0:
            store.correct_plate(row.id, confirmed=True, user="ana")
    store.close()


def wait_for_plate_box(stream_url: str, seconds: float = 30.0) -> None:
    """Return once the stream shows an amber plate box in the middle third of the picture."""
    import numpy as np

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with requests.get(stream_url, stream=True, timeout=10) as response:
            data = b""
            for chunk in response.iter_content(65536):
                data += chunk
                start, end = data.find(b"\xff\xd8"), data.find(b"\xff\xd9")
                if 0 <= start < end:
                    break
        image = cv2.imdecode(np.frombuffer(data[start : end + 2], np.uint8), cv2.IMREAD_COLOR)
        amber = np.abs(image.astype(int) - (0, 176, 255)).sum(axis=2) < 60
        xs = np.nonzero(amber)[1]
        if len(xs) > 300 and image.shape[1] * 0.3 < xs.mean() < image.shape[1] * 0.6:
            return
        time.sleep(0.1)


def main() -> int:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/history.db"
        seed(url)
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "CAMERAS": ",".join(f"{c}=demo" for c in CAMERAS),
            "ISSC_CONFIG": f"{tmp}/none.toml",
        }
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                str(ROOT / "app.py"),
                "--server.port",
                "8597",
                "--server.headless",
                "true",
            ],
            cwd=tmp,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(120):
                try:
                    if requests.get("http://127.0.0.1:8597/_stcore/health", timeout=1).ok:
                        break
                except requests.RequestException:
                    time.sleep(0.5)
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path="/usr/bin/chromium",
                    args=[
                        "--no-sandbox",
                        "--disable-gpu",
                        "--disable-background-networking",
                        "--no-first-run",
                    ],
                )
                page = browser.new_page(viewport={"width": 1440, "height": 900})
                page.goto("http://127.0.0.1:8597/")
                page.wait_for_timeout(8_000)
                wait_for_plate_box("http://127.0.0.1:8597/video_feed/0/")
                page.screenshot(path=str(ROOT / "docs/live.png"), full_page=True)
                page.goto("http://127.0.0.1:8597/plates?range=7d")
                grid = page.locator('[data-testid="stDataFrame"]')
                grid.wait_for(timeout=30_000)
                page.wait_for_timeout(1500)
                box = grid.bounding_box()
                page.mouse.click(box["x"] + 16, box["y"] + 35 + 22)
                page.wait_for_timeout(3000)
                page.screenshot(path=str(ROOT / "docs/plates.png"), full_page=True)
                page.goto("http://127.0.0.1:8597/review")
                page.locator(".st-key-review_item").wait_for(timeout=30_000)
                page.wait_for_timeout(3000)
                page.screenshot(path=str(ROOT / "docs/review.png"), full_page=True)
                page.goto("http://127.0.0.1:8597/tuning")
                page.wait_for_timeout(8000)
                page.screenshot(path=str(ROOT / "docs/tuning.png"), full_page=True)
                page.goto("http://127.0.0.1:8597/watchlist")
                page.wait_for_timeout(4000)
                page.screenshot(path=str(ROOT / "docs/watchlist.png"), full_page=True)
                for path in ("cameras", "users", "analytics"):
                    page.goto(f"http://127.0.0.1:8597/{path}")
                    page.wait_for_timeout(6000)
                    page.screenshot(path=str(ROOT / f"docs/{path}.png"), full_page=True)
                browser.close()
        finally:
            server.terminate()
            server.wait(20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
