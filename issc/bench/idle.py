"""``python -m issc.bench idle``: CPU of a static scene with motion gating against without.

The static scene is the first frame of a real indoor clip (an empty room), written to a
temporary video with a little sensor noise on every frame, so compression and noise are as
a real fixed camera would deliver them.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from issc.bench.common import ProcessMeter, clips, print_json, print_table
from issc.config import load_settings
from issc.service import build_detector, build_engine
from issc.sink import MemorySink

STATIC_CLIP = "intel_one-by-one-person-detection.mp4"


def make_static_clip(folder: Path, seconds: float = 10.0, fps: float = 10.0, noise: float = 2.0) -> Path:
    """A clip of one real frame repeated, with Gaussian sensor noise of ``noise`` grey levels."""
    cap = cv2.VideoCapture(str(clips([STATIC_CLIP])[0]))
    ok, frame = cap.read()
    cap.release()
    if not ok:
        raise SystemExit(f"cannot read {STATIC_CLIP}")
    path = folder / "static.mp4"
    writer = cv2.VideoWriter(
        str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (frame.shape[1], frame.shape[0])
    )
    rng = np.random.default_rng(0)
    for _ in range(int(seconds * fps)):
        noisy = frame.astype(np.int16) + rng.normal(0, noise, frame.shape).astype(np.int16)
        writer.write(noisy.clip(0, 255).astype(np.uint8))
    writer.release()
    return path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=20.0, help="measurement window per mode")
    parser.add_argument("--warmup", type=float, default=4.0, help="seconds before measuring")
    parser.add_argument("--detector", default="local", help="DETECTOR setting")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")


def measure(clip: Path, gating: bool, seconds: float, warmup: float, detector) -> dict:
    settings = load_settings(cameras=f"static={clip}", motion_gating=gating)
    engine = build_engine(settings, sink=MemorySink(), detector=detector).start()
    camera = engine.camera("0")
    try:
        time.sleep(warmup)
        analysed0 = camera.health.analysed
        meter = ProcessMeter().start()
        time.sleep(seconds)
        meter.stop()
        status = camera.status()
    finally:
        engine.stop()
    return {
        "motion_gating": gating,
        "cpu_percent": round(meter.cpu_percent, 1),
        "detections": camera.health.analysed - analysed0,
        "published_fps": round(status.fps, 2),
    }


def main(args: argparse.Namespace) -> int:
    detector = build_detector(load_settings(cameras="demo", detector=args.detector))
    with tempfile.TemporaryDirectory() as tmp:
        clip = make_static_clip(Path(tmp))
        ungated = measure(clip, False, args.seconds, args.warmup, detector)
        gated = measure(clip, True, args.seconds, args.warmup, detector)
    ratio = ungated["cpu_percent"] / gated["cpu_percent"] if gated["cpu_percent"] else float("inf")
    print(f"idle: static indoor scene, detector={args.detector}, {args.seconds:.0f} s per mode")
    print_table(
        ["motion gating", "CPU %", "detections", "published fps"],
        [
            [r["motion_gating"], r["cpu_percent"], r["detections"], r["published_fps"]]
            for r in (ungated, gated)
        ],
    )
    print(f"CPU without gating / with gating: {ratio:.1f}x")
    if args.json:
        print_json({"ungated": ungated, "gated": gated, "cpu_ratio": round(ratio, 2)})
    return 0
