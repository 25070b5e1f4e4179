"""Where a clip shows its plate, measured once: the reference that ``bench passes`` scores against.

The still-image plate locator at full resolution reads every frame of the clip, and the box whose
text is most like the plate (``similarity`` >= ``REFERENCE_MIN_SIMILARITY``) is that frame's
reference; frames without one count as "car not in view". ``shows_plate`` tells whether the boxes
drawn on a published frame include the plate's. The reference is cached in ``~/.cache/issc/``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import supervision as sv

from issc.detections import OPACITY_KEY, PLATE, box_iou
from issc.sources import video_frames

REFERENCE_MIN_SIMILARITY = 0.5  # a located text this like the plate is the plate
MATCH_MIN_IOU = 0.3  # a drawn box this overlapping the reference box shows the plate...
MATCH_MIN_OPACITY = 0.5  # ... if it is at least this opaque (a faint fading box does not count)
CACHE_DIR = Path.home() / ".cache" / "issc"
_REFERENCE_VERSION = 1  # bump when the way reference boxes are found changes

Box = tuple[float, float, float, float]


def reference_boxes(clip: Path, plate: str, cache_dir: Path = CACHE_DIR) -> list[Box | None]:
    """Per clip frame, the plate's box found by the still-image locator, or None (not in view).

    Cached in ``cache_dir`` under a key made of the clip's path, size and mtime and the plate.
    """
    stat = clip.stat()
    key = f"{clip.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{plate}|{_REFERENCE_VERSION}"
    cache = cache_dir / f"passes-reference-{hashlib.sha1(key.encode()).hexdigest()[:16]}.json"
    if cache.is_file():
        return [tuple(b) if b is not None else None for b in json.loads(cache.read_text())["boxes"]]
    boxes = _locate_plate_in_every_frame(clip, plate)
    cache_dir.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({"clip": str(clip), "plate": plate, "boxes": boxes}))
    return boxes


def _locate_plate_in_every_frame(clip: Path, plate: str) -> list[Box | None]:
    from issc.plates.locate import LocatorOptions, PlateLocator
    from issc.plates.ocr import get_engine
    from issc.plates.text import similarity

    # short_side far above any frame and no upscaling: the locator reads every frame as it is.
    # and with the accurate text detector: the reference is the best the offline search can do
    options = LocatorOptions(short_side=100_000, upscale=False, fast_detection=False)
    locator = PlateLocator(get_engine("rapidocr"), options=options)
    boxes: list[Box | None] = []
    for image in video_frames(clip):
        found = locator.locate(image)
        texts = found.data.get("plate_text", [])
        scores = [similarity(str(t), plate) for t in texts]
        best = int(np.argmax(scores)) if scores else -1
        good = best >= 0 and scores[best] >= REFERENCE_MIN_SIMILARITY
        boxes.append(tuple(float(v) for v in found.xyxy[best]) if good else None)
    if not boxes:
        raise SystemExit(f"cannot decode frames from {clip}")
    return boxes


def shows_plate(boxes: sv.Detections, reference: Box) -> bool:
    """Whether the drawn ``boxes`` include the plate's: a plate-class box at least
    ``MATCH_MIN_OPACITY`` opaque that overlaps ``reference`` with IoU >= ``MATCH_MIN_IOU`` or whose
    centre lies inside it (small plates: a box a few pixels off still marks the plate)."""
    if len(boxes) == 0:
        return False
    opacity = boxes.data.get(OPACITY_KEY)
    opacity = np.ones(len(boxes)) if opacity is None else np.asarray(opacity)
    rx0, ry0, rx1, ry1 = reference
    for xyxy, class_id, alpha in zip(boxes.xyxy, boxes.class_id, opacity, strict=True):
        if class_id != PLATE or alpha < MATCH_MIN_OPACITY:
            continue
        x0, y0, x1, y1 = (float(v) for v in xyxy)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        if rx0 <= cx <= rx1 and ry0 <= cy <= ry1:
            return True
        if box_iou(xyxy, reference) >= MATCH_MIN_IOU:
            return True
    return False
