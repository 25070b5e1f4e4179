"""``python -m issc.bench clips``: CPU of a camera with event clips on (CLIPS) against off.

The camera plays a real clip in a loop with no detector (so the difference is the clips' own cost:
offering frames, scaling, encoding, and cutting and remuxing a clip for a plate event every
``--event-every`` seconds). Modes alternate (off, on, off, on ...) in one process; the table gives
each mode's mean over its rounds, the clip thread's own CPU, and the ratio on/off.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

from issc.bench.common import ProcessMeter, clips, print_json, print_table
from issc.config import load_settings
from issc.engine import Engine
from issc.sink import MemorySink
from issc.types import EventClip, PlateEvent

CLIP = "aiguy_license_plate_uk_LS15EBC.mp4"


class SizeSaver:
    """Keeps the size of every clip it is given."""

    def __init__(self) -> None:
        self.sizes: list[int] = []
        self.seconds: list[float] = []

    def save_clip(self, clip: EventClip) -> bool:
        self.sizes.append(len(clip.mp4))
        self.seconds.append(clip.duration_s)
        return True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--clip", default=CLIP, help="video under ISSC_TEST_DATA/videos")
    parser.add_argument("--seconds", type=float, default=20.0, help="measurement window per round")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of each mode, alternating")
    parser.add_argument("--fps", type=float, default=10.0, help="CLIP_FPS")
    parser.add_argument("--width", type=int, default=960, help="CLIP_WIDTH")
    parser.add_argument("--event-every", type=float, default=10.0, help="a plate event every this many s")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")


def measure(path: str, on: bool, args: argparse.Namespace) -> dict:
    settings = load_settings(
        cameras=f"gate={path}",
        detector="none",
        clips="gate" if on else "",
        clip_fps=args.fps,
        clip_width=args.width,
        clip_pre_s=5.0,
        clip_post_s=5.0,
    )
    saver = SizeSaver()
    engine = Engine.from_settings(settings, sink=MemorySink(), clip_saver=saver).start()
    camera = engine.camera("0")
    try:
        time.sleep(args.warmup)
        meter = ProcessMeter().start()
        clip_cpu0 = camera.clips.cpu_s
        encoded0 = camera.clips.encoded
        started = time.monotonic()
        next_event = started + args.event_every / 2
        while (left := started + args.seconds - time.monotonic()) > 0:
            time.sleep(min(left, max(next_event - time.monotonic(), 0.01)))
            if time.monotonic() >= next_event:
                seen = datetime.now(UTC)
                camera.clips.request(PlateEvent("gate", seen, seen, "LS15EBC", 0.9, 3, (0, 0, 9, 9)))
                next_event += args.event_every
        meter.stop()
        clip_cpu = camera.clips.cpu_s - clip_cpu0
        encoded = camera.clips.encoded - encoded0
        status = camera.status()
    finally:
        engine.stop()
    return {
        "clips": on,
        "cpu_percent": meter.cpu_percent,
        "clip_thread_cpu_percent": 100.0 * clip_cpu / meter.wall_s if meter.wall_s else 0.0,
        "published_fps": status.fps,
        "encoded_fps": encoded / meter.wall_s if meter.wall_s else 0.0,
        "dropped": camera.clips.dropped,
        "clips_saved": len(saver.sizes),
        "clip_kb": sum(saver.sizes) / len(saver.sizes) / 1024 if saver.sizes else 0.0,
        "clip_s": sum(saver.seconds) / len(saver.seconds) if saver.seconds else 0.0,
    }


def _mean(rows: list[dict], key: str) -> float:
    return sum(r[key] for r in rows) / len(rows)


def main(args: argparse.Namespace) -> int:
    path = str(clips([args.clip])[0])
    runs: dict[bool, list[dict]] = {False: [], True: []}
    for _ in range(args.rounds):
        for on in (False, True):
            runs[on].append(measure(path, on, args))
    off, on = runs[False], runs[True]
    ratio = (
        _mean(on, "cpu_percent") / _mean(off, "cpu_percent") if _mean(off, "cpu_percent") else float("inf")
    )
    print(
        f"clips: {args.clip} looped, no detector, CLIP_FPS={args.fps:g}, CLIP_WIDTH={args.width}, "
        f"an event every {args.event_every:g} s, {args.rounds} x {args.seconds:g} s per mode"
    )
    keys = [
        "cpu_percent",
        "clip_thread_cpu_percent",
        "published_fps",
        "encoded_fps",
        "dropped",
        "clips_saved",
        "clip_kb",
        "clip_s",
    ]
    print_table(
        [
            "clips",
            "process CPU %",
            "clip thread CPU %",
            "published fps",
            "encoded fps",
            "dropped",
            "clips",
            "KB/clip",
            "s/clip",
        ],
        [["on" if rows is on else "off"] + [round(_mean(rows, k), 1) for k in keys] for rows in (off, on)],
    )
    print(f"process CPU clips on / off: {ratio:.2f}x")
    if args.json:
        print_json({"off": off, "on": on, "cpu_ratio": round(ratio, 3)})
    return 0
