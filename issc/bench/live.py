"""``python -m issc.bench live --cameras N``: per camera source fps, published fps, capture→publish
latency; process CPU% and RSS."""

from __future__ import annotations

import argparse
import itertools
import time

from issc.bench.common import ProcessMeter, Viewers, clips, percentile, print_json, print_table
from issc.config import load_settings
from issc.service import build_engine
from issc.sink import MemorySink


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cameras", type=int, default=1, help="number of cameras (clips are reused)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measurement window")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring")
    parser.add_argument("--detector", default="none", help="DETECTOR setting (none, local, ...)")
    parser.add_argument("--clip", action="append", help="clip file name(s) in the videos folder")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")


def run(
    cameras: int,
    seconds: float,
    warmup: float,
    detector: str,
    clip_names: list[str] | None = None,
    **settings_overrides,
) -> dict:
    """Run N cameras for ``seconds`` and return the measured figures."""
    sources = list(itertools.islice(itertools.cycle(clips(clip_names)), cameras))
    settings = load_settings(
        cameras=",".join(f"cam{i}={p}" for i, p in enumerate(sources)),
        detector=detector,
        **settings_overrides,
    )
    engine = build_engine(settings, sink=MemorySink()).start()
    viewers = Viewers(engine).start()
    try:
        time.sleep(warmup)
        viewers.reset()
        meter = ProcessMeter().start()
        start_ids = {
            cid: cam.buffer.latest().frame.frame_id if cam.buffer.latest() else -1
            for cid, cam in engine.cameras.items()
        }
        analysed0 = {cid: cam.health.analysed for cid, cam in engine.cameras.items()}
        time.sleep(seconds)
        meter.stop()
        rows = []
        for cid, cam in engine.cameras.items():
            latest = cam.buffer.latest()
            published = (latest.frame.frame_id - start_ids[cid]) / meter.wall_s if latest else 0.0
            seen = viewers.stats[cid]
            rows.append(
                {
                    "camera": cam.config.name,
                    "clip": cam.config.source.rsplit("/", 1)[-1],
                    "source_fps": round(cam.capture.source_fps, 2),
                    "published_fps": round(published, 2),
                    "viewer_fps": round(seen.frames / meter.wall_s, 2),
                    "p50_latency_ms": percentile(seen.latencies_ms, 50),
                    "p95_latency_ms": percentile(seen.latencies_ms, 95),
                    "detect_fps": round((cam.health.analysed - analysed0[cid]) / meter.wall_s, 2),
                    "dropped": cam.status().dropped,
                }
            )
    finally:
        viewers.stop()
        engine.stop()
    return {
        "cameras": cameras,
        "seconds": round(meter.wall_s, 2),
        "cpu_percent": round(meter.cpu_percent, 1),
        "rss_mb": round(meter.rss_mb, 1),
        "per_camera": rows,
    }


def main(args: argparse.Namespace) -> int:
    result = run(args.cameras, args.seconds, args.warmup, args.detector, args.clip)
    print(
        f"live: {result['cameras']} camera(s), {result['seconds']} s, process CPU {result['cpu_percent']}% "
        f"(100% = one core), RSS {result['rss_mb']} MB, detector={args.detector}"
    )
    print_table(
        ["camera", "clip", "source fps", "published fps", "p50 ms", "p95 ms", "detect/s", "dropped"],
        [
            [
                r["camera"],
                r["clip"],
                r["source_fps"],
                r["published_fps"],
                r["p50_latency_ms"],
                r["p95_latency_ms"],
                r["detect_fps"],
                r["dropped"],
            ]
            for r in result["per_camera"]
        ],
    )
    if args.json:
        print_json(result)
    return 0
