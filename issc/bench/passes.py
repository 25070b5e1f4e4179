"""``python -m issc.bench passes --clip PATH``: a clip played as a live camera, pass after pass.

The clip plays in a loop through the engine exactly as the server builds it
(``issc.service.build_engine``), with ``--gap-s`` seconds of a plain grey picture between two plays
so that every play is a separate vehicle pass (``PLATE_DEDUPE_S`` is set below the gap).
``--load N`` keeps N cores busy with other processes meanwhile. A viewer takes every published
frame and encodes its JPEG, as the MJPEG route does. The first ``--warmup-plays`` plays are not
measured (first calls of the models); the window starts with the next play and ends with the
play running when ``--seconds`` are up. Printed:

* ``passes``: plays of the clip in the measured window;
* ``events``, ``correct``, ``wrong``: plate events stored, those whose text is the clip's plate,
  and those with any other text;
* ``unsure``: events among them flagged unsure (best vote below ``PLATE_RECOGNITION_THRESHOLD``:
  kept out of the default history and of alerts);
* ``events_per_pass``: events that belong to a measured pass (first seen while it played) per
  pass, and ``split_passes``: passes that made more than one event (one pass, one event);

``--cameras N`` plays N copies of the clip at once, each as its own camera; the figures above are
then camera 0's, and ``per_camera`` gives passes, events, correct, wrong, events per pass and split
passes for every camera (each camera's passes are the plays it finished inside the window).
* ``box_frame_share``: among the published frames whose clip frame shows the plate, the share
  that carries a plate box on it (see ``shows_plate``);
* ``analysed_fps``: analyses per second; ``analysis_ms_p50``/``_p95``: time per
  ``analyzer.analyze`` call;
* ``overlay_ms_p50``/``_p95``: capture -> publish time of the frames that carry boxes (placing
  them by flow and drawing them, on the capture thread).
* ``cpu_ms_per_analysis``, ``minor_faults_per_analysis``: the whole process's CPU time (user +
  system: capture, analyses, the viewer's JPEGs) and minor page faults in the window, per analysis
  of any camera. They move far less with the machine's load than the times above: a fault is a
  page of freshly mapped memory touched for the first time (``--malloc-defaults``,
  ``--allocate-per-call`` compare).

Which clip frames show the plate, and where, is measured once per clip before the timed run: the
still-image plate locator at full resolution reads every frame, and the box whose text is most
like the plate (``similarity`` >= ``REFERENCE_MIN_SIMILARITY``) is the reference; frames without
one count as "car not in view". The result is cached in ``~/.cache/issc/``
(:mod:`issc.bench.reference`).
"""

from __future__ import annotations

import argparse
import re
import resource
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import supervision as sv

