"""Still images: find every plate and read it (no tracking, no voting).

Used by ``python -m issc.eval plates`` and for one-off uploads. Each plate found by the locator is
cut from the clean image with some context (padding), read by the ``PlateReader``, and the
locator's own line read joins the candidates; the candidate with the highest plate-likeness ×
confidence wins. The crop also shows the plate's lesser print (a state name, a slogan, a dealer's
frame): a read of the crop that has little in common with the located line's own read is of such
a line, and counts half (``OTHER_LINE_FACTOR``).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import supervision as sv

from issc.plates.crops import pad_box
from issc.plates.locate import PlateLocator
from issc.plates.ocr.reader import PlateReader
from issc.plates.text import similarity
from issc.types import PlateRead

#: Context kept around a plate's text line when cutting the crop to read (fractions of its size).
CROP_PAD_X = 0.15
CROP_PAD_Y = 0.5
#: A read of the crop that shares less than this with the located line's own read (similarity)
#: is of another line in the crop (a state name, a slogan, a dealer's frame) ...
OTHER_LINE_SIMILARITY = 0.5
#: ... and its confidence is multiplied by this.
OTHER_LINE_FACTOR = 0.5


def read_plates(image: np.ndarray, locator: PlateLocator, reader: PlateReader) -> sv.Detections:
    """Find and read the plates of one BGR image.

    Args:
        image: BGR uint8 image.
        locator: Finds plate boxes.
        reader: Reads each padded crop.

    Returns:
        Plate detections (class ``PLATE``), best first (none: an empty result with the same
        keys), with ``data["plate_text"]`` (``""`` when unreadable), ``data["ocr_conf"]`` and
        ``data["read_candidates"]`` (every read considered for that plate, a tuple of
        ``PlateRead``, best first).
    """
    dets = locator.locate(image)
    # The box is the whole plate (the verifier's, or the line grown by LocatorOptions.grow_y); the
    # crop read stays the registration's line with CROP_PAD_Y of context.
    lines = dets.data.get("line_xyxy")
    if lines is None:
        grow = locator.options.grow_y
        lines, pad_y = dets.xyxy, (CROP_PAD_Y - grow) / (1 + 2 * grow)
    else:
        pad_y = CROP_PAD_Y
    line_texts = dets.data.get("plate_text", np.full(len(dets), "", dtype=object))
    line_confs = dets.data.get("text_conf", dets.confidence)  # the read's, not the plate's, confidence
    texts, confs = [], []
    considered = np.empty(len(dets), dtype=object)  # filled one by one: tuples must stay tuples
    for i, (xyxy, line_text, line_conf) in enumerate(zip(lines, line_texts, line_confs, strict=True)):
        x0, y0, x1, y1 = pad_box(xyxy, image.shape, CROP_PAD_X, pad_y)
        candidates = [
            _unless_other_line(read, str(line_text)) for read in reader.candidates(image[y0:y1, x0:x1])
        ]
        candidates.append(PlateRead(str(line_text), float(line_conf), source="locator"))
        candidates.sort(key=lambda r: r.confidence, reverse=True)
        best = candidates[0]
        ok = best.text and best.confidence >= reader.min_conf
        texts.append(best.text if ok else "")
        confs.append(best.confidence if ok else 0.0)
        considered[i] = tuple(candidates)
    dets.data["plate_text"] = np.array(texts, dtype=object)
    dets.data["ocr_conf"] = np.array(confs, dtype=np.float32)
    dets.data["read_candidates"] = considered
    return dets


def _unless_other_line(read: PlateRead, line_text: str) -> PlateRead:
    """``read`` with its confidence lowered when it is not the located line's text but another
    line of the crop (``OTHER_LINE_SIMILARITY``); unchanged when the line read nothing."""
    if not line_text or similarity(read.text, line_text) >= OTHER_LINE_SIMILARITY:
        return read
    return replace(read, confidence=round(read.confidence * OTHER_LINE_FACTOR, 4))
