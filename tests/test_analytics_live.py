"""The issue's end-to-end check: a running dashboard (``streamlit run app.py`` on loopback) with the
intel clip as a camera and a zone PUT through the API around the table; after one play of the clip,
``/api/analytics/zones`` lists the visits, each with a dwell time.

The camera plays the clip's first 48 s (its first two visits, cut into the test's own folder), so
that the check takes under a minute rather than the whole clip's 139 s; every visit of the whole
clip is held against the hand count by ``tests/test_analytics_footage.py``.

The camera is stored disabled, given its zone, then enabled, so that the play starts at the clip's
first frame with the zone in place (a stored camera started later gets its stored lines and zones).
The live path analyses what it can keep up with on this machine (``DETECT_FPS`` 5 at most). What
the API must show holds whatever the load: visits within the play, each with a dwell time equal to
its end minus its start, one person at a time, no more visits than people. The count and the dwell
times against the hand count are asserted only on a quiet machine (with a 4 s band, looser than
the offline test's 2 s, ``tests/test_analytics_footage.py``), and printed always.
"""

from __future__ import annotations

import os
import time
from datetime import datetime
from pathlib import Path

import pytest
import requests
from conftest import cut_clip
from test_analytics_footage import DETECTOR_MISSES, INTEL_TRUTH, INTEL_ZONE
from test_detect_ssd import needs_model

CLIP = "intel_one-by-one-person-detection.mp4"
PLAY_S = 48.0  # the part played: frames 0-479 at 10 fps, two whole visits (the second ends at 44.3 s)
TRUTH = [visit for visit in INTEL_TRUTH if visit[1] < PLAY_S]
#: Dwell band of the live check: the offline test holds 2 s; a live run on a loaded 2-core machine
#: analyses fewer frames a second, which moves entries and exits by up to a few frames.
LIVE_DWELL_S = 4.0


@needs_model
@pytest.mark.slow
def test_after_one_play_the_api_lists_each_visit_with_its_dwell(
    streamlit_server, videos_dir: Path, tmp_path: Path
) -> None:
    if not (videos_dir / CLIP).is_file():
        pytest.skip(f"{CLIP} is not in {videos_dir}")
    clip = cut_clip(videos_dir / CLIP, tmp_path / "intel-48s.mp4", seconds=PLAY_S)
    server = streamlit_server({"CAMERAS": "street=demo", "DETECTOR": "local"})
    api = server.url + "/api"
    # given the intel clip stored as a camera, not yet running
    added = requests.post(
        f"{api}/cameras", json={"name": "intel", "source": str(clip), "enabled": False}, timeout=20
    )
    assert added.status_code in (200, 201), added.text
    # when an admin PUTs a zone around the table (the clip is 768x432)
    body = {"width": 768, "height": 432, "zones": [INTEL_ZONE]}
    put = requests.put(f"{api}/cameras/intel/zones", json=body, timeout=20)
    assert put.status_code == 200, put.text
    assert requests.get(f"{api}/cameras/intel/zones", timeout=10).json()["zones"][0]["name"] == "table"
    # and the camera starts: one play of the clip
    assert requests.patch(f"{api}/cameras/intel", json={"enabled": True}, timeout=20).status_code == 200
    started = time.monotonic()
    quiet = os.getloadavg()[0] < (os.cpu_count() or 1)

    def zone() -> dict:
        reply = requests.get(f"{api}/analytics/zones", params={"camera": "intel"}, timeout=20)
        assert reply.status_code == 200, reply.text
        zones = [z for z in reply.json()["zones"] if z["name"] == "table"]
        return zones[0] if zones else {"visits": [], "max_occupancy": 0}

    seen = len(TRUTH) - len(DETECTOR_MISSES & set(range(len(TRUTH))))
    enabled_at = time.time()
    # the last visit ends at 135 s; it is stored once the person has been gone a moment
    while time.monotonic() - started < PLAY_S + 12 and len(zone()["visits"]) < seen:
        time.sleep(2)
    report = zone()
    took = time.monotonic() - started
    visits = sorted(report["visits"], key=lambda v: v["start"])
    dwells = [round(v["dwell_s"], 1) for v in visits]
    cameras = {c["name"]: c for c in requests.get(f"{api}/cameras", timeout=10).json()}
    print(
        f"\nafter {took:.0f} s: {len(visits)} visits, dwell {dwells} s, max occupancy "
        f"{report['max_occupancy']}; camera: {cameras['intel'].get('fps')} fps captured, "
        f"{cameras['intel'].get('detect_fps')} detections/s, "
        f"latency {cameras['intel'].get('latency_ms')} ms; load {os.getloadavg()[0]:.1f}"
    )
    # then the API lists the visits of the play, each with its start, end and dwell time
    assert visits, "no visit listed after one play"
    for v in visits:
        start, end = (
            datetime.fromisoformat(v["start"]).timestamp(),
            datetime.fromisoformat(v["end"]).timestamp(),
        )
        assert enabled_at - 1 <= start < end <= enabled_at + PLAY_S + 15
        assert v["dwell_s"] == pytest.approx(end - start, abs=0.06) and v["dwell_s"] > 0
    # one person at a time at the table, and never more visits than people the detector sees
    assert report["max_occupancy"] == 1
    assert len(visits) <= seen
    print(f"live visits {len(visits)} of {seen} seen; dwells {dwells}; truth {TRUTH}")
    # How close a live run comes to the hand count depends on how many frames a second the machine
    # analyses: on a quiet machine every visit is there with its dwell within LIVE_DWELL_S (the
    # person standing still at the table keeps their visit while motion gating skips frames).
    # Under load it is printed only: with one analysis a second or less the detector can miss
    # someone walking off, and the next person, within hold_s and reid_dist, continues their visit
    # (measured once at load 4.4: one visit of 25.2 s for the two). tests/test_analytics_footage.py
    # holds the 2 s target offline.
    if quiet and os.getloadavg()[0] < (os.cpu_count() or 1):
        assert len(visits) == seen, dwells
        for (start, end), dwell in zip(TRUTH, dwells, strict=True):
            assert abs(dwell - (end - start)) <= LIVE_DWELL_S, (dwells, TRUTH)
