"""``python -m issc.bench verifier``: what the learned plate verifier costs on the live path.

On frames of a clip (``--clip``, the UK plate clip by default) searched as live frames are
(``PLATE_DETECT_SHORT_SIDE``), it times, in one process, each frame's plate search with the
verifier and without it (taking turns frame by frame, so both meet the same moments of load), and
the verifier alone: per call (all of a frame's candidate lines in one batch) and per candidate.
``--load N`` keeps N cores busy meanwhile.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

from issc.bench.common import clips, percentile, print_json, print_table
from issc.bench.load import cpu_load
from issc.config import load_settings
from issc.plates.locate import LocatorOptions, PlateLocator, plate_likeness
from issc.plates.ocr import get_engine
from issc.plates.regions import plate_rules
from issc.plates.verifier import PlateVerifier
from issc.sources import video_frames


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--clip", default="aiguy_license_plate_uk_LS15EBC.mp4", help="clip (path or name)")
    parser.add_argument("--frames", type=int, default=30, help="frames sampled evenly from the clip")
    parser.add_argument("--load", type=int, default=0, help="cores kept busy by other processes")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")


def main(args: argparse.Namespace) -> int:
    from pathlib import Path

    clip = Path(args.clip) if Path(args.clip).exists() else clips([args.clip])[0]
    frames = list(video_frames(clip))
    frames = frames[:: max(1, len(frames) // max(args.frames, 1))][: args.frames]
    plates = load_settings().plates
    rules = plate_rules(plates)
    live = LocatorOptions(
        short_side=plates.plate_detect_short_side,
        upscale=False,
        fast_detection=plates.plate_detect_model == "fast",
    )
    engine = get_engine("rapidocr")
    verifier = PlateVerifier()
    with_verifier = PlateLocator(engine, rules, live, verifier)
    without = PlateLocator(engine, rules, replace(live, verify=False))
    with_verifier.locate(frames[0])  # models load outside the timing
    without.locate(frames[0])
    times: dict[str, list[float]] = {
        "search_without": [],
        "search_with": [],
        "verify_call": [],
        "verify_per_line": [],
    }
    lines_seen = 0
    with cpu_load(args.load):
        for image in frames:
            t = time.perf_counter()
            without.locate(image)
            times["search_without"].append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            with_verifier.locate(image)
            times["search_with"].append((time.perf_counter() - t) * 1000)
            lines = [ln for ln in without.text_lines(image) if plate_likeness(ln.text, rules) > 0]
            if not lines:
                continue
            boxes = [ln.xyxy for ln in lines]
            t = time.perf_counter()
            verifier.verify(image, boxes, [ln.text for ln in lines], [ln.confidence for ln in lines])
            ms = (time.perf_counter() - t) * 1000
            times["verify_call"].append(ms)
            times["verify_per_line"].append(ms / len(lines))
            lines_seen += len(lines)
    result = {f"{k}_ms_p50": percentile(v, 50) for k, v in times.items()}
    result |= {f"{k}_ms_p95": percentile(v, 95) for k, v in times.items()}
    result |= {"frames": len(frames), "candidate_lines": lines_seen, "load": args.load, "clip": clip.name}
    h, w = frames[0].shape[:2]
    print(
        f"verifier: {clip.name} ({w}x{h}), {len(frames)} frames, {lines_seen} candidate lines, load {args.load}"
    )
    print_table(
        ["step", "ms p50", "ms p95"],
        [[k, result[f"{k}_ms_p50"], result[f"{k}_ms_p95"]] for k in times],
    )
    base, new = result["search_without_ms_p50"], result["search_with_ms_p50"]
    if base and new:
        print(f"plate search with the verifier: {new / base:.2f}x the time without (median)")
    if args.json:
        print_json(result)
    return 0
