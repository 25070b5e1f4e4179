"""Measure plate finding and reading on labelled data, and run the live pipeline on a clip.

The command line of ``python -m issc.eval``: the parser of its ``plates`` and ``video`` commands
and the entry point (the first paragraph above is the parser's description).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from issc.eval.plates import cmd_plates
from issc.eval.video import cmd_video
from issc.plates.ocr import ENGINES
from issc.plates.ocr.reader import PREPROCESS
from issc.plates.regions import DEFAULT_REGION, REGIONS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m issc.eval", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    plates = sub.add_parser(
        "plates",
        help="plate finding and reading on a labelled manifest",
        description=(
            "Reads a manifest CSV and scores the offline plate pipeline. Two layouts are accepted: "
            "'set,image,plate_text,x,y,w,h' (whole images with one labelled plate box each; x,y may be "
            "-1 and are clamped) and 'image,state,plate_text' (each image is already a plate crop, e.g. "
            "plates/crops/labels.csv; implies --crops). Image paths are relative to --root. Prints per-set "
            "rows: box recall at IoU>=0.5 (whole images only), exact read after normalisation, character "
            "accuracy (1 - edit distance / length) and median ms per image."
        ),
    )
    plates.add_argument("--manifest", type=Path, required=True, help="CSV in one of the two layouts")
    plates.add_argument("--root", type=Path, required=True, help="folder the image paths are relative to")
    plates.add_argument(
        "--crops", action="store_true", help="read the labelled box crop only (no plate finding)"
    )
    plates.add_argument("--engine", choices=ENGINES, default="rapidocr")
    plates.add_argument("--preprocess", choices=PREPROCESS, default="none")
    plates.add_argument("--min-conf", type=float, default=0.1, help="reads below are dropped")
    plates.add_argument(
        "--region",
        choices=tuple(REGIONS),
        default=DEFAULT_REGION,
        help="plate rules of this region preset (PLATE_REGION): layouts, look-alike swaps, O/0 policy",
    )
    plates.add_argument(
        "--o-is-zero", action="store_true", help="read every O as 0 (plates that never use the letter O)"
    )
    plates.add_argument(
        "--second-opinion",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="fuse the plate-trained recogniser's reads of unsure lines (issc.plates.ocr.second; "
        "off by default, as live)",
    )
    plates.add_argument(
        "--detect-model",
        choices=("accurate", "fast"),
        default="fast",
        help="text detector of the photo search: fast (PP-OCRv4 mobile, the default for photos) or "
        "accurate (PP-OCRv6 small); live cameras use PLATE_DETECT_MODEL",
    )
    plates.add_argument(
        "--live-short-side",
        type=int,
        default=0,
        help="search as on live frames: scaled down (never up) to this short side "
        "(PLATE_DETECT_SHORT_SIDE, e.g. 288), candidates found again at full size; 0: as photos",
    )
    plates.add_argument("--limit", type=int, default=0, help="evaluate an evenly spaced subset of N rows")
    plates.add_argument(
        "--verbose", "-v", action="store_true", help="list every wrong read with its reason (MISS_REASONS)"
    )
    plates.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object last: the totals, by_height (lt20, 20to40, gt40: labelled plate "
        "height in pixels, each with the same metrics), misses (count per reason) and confusions "
        '({truth char: {read char: count}}; "" for a dropped or added character)',
    )
    plates.set_defaults(func=cmd_plates)

    video = sub.add_parser(
        "video",
        help="run the live analyzer on every frame of a clip and list the plate events",
        description="Runs the live analyzer (local plate detector, ByteTrack, per-track voting) on each frame.",
    )
    video.add_argument("path", type=Path)
    video.add_argument("--engine", choices=ENGINES, default="rapidocr")
    video.add_argument("--preprocess", choices=PREPROCESS, default="none")
    video.add_argument(
        "--json",
        action="store_true",
        help="print a JSON list of {text, confidence, reads, ocr_calls, first_seen_s, last_seen_s} last",
    )
    video.set_defaults(func=cmd_video)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m issc.eval``."""
    args = build_parser().parse_args(argv)
    return int(args.func(args))
