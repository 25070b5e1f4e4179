"""``python -m issc.bench search``: the cost of one analysed 720p frame, step by step, before and after.

Runs, in one process on the same frames of a clip, the plate search and the whole per-frame
analysis in two configurations:

* ``baseline``: the search as it was (whole frame scaled to a 540 px short side, every text line
  read from that scaled copy, RapidOCR's own ONNX sessions: one thread per core, spin-waiting);
* ``current``: the settings' defaults (``PLATE_DETECT_SHORT_SIDE``, ``PLATE_DETECT_MODEL``, a
  full-resolution second look at candidates, sessions that share the cores, lines of no plate
  shape never recognised).

Printed per configuration, median and p95 ms: people detection, text detection alone on the
scaled frame, the plate search (``locate``: detection, second look, recognition), the whole
``analyze`` (today's analyzer around either search: people are looked for once a second with
nobody in view; frames are 0.67 s apart), and how many frames had the clip's plate read exactly.
The two configurations take turns frame by frame, so both meet the same moments of load.
``--load N`` keeps N cores busy with other processes meanwhile.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from issc.analysis import PlateAnalyzer
from issc.bench.common import clips, percentile, print_json, print_table
from issc.bench.load import cpu_load
from issc.bench.passes.clip import plate_from_name
from issc.config import load_settings
from issc.detect import CompositeDetector, make_person_detector
from issc.detect.local_plates import LocalPlateDetector
from issc.plates.locate import LocatorOptions, PlateLocator
from issc.plates.ocr.rapid import RapidOcrEngine
from issc.plates.regions import plate_rules
from issc.plates.voting import VotingOptions
from issc.progress import progress
from issc.sources import video_frames
from issc.tuning import Tuning
from issc.types import Frame

STEPS = ("people", "text_detection", "plate_search", "analyze")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--clip",
        default="aiguy_license_plate_uk_LS15EBC.mp4",
        help="clip (path, or name in the videos folder)",
    )
    parser.add_argument("--plate", default=None, help="the clip's plate (default: from the file name)")
    parser.add_argument("--frames", type=int, default=35, help="frames sampled evenly from the clip")
    parser.add_argument("--load", type=int, default=0, help="cores kept busy by other processes")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")


def _frames(clip: Path, count: int) -> list[np.ndarray]:
    frames = list(video_frames(clip))
    step = max(1, len(frames) // max(count, 1))
    return frames[::step][:count]


def _timed(fn, *args) -> tuple[object, float]:
    start = time.perf_counter()
    result = fn(*args)
    return result, (time.perf_counter() - start) * 1000.0


class _Config:
    """One configuration's pipeline and the times of its steps."""

    def __init__(self, name: str, polite: bool, options: LocatorOptions, frames: list[np.ndarray]) -> None:
        settings = load_settings(cameras="demo")
        rules = plate_rules(settings.plates)
        self.name = name
        self.engine = RapidOcrEngine(polite=polite)
        self.locator = PlateLocator(self.engine, rules, options)
        self.people = make_person_detector(0.1, settings.tuning.iou)
        detector = CompositeDetector(self.people, LocalPlateDetector(locator=self.locator))
        self.analyzer = PlateAnalyzer(
            detector, "bench", Tuning(), VotingOptions(), frame_rate=1.5, rules=rules
        )
        self.scale = min(options.short_side / min(frames[0].shape[:2]), 1.0)
        self.locator.locate(frames[0])  # models load outside the timing
        self.people.detect(frames[0])
        self.steps: dict[str, list[float]] = {s: [] for s in STEPS}
        self.exact = 0

    def run(self, i: int, image: np.ndarray, plate: str) -> None:
        """Time every step on frame ``i``."""
        small = cv2.resize(image, None, fx=self.scale, fy=self.scale, interpolation=cv2.INTER_AREA)
        fast = self.locator.options.fast_detection
        self.steps["text_detection"].append(_timed(lambda: self.engine.detect(small, fast=fast))[1])
        self.steps["people"].append(_timed(self.people.detect, image)[1])
        found, ms = _timed(self.locator.locate, image)
        self.steps["plate_search"].append(ms)
        self.exact += plate in list(found.data.get("plate_text", []))  # type: ignore[union-attr]
        t = 1e9 + i / 1.5
        self.steps["analyze"].append(_timed(self.analyzer.analyze, Frame(image, i, "0", t, t))[1])

    def result(self, frames: int) -> dict:
        out: dict = {"config": self.name, "frames": frames, "plate_read_exactly": self.exact}
        for step, values in self.steps.items():
            out[f"{step}_ms_p50"] = percentile(values, 50)
            out[f"{step}_ms_p95"] = percentile(values, 95)
        return out


def main(args: argparse.Namespace) -> int:
    clip = Path(args.clip) if Path(args.clip).is_file() else clips([args.clip])[0]
    plate = args.plate or plate_from_name(clip)
    frames = _frames(clip, args.frames)
    settings = load_settings(cameras="demo")
    configs = [
        ("baseline", False, LocatorOptions(short_side=540, upscale=False, second_look_below=0.0)),
        (
            "current",
            True,
            LocatorOptions(
                short_side=settings.plates.plate_detect_short_side,
                upscale=False,
                fast_detection=settings.plates.plate_detect_model == "fast",
            ),
        ),
    ]
    pipelines = [_Config(name, polite, opts, frames) for name, polite, opts in configs]
    with cpu_load(args.load):
        shown = progress(frames, desc="search", unit="frame", json_output=args.json)
        for i, image in enumerate(shown):  # interleaved: both see the same moments of load
            for pipeline in pipelines:
                pipeline.run(i, image, plate or "")
    results = [p.result(len(frames)) for p in pipelines]
    h, w = frames[0].shape[:2]
    print(f"search: {clip.name} ({w}x{h}), {len(frames)} frames, load {args.load} core(s), plate {plate}")
    steps = STEPS
    rows = [
        [
            r["config"],
            *(f"{r[f'{s}_ms_p50']:.0f} / {r[f'{s}_ms_p95']:.0f}" for s in steps),
            r["plate_read_exactly"],
        ]
        for r in results
    ]
    print_table(["config", *(f"{s} ms p50/p95" for s in steps), "frames read exactly"], rows)
    base, cur = results
    ratio = base["plate_search_ms_p50"] / cur["plate_search_ms_p50"]
    print(f"plate search: {ratio:.2f}x faster than the baseline (median)")
    if args.json:
        print_json({"clip": clip.name, "load": args.load, "results": results, "plate_search_speedup": ratio})
    return 0
