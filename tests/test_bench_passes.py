"""The passes bench: plate from the file name, what counts as showing the plate, a short real run."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import PLATE_CLIP, cut_clip

from issc.bench.__main__ import main as bench_main
from issc.bench.passes.clip import ClipPlayer, Playback, default_dedupe_s, plate_from_name
from issc.bench.reference import shows_plate
from issc.detections import PERSON, PLATE, make_detections

REFERENCE = (100.0, 100.0, 200.0, 130.0)


@pytest.mark.parametrize(
    ("name", "plate"),
    [
        ("aiguy_license_plate_uk_LS15EBC.mp4", "LS15EBC"),
        ("my_car_ABC1234.avi", "ABC1234"),
        ("o4n_intersection_cars_pedestrians.mp4", None),
        ("intel_car-detection.mp4", None),
        ("clip_12345.mp4", None),  # digits only: not a plate
    ],
)
def test_the_plate_comes_from_the_file_name_when_it_looks_like_one(name: str, plate: str | None) -> None:
    assert plate_from_name(Path(name)) == plate


@pytest.mark.parametrize("gap_s", [1.0, 2.0, 4.0, 10.0])
def test_the_dedupe_window_stays_below_the_gap(gap_s: float) -> None:
    assert 0 < default_dedupe_s(gap_s) < gap_s


def boxes(xyxy: list[float], class_id: int = PLATE, opacity: float | None = 1.0):
    found = make_detections(np.array([xyxy]), np.array([0.9]), np.array([class_id]))
    if opacity is not None:
        found.data["opacity"] = np.array([opacity], np.float32)
    return found


@pytest.mark.parametrize(
    ("drawn", "shown"),
    [
        (boxes([102, 101, 198, 131]), True),  # on the plate
        (boxes([100, 115.5, 200, 145.5]), True),  # centre just below it, but IoU 0.32
        (boxes([50, 80, 170, 150]), True),  # IoU 0.23, but its centre is on the plate
        (boxes([210, 100, 300, 130]), False),  # next to it
        (boxes([102, 101, 198, 131], class_id=PERSON), False),  # not a plate box
        (boxes([102, 101, 198, 131], opacity=0.3), False),  # fading: too faint to count
        (boxes([102, 101, 198, 131], opacity=None), True),  # no opacity: drawn as is
        (make_detections(np.empty((0, 4)), np.empty(0), np.empty(0, int)), False),
    ],
)
def test_a_frame_shows_the_plate_when_a_clear_plate_box_overlaps_it(drawn, shown: bool) -> None:
    assert shows_plate(drawn, REFERENCE) is shown


def test_the_clip_player_logs_which_clip_frame_each_picture_is(tmp_path: Path) -> None:
    path = tmp_path / "five.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (32, 32))
    for i in range(5):
        writer.write(np.full((32, 32, 3), 40 * i, np.uint8))
    writer.release()
    playback = Playback()
    player = ClipPlayer(str(path), threading.Event(), gap_s=0.1, playback=playback)
    player.open()
    for _ in range(10):
        player.read()
    player.close()
    assert playback.positions == [0, 1, 2, 3, 4, -1, -1, -1, 0, 1]
    assert playback.plays == 1
    assert len(playback.starts) == 2 and len(playback.ends) == 1  # two plays began, one ended
    assert playback.starts[0] <= playback.ends[0] <= playback.starts[1]


@pytest.mark.slow
def test_a_short_run_on_the_plate_clip_reports_every_figure(videos_dir: Path, tmp_path: Path, capsys) -> None:
    # The bench first finds the plate in every frame of the clip with the still-image locator
    # (cached in ~/.cache/issc; ~0.5 s a frame): the clip's last 45 frames (1.5 s, the car near)
    # keep that and the plays short. The figures' values are the bench's job, not this test's.
    clip = cut_clip(videos_dir / PLATE_CLIP, tmp_path / "uk_last45_LS15EBC.mp4", first=95, frames=45)
    code = bench_main(
        ["passes", "--clip", str(clip), "--seconds", "6", "--gap-s", "1", "--warmup-plays", "0", "--json"]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    keys = {"passes", "events", "correct", "wrong", "box_frame_share", "analysed_fps"}
    assert keys | {"analysis_ms_p50", "analysis_ms_p95"} <= set(result)
    assert result["passes"] >= 1
    assert result["correct"] + result["wrong"] == result["events"]
    assert 0 <= result["box_frame_share"] <= 1 and result["analysed_fps"] > 0
    assert result["memory_reused"] is True  # the live path's default (issue 19 item 6)
    assert result["cpu_ms_per_analysis"] > 0 and result["minor_faults_per_analysis"] >= 0


def test_events_are_counted_per_pass_so_a_split_pass_shows() -> None:
    from datetime import UTC, datetime

    from issc.bench.passes.accounting import per_pass_figures
    from issc.types import PlateEvent

    def at(seconds: float, text: str = "LS15EBC") -> PlateEvent:
        seen = datetime.fromtimestamp(1000.0 + seconds, tz=UTC)
        return PlateEvent("bench", seen, seen, text, 0.9, 2, (0, 0, 1, 1))

    playback = Playback(starts=[1000.0, 1010.0, 1020.0, 1030.0], ends=[1005.0, 1015.0, 1025.0, 1035.0])
    windows = playback.windows(1009.0, 1030.0)  # the first play began before, the last ended after
    assert windows == [(1010.0, 1015.0), (1020.0, 1025.0)]
    # given two events in the first measured pass (a split), a wrong one in the second, and events
    # of plays outside the window
    events = [at(2), at(11), at(14), at(21, "LS15E8C"), at(31)]
    figures = per_pass_figures(events, windows, "LS15EBC")
    assert (figures["passes"], figures["events"], figures["correct"], figures["wrong"]) == (2, 3, 2, 1)
    assert (figures["events_per_pass"], figures["split_passes"]) == (1.5, 1)
