"""One measured run: the clip played through the engine, pass after pass, and the figures it gave."""

from __future__ import annotations

import resource
import threading
import time
from collections import Counter
from pathlib import Path

from issc.bench.common import percentile
from issc.bench.load import cpu_load
from issc.bench.passes.accounting import Tally, cpu_s, per_pass_figures
from issc.bench.passes.clip import ClipPlayer, Playback, default_dedupe_s
from issc.bench.reference import CACHE_DIR, reference_boxes
from issc.config import CameraConfig, load_settings
from issc.memory import keep_defaults, tune_malloc
from issc.plates.ocr import rapid
from issc.service import build_engine
from issc.sink import MemorySink
from issc.sources import base as sources_base


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
    tally = Tally()
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
        cam.config.name: per_pass_figures(
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
        "cpu_ms_per_analysis": _round(cpu_s(usage, usage0) * 1000 / max(total_analysed, 1)),
        "minor_faults_per_analysis": round((usage.ru_minflt - usage0.ru_minflt) / max(total_analysed, 1)),
        "frames_published": published,
        "frames_seen": tally.seen,
        "frames_in_view": tally.in_view,
        "texts": dict(Counter(texts).most_common()),
        "per_camera": per_camera,
    }


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)