from issc.bench.common import clips, percentile, print_json, print_table
from issc.bench.reference import CACHE_DIR, Box, reference_boxes, shows_plate
from issc.config import CameraConfig, load_settings
from issc.memory import keep_defaults, tune_malloc
from issc.plates.ocr import rapid
from issc.service import build_engine
from issc.sink import MemorySink
from issc.sources import FileSource
from issc.sources import base as sources_base
from issc.types import PlateEvent


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--clip", required=True, help="video file (a path, or a name in the videos folder)")
    parser.add_argument("--plate", help="the clip's plate (default: the file name's last '_' part)")
    parser.add_argument("--gap-s", type=float, default=4.0, help="grey seconds between two plays")
    parser.add_argument("--seconds", type=float, default=120.0, help="measured window (rounded up to a play)")
    parser.add_argument("--load", type=int, default=0, help="cores kept busy by other processes")
    parser.add_argument("--cameras", type=int, default=1, help="copies of the clip played at once")
    parser.add_argument("--dedupe-s", type=float, help="PLATE_DEDUPE_S (default: below the gap)")
    parser.add_argument("--detector", help="DETECTOR setting (default: as configured)")
    parser.add_argument("--warmup-plays", type=int, default=1, help="plays before the measured window")
    parser.add_argument(
        "--malloc-defaults", action="store_true", help="keep glibc's malloc defaults (the service tunes them)"
    )
    parser.add_argument(
        "--allocate-per-call",
        action="store_true",
        help="text detection and decoding allocate afresh per call, as before they reused memory",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object last")


def plate_from_name(path: Path) -> str | None:
    """``LS15EBC`` for ``aiguy_license_plate_uk_LS15EBC.mp4``; None when the last part is no plate."""
    last = path.stem.rsplit("_", 1)[-1]
    looks_like_plate = (
        re.fullmatch(r"[A-Z0-9]{4,10}", last) and re.search(r"\d", last) and re.search("[A-Z]", last)
    )
    return last if looks_like_plate else None


def default_dedupe_s(gap_s: float) -> float:
    """A ``PLATE_DEDUPE_S`` below the gap, so that two plays are two passes."""
    return max(gap_s - 1.0, gap_s / 2)


# --- the clip as a live camera -------------------------------------------------------------


@dataclass
class Playback:
    """What the clip player did: the clip frame index of every picture read (-1: the grey gap),
    in the order the engine numbers them (``frame_id``), the plays finished, and the wall-clock
    time each play began and ended (``time.time()``, as frames are stamped)."""

    positions: list[int] = field(default_factory=list)
    plays: int = 0
    starts: list[float] = field(default_factory=list)
    ends: list[float] = field(default_factory=list)

    def windows(self, since: float, until: float) -> list[tuple[float, float]]:
        """``(start, end)`` of the plays that began at or after ``since`` and ended by ``until``."""
        return [(s, e) for s, e in zip(self.starts, self.ends, strict=False) if s >= since and e <= until]


class ClipPlayer(FileSource):
    """``FileSource`` with grey gaps that logs, per picture read, which clip frame it was."""

    def __init__(self, path: str, stop: threading.Event, gap_s: float, playback: Playback) -> None:
        super().__init__(path, stop, loop=True, gap_s=gap_s)
        self.playback = playback

    def read(self) -> np.ndarray:
        plays, before = self.plays, self.position
        image = super().read()
        now = time.time()
        if self.plays > plays:
            self.playback.ends.append(now)
        self.playback.plays += self.plays - plays
        if self.position >= 0 and (before < 0 or self.plays > plays or not self.playback.positions):
            self.playback.starts.append(now)
        self.playback.positions.append(self.position)
        return image


@contextmanager
def cpu_load(cores: int) -> Iterator[list[subprocess.Popen]]:
    """``cores`` busy-looping Python processes, killed on exit."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(cores)]
    try:
        yield procs
    finally:
        for proc in procs:
            proc.kill()
        for proc in procs:
            proc.wait(10)


def _cpu_s(usage: resource.struct_rusage, before: resource.struct_rusage) -> float:
    """User + system CPU seconds of this process between two ``getrusage`` samples."""
    return usage.ru_utime + usage.ru_stime - before.ru_utime - before.ru_stime


@dataclass
class _Tally:
    """What the bench's viewer saw in the measured window."""

    seen: int = 0
    in_view: int = 0
    shown: int = 0
    overlay_ms: list[float] = field(default_factory=list)  # capture -> publish of frames with boxes

    def add(self, boxes: sv.Detections, reference: Box | None, publish_ms: float | None) -> None:
        self.seen += 1
        if len(boxes) and publish_ms is not None:
            self.overlay_ms.append(publish_ms)
        if reference is not None:
            self.in_view += 1
            self.shown += shows_plate(boxes, reference)


def run(
    clip: Path,
    plate: str,
    gap_s: float = 4.0,
    seconds: float = 120.0,
    load: int = 0,
    dedupe_s: float | None = None,
    detector: str | None = None,
    warmup_plays: int = 1,
    cache_dir: Path = CACHE_DIR,
    malloc_defaults: bool = False,
    cameras: int = 1,
    allocate_per_call: bool = False,
) -> dict:
    """Play ``clip`` through the engine (as ``cameras`` cameras) and measure about ``seconds`` of it.

    The first ``warmup_plays`` plays are not measured (first calls load and compile); the window
    then starts with a play and ends when the play running at ``seconds`` ends on every camera.
    Events count when their pass started inside the window.
    """
    if cameras < 1:
        raise SystemExit(f"--cameras={cameras} must be at least 1")
    if malloc_defaults:
        keep_defaults()
    tune_malloc()  # as the service does when it starts
    if allocate_per_call:
        rapid.allocate_per_call()
        sources_base.REUSE_FRAMES = False
    reference = reference_boxes(clip, plate, cache_dir)
    dedupe_s = default_dedupe_s(gap_s) if dedupe_s is None else dedupe_s
    overrides = {"detector": detector} if detector else {}
    names = ",".join(f"bench{i}={clip}" for i in range(cameras)) if cameras > 1 else f"bench={clip}"
    settings = load_settings(cameras=names, plate_dedupe_s=dedupe_s, **overrides)
    playbacks = {str(i): Playback() for i in range(cameras)}
    playback = playbacks["0"]

    def play(camera: CameraConfig, stop: threading.Event) -> ClipPlayer:
        return ClipPlayer(camera.source, stop, gap_s, playbacks[camera.id])

    sink = MemorySink()
    engine = build_engine(settings, sink=sink, source_factory=play)
    camera = engine.camera("0")
    tally = _Tally()
    play_s = len(reference) / 10.0  # a generous bound: clips run at 10 fps or more
    with cpu_load(load):
        engine.start()
        try:
            give_up = time.monotonic() + (warmup_plays + 1) * (play_s + gap_s + 5.0) + seconds + 30.0
            last, started, started_wall = -1, None, 0.0
            analysed0 = plays0 = first_id = 0
            plays_due: dict[str, int] | None = None  # once the time is up: stop when these plays ended
            while time.monotonic() < give_up:
                if plays_due is not None and all(playbacks[c].plays >= n for c, n in plays_due.items()):
                    break
                item = camera.buffer.wait_newer(last, timeout=0.5)
                if item is None:
                    continue
                last = item.frame.frame_id
                publish_ms = camera.health.latencies_ms[-1] if camera.health.latencies_ms else None
                item.jpeg(settings.web.jpeg_quality)  # what an MJPEG viewer costs
                position = playback.positions[last] if last < len(playback.positions) else -1
                if started is None:
                    if position < 0 or playback.plays < warmup_plays:
                        continue
                    started, started_wall = time.monotonic(), item.frame.captured_at
                    analysed0, plays0, first_id = camera.health.analysed, playback.plays, last
                    usage0 = resource.getrusage(resource.RUSAGE_SELF)
                    total0 = sum(c.health.analysed for c in engine.cameras.values())
                if plays_due is None and time.monotonic() - started >= seconds:
                    plays_due = {c: p.plays + 1 for c, p in playbacks.items()}
                tally.add(
                    item.boxes, reference[position] if 0 <= position < len(reference) else None, publish_ms
                )
            if started is None:
                raise SystemExit("the clip never played: is it a video OpenCV can decode?")
            wall = time.monotonic() - started
            usage = resource.getrusage(resource.RUSAGE_SELF)
            stopped_wall = time.time()
            analysed = camera.health.analysed - analysed0
            analysis_ms = list(camera.health.analysis_ms)[-analysed:] if analysed else []
            published = last - first_id + 1
            total_analysed = sum(c.health.analysed for c in engine.cameras.values()) - total0
        finally:
            engine.stop()
    events = sink.events()
    measured = [
        e
        for e in events
        if e.camera == camera.config.name and e.first_seen.timestamp() >= started_wall - 1e-3
    ]
    texts = [e.text for e in measured]
    correct = sum(t == plate for t in texts)
    per_camera = {
        cam.config.name: _per_pass(
            [e for e in events if e.camera == cam.config.name],
            playbacks[cid].windows(started_wall - 1e-3, stopped_wall),
            plate,
        )
        for cid, cam in engine.cameras.items()
    }
    first = per_camera[camera.config.name]
    return {
        "clip": clip.name,
        "plate": plate,
        "gap_s": gap_s,
        "dedupe_s": dedupe_s,
        "load": load,
        "memory_reused": rapid.REUSE_MEMORY,
        "cameras": cameras,
        "seconds": round(wall, 1),
        "passes": playback.plays - plays0,
        "events": len(texts),
        "correct": correct,
        "wrong": len(texts) - correct,
        "unsure": sum(e.unsure for e in measured),
        "events_per_pass": first["events_per_pass"],
        "split_passes": first["split_passes"],
        "box_frame_share": round(tally.shown / tally.in_view, 3) if tally.in_view else None,
        "analysed_fps": round(analysed / wall, 2),
        "analysis_ms_p50": _round(percentile(analysis_ms, 50)),
        "analysis_ms_p95": _round(percentile(analysis_ms, 95)),
        "overlay_ms_p50": _round(percentile(tally.overlay_ms, 50), 2),
        "overlay_ms_p95": _round(percentile(tally.overlay_ms, 95), 2),
        "cpu_ms_per_analysis": _round(_cpu_s(usage, usage0) * 1000 / max(total_analysed, 1)),
        "minor_faults_per_analysis": round((usage.ru_minflt - usage0.ru_minflt) / max(total_analysed, 1)),
        "frames_published": published,
        "frames_seen": tally.seen,
        "frames_in_view": tally.in_view,
        "texts": dict(Counter(texts).most_common()),
        "per_camera": per_camera,
    }


def _per_pass(events: list[PlateEvent], windows: list[tuple[float, float]], plate: str) -> dict:
    """Passes, events, correct, wrong, events per pass and split passes of one camera.

    An event belongs to the pass during whose play it was first seen (a little slack after the
    play's last frame: the frame is stamped after it is read); events of no measured pass (warm-up,
    the play running when the bench stopped) are not counted.
    """
    per_pass: list[list[str]] = [[] for _ in windows]
    for event in events:
        seen = event.first_seen.timestamp()
        home = next((k for k, (s, e) in enumerate(windows) if s - 0.5 <= seen <= e + 0.5), None)
        if home is not None:
            per_pass[home].append(event.text)
    texts = [t for found in per_pass for t in found]
    correct = sum(t == plate for t in texts)
    return {
        "passes": len(windows),
        "events": len(texts),
        "correct": correct,
        "wrong": len(texts) - correct,
        "events_per_pass": round(len(texts) / len(windows), 3) if windows else None,
        "split_passes": sum(len(found) > 1 for found in per_pass),
        "texts": dict(Counter(texts).most_common()),
    }


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def _resolve_clip(name: str) -> Path:
    path = Path(name).expanduser()
    if path.is_file():
        return path
    found = clips([name])[0]
    if not found.is_file():
        raise SystemExit(f"no clip {name!r}: give a path or a file name in the videos folder")
    return found


def main(args: argparse.Namespace) -> int:
    clip = _resolve_clip(args.clip)
    plate = args.plate or plate_from_name(clip)
    if not plate:
        raise SystemExit(f"cannot tell the plate from {clip.name!r}: pass --plate")
    result = run(
        clip,
        plate.upper(),
        gap_s=args.gap_s,
        seconds=args.seconds,
        load=args.load,
        dedupe_s=args.dedupe_s,
        detector=args.detector,
        warmup_plays=args.warmup_plays,
        malloc_defaults=args.malloc_defaults,
        allocate_per_call=args.allocate_per_call,
        cameras=args.cameras,
    )
    print(
        f"passes: {clip.name}, plate {result['plate']}, {result['gap_s']:g} s gaps, "
        f"PLATE_DEDUPE_S={result['dedupe_s']:g}, load {result['load']}, {result['seconds']:g} s, "
        f"{result['cameras']} camera(s)"
    )
    print_table(_HEADERS, [[result[k] for k in _KEYS]])
    print(f"event texts: {result['texts'] or 'none'}")
    if result["cameras"] > 1:
        print_table(
            ["camera", *_CAMERA_KEYS],
            [[name, *(figures[k] for k in _CAMERA_KEYS)] for name, figures in result["per_camera"].items()],
        )
    if args.json:
        print_json(result)
    return 0


_CAMERA_KEYS: Sequence[str] = ("passes", "events", "correct", "wrong", "events_per_pass", "split_passes")
_KEYS: Sequence[str] = (
    "passes",
    "events",
    "correct",
    "wrong",
    "unsure",
    "events_per_pass",
    "split_passes",
    "box_frame_share",
    "analysed_fps",
    "analysis_ms_p50",
    "analysis_ms_p95",
    "overlay_ms_p50",
    "overlay_ms_p95",
    "cpu_ms_per_analysis",
    "minor_faults_per_analysis",
)
_HEADERS = [
    "passes",
    "events",
    "correct",
    "wrong",
    "unsure",
    "events/pass",
    "split",
    "box frame share",
    "analysed fps",
    "analysis p50 ms",
    "p95 ms",
    "overlay p50 ms",
    "p95 ms",
    "cpu ms/analysis",
    "faults/analysis",
]
