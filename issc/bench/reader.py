"""``python -m issc.bench reader``: what the plate-trained second opinion costs per plate crop.

Reads every crop of a crops manifest (default: the 300 US crops of the test data) twice in turn,
with PP-OCR alone and with the second opinion (``issc.plates.ocr.second``), in the same process,
and times the second model alone on the lines it was asked about (batch of one, as live).
"""

from __future__ import annotations

import argparse
import csv
import statistics
import time
from pathlib import Path

import cv2
import numpy as np

from issc.bench.common import data_dir, print_json, print_table
from issc.plates.ocr import get_engine
from issc.plates.ocr.lines import TextLine
from issc.plates.ocr.reader import PlateReader
from issc.plates.ocr.second import SecondOpinion, plate_line_model
from issc.plates.regions import REGIONS, region_preset


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--manifest", type=Path, default=None, help="crops labels.csv (default: the US crops)"
    )
    parser.add_argument("--region", choices=tuple(REGIONS), default="us")
    parser.add_argument("--limit", type=int, default=0, help="first N crops only")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")


class _TimedOpinion:
    """Wraps a ``SecondOpinion``: times each ``refine`` and counts the lines seen and fused."""

    def __init__(self, opinion: SecondOpinion) -> None:
        self.opinion = opinion
        self.calls_ms: list[float] = []
        self.lines = 0
        self.fused = 0

    def refine(self, image: np.ndarray, lines: list[TextLine]) -> list[TextLine]:
        start = time.perf_counter()
        out = self.opinion.refine(image, lines)
        self.calls_ms.append((time.perf_counter() - start) * 1000)
        self.lines += len(lines)
        self.fused += sum(a is not b for a, b in zip(lines, out, strict=True))
        return out


def main(args: argparse.Namespace) -> int:
    manifest = args.manifest or data_dir() / "plates" / "crops" / "labels.csv"
    with manifest.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    if args.limit:
        rows = rows[: args.limit]
    rules = region_preset(args.region).rules()
    engine = get_engine("rapidocr")
    opinion = _TimedOpinion(SecondOpinion(plate_line_model()))
    alone = PlateReader(engine, rules=rules)
    fused = PlateReader(engine, rules=rules, second=opinion)  # type: ignore[arg-type]
    images = [cv2.imread(str(manifest.parent / r["image"])) for r in rows]
    alone.read(images[0]), fused.read(images[0])  # load the models
    opinion.calls_ms.clear()
    opinion.lines = opinion.fused = 0
    times: dict[str, list[float]] = {"alone": [], "fused": []}
    for image in images:
        for name, reader in (("alone", alone), ("fused", fused)):
            start = time.perf_counter()
            reader.read(image)
            times[name].append((time.perf_counter() - start) * 1000)
    line = images[0][:40, :]  # a line-sized crop: time the model alone, batch of one
    model = plate_line_model()
    model_ms = []
    for _ in range(100):
        start = time.perf_counter()
        model.read([line])
        model_ms.append((time.perf_counter() - start) * 1000)
    result = {
        "crops": len(images),
        "alone_ms_median": round(statistics.median(times["alone"]), 1),
        "fused_ms_median": round(statistics.median(times["fused"]), 1),
        "ratio": round(statistics.median(times["fused"]) / statistics.median(times["alone"]), 3),
        "refine_ms_median": round(statistics.median(opinion.calls_ms), 2),
        "model_ms_per_line": round(statistics.median(model_ms), 2),
        "lines": opinion.lines,
        "lines_fused": opinion.fused,
    }
    print_table(list(result), [list(result.values())])
    if args.json:
        print_json(result)
    return 0
