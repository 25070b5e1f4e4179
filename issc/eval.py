"""Measure plate finding and reading on labelled data, and run the live pipeline on a clip.

    python -m issc.eval plates --manifest ../shared/data/plates/manifest.csv --root ../shared/data/plates
    python -m issc.eval plates --manifest ../shared/data/plates/crops/labels.csv \\
        --root ../shared/data/plates/crops --crops --region us
    python -m issc.eval video ../shared/data/videos/aiguy_license_plate_uk_LS15EBC.mp4 --json

Everything runs offline with the default stack (RapidOCR text detector as plate locator,
RapidOCR reader); ``--engine``/``--preprocess`` compare the alternatives and ``--region`` picks
the plate rules (``PLATE_REGION``). An image in which no plate is found counts as a miss;
``--verbose`` gives each miss's reason (``MISS_REASONS``) and ``--json`` adds the totals by plate
height (``HEIGHT_BANDS``) and the character confusions (``confusions``: truth -> read counts).
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
from rapidfuzz.distance import Levenshtein

from issc.detections import box_iou
from issc.plates.locate import LocatorOptions, PlateLocator
from issc.plates.ocr import ENGINES, get_engine
from issc.plates.ocr.reader import PREPROCESS, PlateReader
from issc.plates.ocr.second import second_opinion_for
from issc.plates.read import read_plates
from issc.plates.regions import DEFAULT_REGION, REGIONS, region_preset
from issc.plates.text import levenshtein, normalize
from issc.progress import progress
from issc.types import Frame, PlateRead

#: Why a plate was missed: no located box overlaps the labelled one (IoU >= 0.5); the plate was
#: found but the read reported for it came from another text line (another candidate read the
#: plate better, or the read shares under half its characters with the plate) or another box
#: was ranked first; the plate's own line was read wrong.
NOT_FOUND, OTHER_LINE, MISREAD = "not found", "another line chosen", "misread"
MISS_REASONS = (NOT_FOUND, OTHER_LINE, MISREAD)
#: Labelled plate height bands (pixels) of ``--json``'s ``by_height``: (key, lowest, highest).
HEIGHT_BANDS = (("lt20", 0, 19), ("20to40", 20, 40), ("gt40", 41, None))


@dataclass(frozen=True)
class Sample:
    """One labelled plate: image path, text, and its box (``None``: the image is the crop)."""

    set: str
    image: Path
    text: str
    box: tuple[int, int, int, int] | None  # x, y, w, h as in the manifest


@dataclass(frozen=True)
class SampleResult:
    """The outcome on one sample.

    Attributes:
        sample: The labelled plate.
        read: The read reported for it (``""``: none).
        found: Whether a located box overlaps the labelled one (IoU >= 0.5); crops: always.
        ms: Time taken, milliseconds.
        height: The plate's height in pixels: its labelled box, or the crop.
        first: Whether the best-ranked located box is the labelled plate (crops: ``None``).
        reason: Why the read is wrong (``MISS_REASONS``); ``None`` when it is right.
        first_read: The read of the best-ranked located box, if any (for ``--verbose``).
    """

    sample: Sample
    read: str
    found: bool
    ms: float
    height: int = 0
    first: bool | None = None
    reason: str | None = None
    first_read: str = ""


def load_manifest(path: Path, root: Path) -> list[Sample]:
    """Read ``set,image,plate_text,x,y,w,h`` or ``image,state,plate_text`` (crops) rows.

    Raises:
        ValueError: The CSV has neither layout.
    """
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        return []
    cols = set(rows[0])
    if not {"image", "plate_text"} <= cols:
        raise ValueError(f"{path}: expected columns image and plate_text, got {sorted(cols)}")
    has_box = {"x", "y", "w", "h"} <= cols
    samples = []
    for row in rows:
        box = tuple(int(float(row[k])) for k in "xywh") if has_box else None
        label = row.get("set") or row.get("state") or ""
        samples.append(Sample(label, root / row["image"], normalize(row["plate_text"]), box))  # type: ignore[arg-type]
    return samples


def char_accuracy(truth: str, read: str) -> float:
    """``1 - edit distance / len(truth)``, floored at 0."""
    return max(0.0, 1.0 - levenshtein(truth, read) / max(len(truth), 1))


def _clamped_xyxy(box: tuple[int, int, int, int], shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    x, y, w, h = box
    hh, ww = shape[:2]
    return max(0, x), max(0, y), min(ww, x + w), min(hh, y + h)


def evaluate_sample(sample: Sample, locator: PlateLocator, reader: PlateReader, crops: bool) -> SampleResult:
    """Run the offline pipeline on one sample.

    Whole images: every plate found is read; the result is the read of the best-ranked located box
    on the labelled plate (IoU ≥ 0.5 counts as found: the locator's ranking, not the overlap,
    decides between a plate's registration and its lesser print); if none overlaps, the best read
    in the image, and none at all when nothing was found (a miss). Crops (``crops`` or no box): the
    crop is read directly.
    """
    image = cv2.imread(str(sample.image))
    if image is None:
        raise FileNotFoundError(f"cannot read image {sample.image}")
    start = time.perf_counter()
    if crops or sample.box is None:
        if sample.box is not None:
            x0, y0, x1, y1 = _clamped_xyxy(sample.box, image.shape)
            image = image[y0:y1, x0:x1]
        candidates = reader.candidates(image)  # what reader.read() picks from
        ms = (time.perf_counter() - start) * 1000
        read = candidates[0] if candidates and candidates[0].confidence >= reader.min_conf else None
        text = read.text if read else ""
        reason = None if text == sample.text else miss_reason(sample.text, text, candidates, True)
        return SampleResult(sample, text, True, ms, height=image.shape[0], reason=reason)
    plates = read_plates(image, locator, reader)
    ms = (time.perf_counter() - start) * 1000
    gt = _clamped_xyxy(sample.box, image.shape)
    overlaps = [box_iou(box, gt) for box in plates.xyxy]
    on_plate = [i for i, overlap in enumerate(overlaps) if overlap >= 0.5]  # best-ranked first
    found = bool(on_plate)
    best = on_plate[0] if found else 0
    texts = [str(t) for t in plates.data.get("plate_text", [])]
    text = texts[best] if texts else ""
    first = found and overlaps[0] >= 0.5
    reason = None
    if text != sample.text:
        if not found:
            reason = NOT_FOUND
        else:
            considered = plates.data.get("read_candidates", [()] * len(plates))[best] or ()
            reason = miss_reason(sample.text, text, considered, first)
    return SampleResult(
        sample,
        text,
        found,
        ms,
        height=gt[3] - gt[1],
        first=first,
        reason=reason,
        first_read=texts[0] if texts else "",
    )


def miss_reason(truth: str, read: str, considered: Sequence[PlateRead], first: bool) -> str:
    """Why the plate ``truth``, found, was reported as ``read`` (``MISS_REASONS``).

    Args:
        truth: The labelled text.
        read: The read reported for the labelled box.
        considered: Every read considered for that box.
        first: Whether that box was ranked first in the image.
    """
    accuracy = char_accuracy(truth, read)
    better = any(char_accuracy(truth, c.text) > accuracy for c in considered)
    return OTHER_LINE if better or accuracy < 0.5 or not first else MISREAD


def summarise(results: list[SampleResult], crops: bool) -> dict[str, float | int | None]:
    """The metrics over ``results``: images, box_recall, first_recall (the best-ranked box is the
    labelled plate), exact, exact_o0, char_acc, ms_median."""
    n = len(results)
    if n == 0:
        return {
            "images": 0,
            "box_recall": None,
            "first_recall": None,
            "exact": None,
            "exact_o0": None,
            "char_acc": None,
            "ms_median": None,
        }
    return {
        "images": n,
        "box_recall": None if crops else round(sum(r.found for r in results) / n, 4),
        "first_recall": None if crops else round(sum(bool(r.first) for r in results) / n, 4),
        "exact": round(sum(r.read == r.sample.text for r in results) / n, 4),
        "exact_o0": round(sum(_o0(r.read) == _o0(r.sample.text) for r in results) / n, 4),
        "char_acc": round(sum(char_accuracy(r.sample.text, r.read) for r in results) / n, 4),
        "ms_median": round(statistics.median(r.ms for r in results), 1),
    }


def by_height(results: list[SampleResult], crops: bool) -> dict[str, dict[str, float | int | None]]:
    """``summarise`` per plate height band (``HEIGHT_BANDS``)."""
    return {
        key: summarise([r for r in results if low <= r.height and (high is None or r.height <= high)], crops)
        for key, low, high in HEIGHT_BANDS
    }


def miss_counts(results: list[SampleResult]) -> dict[str, int]:
    """How many misses had each reason (``MISS_REASONS``)."""
    return {reason: sum(r.reason == reason for r in results) for reason in MISS_REASONS}


def confusions(pairs: Iterable[tuple[str, str]]) -> dict[str, dict[str, int]]:
    """Character confusions over ``(truth, read)`` pairs: ``{truth char: {read char: count}}``.

    Each pair is aligned by the fewest edits (Levenshtein); a substitution counts under its two
    characters, a dropped character under ``{char: {"": n}}`` and an added one under
    ``{"": {char: n}}``. Pairs with no read (nothing found) are left out: they hold no confusion.
    Rows and entries are sorted by count, most first.
    """
    counts: Counter[tuple[str, str]] = Counter()
    for truth, read in pairs:
        if not read:
            continue
        for op, i, j in Levenshtein.editops(truth, read):
            if op == "replace":
                counts[truth[i], read[j]] += 1
            elif op == "delete":
                counts[truth[i], ""] += 1
            else:
                counts["", read[j]] += 1
    table: dict[str, dict[str, int]] = {}
    for (want, got), n in counts.most_common():
        table.setdefault(want, {})[got] = n
    return table


def _confusion_line(table: dict[str, dict[str, int]], top: int = 12) -> str:
    """The ``top`` most frequent confusions as ``1→I 4, 0→D 3, 5→- 1`` (``-``: none)."""
    flat = sorted(
        ((n, want or "-", got or "-") for want, row in table.items() for got, n in row.items()), reverse=True
    )
    return ", ".join(f"{want}→{got} {n}" for n, want, got in flat[:top]) or "none"


def _o0(text: str) -> str:
    """Fold O and 0 together: many plates (Slovak among them) print both with one glyph."""
    return text.replace("O", "0")


def _fmt(value: float | int | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def cmd_plates(args: argparse.Namespace) -> int:
    samples = load_manifest(args.manifest, args.root)
    if args.limit:
        samples = samples[:: max(1, len(samples) // args.limit)][: args.limit]
    region = region_preset(args.region)
    rules = region.rules(o_is_zero=True if args.o_is_zero else None)
    second = second_opinion_for(args.engine) if args.second_opinion else None
    reader = PlateReader(get_engine(args.engine), args.preprocess, args.min_conf, rules, second=second)
    locator = PlateLocator(
        reader.engine, rules, replace(LocatorOptions(), grow_y=region.plate_grow_y), second=second
    )
    crops = args.crops or any(s.box is None for s in samples)
    results = []
    for sample in progress(samples, desc="plates", unit="image", json_output=args.json):
        result = evaluate_sample(sample, locator, reader, crops)
        results.append(result)
        if args.verbose and result.reason is not None:
            ranked = ""
            if not result.first and result.first_read and result.first_read != result.read:
                ranked = f" (ranked first: {result.first_read})"
            print(
                f"  miss {sample.image.name}: want {sample.text} got {result.read or '-'} "
                f"found={result.found} reason={result.reason}{ranked}"
            )
    groups: dict[str, list[SampleResult]] = {}
    for r in results:
        groups.setdefault(r.sample.set if not crops else "crops", []).append(r)
    header = f"{'set':<8}{'images':>8}{'box_recall':>12}{'exact':>8}{'exact_o0':>10}{'char_acc':>10}{'ms_median':>11}"
    print(f"engine={reader.name} region={args.region} mode={'crops' if crops else 'whole images'}")
    print(header)
    rows = [*sorted(groups.items()), ("all", results)] if len(groups) > 1 else [("all", results)]
    for name, group in rows:
        m = summarise(group, crops)
        print(
            f"{name:<8}{m['images']:>8}{_fmt(m['box_recall']):>12}{_fmt(m['exact']):>8}{_fmt(m['exact_o0']):>10}"
            f"{_fmt(m['char_acc']):>10}{_fmt(m['ms_median']):>11}"
        )
    misses = miss_counts(results)
    print("misses: " + ", ".join(f"{reason} {n}" for reason, n in misses.items()))
    table = confusions((r.sample.text, r.read) for r in results)
    print("confusions (truth→read): " + _confusion_line(table))
    if args.json:
        totals = {
            **summarise(results, crops),
            "by_height": by_height(results, crops),
            "misses": misses,
            "confusions": table,
        }
        print(json.dumps(totals))
    return 0


def cmd_video(args: argparse.Namespace) -> int:
    from issc.analysis import PlateAnalyzer
    from issc.detect.local_plates import LocalPlateDetector
    from issc.tuning import Tuning

    cap = cv2.VideoCapture(str(args.path))
    if not cap.isOpened():
        print(f"cannot open video {args.path}", file=sys.stderr)
        return 2
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    tuning = Tuning(ocr_engine=args.engine, ocr_preprocess=args.preprocess)
    analyzer = PlateAnalyzer(
        LocalPlateDetector(args.engine), camera=args.path.stem, tuning=tuning, frame_rate=fps
    )
    t0 = 1_000_000_000.0  # any epoch: seconds into the clip are what is reported
    events = []
    frame_id = 0
    calls = 0
    frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    for _ in progress(iter(int, 1), total=frames, desc=args.path.name, unit="frame", json_output=args.json):
        ok, image = cap.read()
        if not ok:
            break
        t = t0 + frame_id / fps
        result = analyzer.analyze(Frame(image, frame_id, "0", t, t))
        calls += result.ocr_calls
        events.extend(result.events)
        frame_id += 1
    cap.release()
    events.extend(analyzer.flush())
    rows = [
        {
            "text": e.text,
            "confidence": round(e.confidence, 4),
            "reads": e.reads,
            "ocr_calls": e.ocr_calls,
            "first_seen_s": round(e.first_seen.timestamp() - t0, 3),
            "last_seen_s": round(e.last_seen.timestamp() - t0, 3),
        }
        for e in events
    ]
    print(f"{frame_id} frames, {len(events)} plate events, {calls} OCR calls")
    for r in rows:
        print(
            f"  {r['text']:<10} conf={r['confidence']:.2f} reads={r['reads']} ocr_calls={r['ocr_calls']}"
            f" {r['first_seen_s']:.2f}s-{r['last_seen_s']:.2f}s"
        )
    if args.json:
        print(json.dumps(rows))
    return 0


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


if __name__ == "__main__":
    sys.exit(main())
