"""One labelled sample run through the offline pipeline and scored: its read, and why it is wrong."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import cv2

from issc.detections import box_iou
from issc.eval.manifest import Sample
from issc.plates.locate import PlateLocator
from issc.plates.ocr.reader import PlateReader
from issc.plates.read import read_plates
from issc.plates.text import levenshtein
from issc.types import PlateRead

#: Why a plate was missed: no located box overlaps the labelled one (IoU >= 0.5); the plate was
#: found but the read reported for it came from another text line (another candidate read the
#: plate better, or the read shares under half its characters with the plate) or another box
#: was ranked first; the plate's own line was read wrong.
NOT_FOUND, OTHER_LINE, MISREAD = "not found", "another line chosen", "misread"
MISS_REASONS = (NOT_FOUND, OTHER_LINE, MISREAD)


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
