"""``python -m issc.bench compare``: our engine against the prototype's loop, same clip, same detector.

Prints published fps, p50/p95 capture→display latency, OCR calls per plate pass and CPU seconds
per minute of video for both, then the same with detectors of fixed artificial latency.
"""

from __future__ import annotations

import argparse
import threading
import time

import numpy as np
import supervision as sv

from issc.bench.common import ProcessMeter, Viewers, clips, percentile, print_json, print_table
from issc.bench.prototype import PrototypeLoop
from issc.config import load_settings
from issc.detect import CompositeDetector, Detector, NullDetector
from issc.plates.ocr.reader import make_reader
from issc.progress import progress
from issc.service import build_detector, build_engine
from issc.sink import MemorySink
from issc.sources import FileSource


class FixedLatencyDetector:
    """Sleeps a fixed time, then answers what ``inner`` answers (nothing by default)."""

    def __init__(self, latency_s: float, inner: Detector | None = None) -> None:
        self.latency_s = latency_s
        self.inner = inner or NullDetector()
        self.name = f"fixed-{int(latency_s * 1000)}ms"

    def detect(self, image: np.ndarray) -> sv.Detections:
        time.sleep(self.latency_s)
        return self.inner.detect(image)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--clip", default="aiguy_license_plate_uk_LS15EBC.mp4", help="clip in the videos folder"
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds per run")
    parser.add_argument("--latencies", default="50,200,1000", help="artificial detector latencies, ms")
    parser.add_argument("--skip-real", action="store_true", help="only the artificial-latency runs")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")


def _clip_duration(path) -> tuple[float, float]:
    source = FileSource(str(path), stop=threading.Event())
    source.open()
    fps, frames = source.fps, source.frames
    source.close()
    return fps, frames / fps


def run_prototype(clip, person: Detector, plate: Detector, seconds: float, duration_s: float) -> dict:
    loop = PrototypeLoop(clip, person, plate, make_reader("easyocr", "prototype", 0.1))
    meter = ProcessMeter().start()
    stats = loop.run(seconds)
    meter.stop()
    passes = meter.wall_s / duration_s
    return {
        "published_fps": round(stats.displayed / meter.wall_s, 2),
        "p50_latency_ms": percentile(stats.latencies_ms, 50),
        "p95_latency_ms": percentile(stats.latencies_ms, 95),
        "ocr_calls_per_pass": round(stats.ocr_calls / passes, 2),
        "cpu_s_per_min": round(meter.cpu_s / (meter.wall_s / 60), 1),
    }


def run_ours(clip, detector: Detector, seconds: float, duration_s: float, warmup: float = 1.0) -> dict:
    settings = load_settings(cameras=f"bench={clip}", motion_gating=False)
    sink = MemorySink()
    engine = build_engine(settings, sink=sink, detector=detector).start()
    viewers = Viewers(engine).start()
    camera = engine.camera("0")
    try:
        time.sleep(warmup)
        viewers.reset()
        ocr0 = camera.health.ocr_calls
        events0 = len(sink.events())
        meter = ProcessMeter().start()
        time.sleep(seconds)
        meter.stop()
        ocr = camera.health.ocr_calls - ocr0
        events = len(sink.events()) - events0
    finally:
        viewers.stop()
        engine.stop()
    seen = viewers.stats["0"]
    passes = meter.wall_s / duration_s
    return {
        "published_fps": round(seen.frames / meter.wall_s, 2),
        "p50_latency_ms": percentile(seen.latencies_ms, 50),
        "p95_latency_ms": percentile(seen.latencies_ms, 95),
        "ocr_calls_per_pass": round(ocr / passes, 2),
        "cpu_s_per_min": round(meter.cpu_s / (meter.wall_s / 60), 1),
        "plate_events": events,
    }


def main(args: argparse.Namespace) -> int:
    clip = clips([args.clip])[0]
    source_fps, duration_s = _clip_duration(clip)
    result: dict = {"clip": clip.name, "source_fps": source_fps, "seconds": args.seconds}
    rows = []
    if not args.skip_real:
        detector = build_detector(load_settings(cameras="demo"))
        person, plate = (
            (detector.person, detector.plate)
            if isinstance(detector, CompositeDetector)
            else (detector, detector)
        )
        result["detector"] = detector.name
        result["prototype"] = run_prototype(clip, person, plate, args.seconds, duration_s)
        result["ours"] = run_ours(clip, detector, args.seconds, duration_s)
        rows += [
            [f"prototype ({detector.name})", *_cells(result["prototype"])],
            [f"ours ({detector.name})", *_cells(result["ours"])],
        ]
    result["fixed_latency"] = []
    latencies = [int(v) for v in args.latencies.split(",") if v]
    for ms in progress(latencies, desc="fixed latency", unit="run", json_output=args.json):
        fixed = FixedLatencyDetector(ms / 1000)
        proto = run_prototype(clip, fixed, fixed, args.seconds / 2, duration_s)
        ours = run_ours(clip, fixed, args.seconds / 2, duration_s)
        result["fixed_latency"].append({"detector_ms": ms, "prototype": proto, "ours": ours})
        rows += [[f"prototype (fixed {ms} ms)", *_cells(proto)], [f"ours (fixed {ms} ms)", *_cells(ours)]]
    print(f"compare: {clip.name}, source {source_fps:.1f} fps, {args.seconds:.0f} s per real run")
    print_table(["loop", "published fps", "p50 ms", "p95 ms", "OCR calls/pass", "CPU s/min"], rows)
    if args.json:
        print_json(result)
    return 0


def _cells(r: dict) -> list:
    return [
        r["published_fps"],
        r["p50_latency_ms"],
        r["p95_latency_ms"],
        r["ocr_calls_per_pass"],
        r["cpu_s_per_min"],
    ]
