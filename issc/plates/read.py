"""Still images: find every plate and read it (no tracking, no voting).

Used by ``python -m issc.eval plates`` and for one-off uploads. Each plate found by the locator is
cut from the clean image with some context (padding), read by the ``PlateReader``, and the
locator's own line read joins the candidates; the candidate with the highest plate-likeness ×
confidence wins.
"""

from __future__ import annotations

import numpy as np
import supervision as sv

from issc.plates.locate import PlateLocator
from issc.plates.ocr import PlateReader
from issc.plates.voting import pad_box
from issc.types import PlateRead

#: Context kept around a plate box when cutting the crop to read (fractions of its size).
CROP_PAD_X = 0.15
CROP_PAD_Y = 0.5


def read_plates(image: np.ndarray, locator: PlateLocator, reader: PlateReader) -> sv.Detections:
    """Find and read the plates of one BGR image.

    Args:
        image: BGR uint8 image.
        locator: Finds plate boxes.
        reader: Reads each padded crop.

    Returns:
        Plate detections (class ``PLATE``), best first, with ``data["plate_text"]`` (``""`` when
        unreadable) and ``data["ocr_conf"]``.
    """
    dets = locator.locate(image)
    texts, confs = [], []
    for xyxy, line_text, line_conf in zip(dets.xyxy, dets.data["plate_text"], dets.confidence, strict=True):
        x0, y0, x1, y1 = pad_box(xyxy, image.shape, CROP_PAD_X, CROP_PAD_Y)
        candidates = reader.candidates(image[y0:y1, x0:x1])
        candidates.append(PlateRead(str(line_text), float(line_conf)))
        best = max(candidates, key=lambda r: r.confidence)
        ok = best.text and best.confidence >= reader.min_conf
        texts.append(best.text if ok else "")
        confs.append(best.confidence if ok else 0.0)
    dets.data["plate_text"] = np.array(texts, dtype=object)
    dets.data["ocr_conf"] = np.array(confs, dtype=np.float32)
    return dets
