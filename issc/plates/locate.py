"""Finding licence plates in whole images without a trained plate detector (offline, no key).

The OCR engine's text detector finds every text line in the image; a line is kept as a plate when
its text looks like a registration: plate length, letters and digits mixed or a known format,
no lower-case letters (signs, brand names and slogans have them), and a plate-like box aspect. The
text box (which the detector already draws with a margin) serves as the plate box.

Measured on ``plates/manifest.csv`` (168 EU + BR photos, box recall at IoU >= 0.5): this locator
99.4 %; OpenCV's ``haarcascade_russian_plate_number`` 14.9 % and
``haarcascade_license_plate_rus_16stages`` 4.2 % (fast, ~10 ms, but trained on Russian plates), so the
cascades are not used here.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import supervision as sv

from issc.detect.base import PLATE, empty_detections, make_detections
from issc.plates.ocr import OcrEngine, TextLine, joined_beliefs
from issc.plates.text import DEFAULT_RULES, Belief, PlateRules, normalize


@dataclass(frozen=True)
class LocatorOptions:
    """Tunables of ``PlateLocator``.

    Attributes:
        short_side: Images are scaled so their short side is this many pixels before text
            detection (small plates in small photos need the upscale; big frames get faster).
        max_long_side: Upper bound on the long side after scaling.
        upscale: Whether smaller images are scaled up to ``short_side``. Stills benefit; live
            frames are only scaled down (upscaling a 360p stream costs twice the time and adds no
            detail the plate reader could use).
        min_aspect: Narrowest text box (width / height) kept.
        max_aspect: Widest text box kept.
        grow_x: The plate box is the text box widened by this fraction of its width each side.
        grow_y: ... and heightened by this fraction of its height each side. The detector's
            boxes already carry a margin (DB unclip); on the labelled EU/BR boxes the text box
            itself overlaps the plate box best (larger growth lowered IoU below 0.5 on 1 in 5).
    """

    short_side: int = 736
    max_long_side: int = 1600
    upscale: bool = True
    min_aspect: float = 1.3
    max_aspect: float = 12.0
    grow_x: float = 0.02
    grow_y: float = 0.0


def plate_likeness(raw: str, rules: PlateRules = DEFAULT_RULES, beliefs: list[Belief] | None = None) -> float:
    """How much a raw text line looks like a registration, in [0, 1] (0: not a plate).

    Args:
        raw: Text as recognised (case and punctuation kept: lower case means "not a plate").
        rules: Plate rules (lengths, formats).
        beliefs: The recogniser's per-character beliefs, if known (``PlateRules.apply``).
    """
    text = rules.apply(raw, beliefs)
    if not rules.plausible(text):
        return 0.0
    letters = sum(c.isalpha() for c in normalize(raw))
    lower = sum(c.islower() for c in raw)
    if lower > 0 and lower >= letters / 3:
        return 0.15
    if rules.matching_format(text):
        return 1.0
    has_digit = any(c.isdigit() for c in text)
    has_alpha = any(c.isalpha() for c in text)
    return 0.85 if has_digit and has_alpha else 0.45


class PlateLocator:
    """Finds plates in a whole BGR image as canonical ``sv.Detections`` (class ``PLATE``).

    Detections carry ``data["plate_text"]`` (the line's normalised text, a free first read) and
    ``confidence`` = OCR confidence × plate-likeness.

    Args:
        engine: OCR engine whose text detector and recogniser are used.
        rules: Plate rules for the plate-likeness test.
        options: Scaling, aspect and box growth.
    """

    def __init__(
        self, engine: OcrEngine, rules: PlateRules = DEFAULT_RULES, options: LocatorOptions | None = None
    ) -> None:
        self.engine = engine
        self.rules = rules
        self.options = options or LocatorOptions()

    def text_lines(self, image: np.ndarray) -> list[TextLine]:
        """Every text line of ``image``, polygons in the image's own pixels."""
        h, w = image.shape[:2]
        opts = self.options
        scale = min(opts.short_side / min(h, w), opts.max_long_side / max(h, w))
        if not opts.upscale:
            scale = min(scale, 1.0)
        work = image
        if abs(scale - 1.0) > 0.05:
            interp = cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA
            work = cv2.resize(image, None, fx=scale, fy=scale, interpolation=interp)
        else:
            scale = 1.0
        return [
            TextLine(ln.polygon / scale, ln.text, ln.confidence, ln.chars) for ln in self.engine.lines(work)
        ]

    def locate(self, image: np.ndarray) -> sv.Detections:
        """Plates in ``image`` (BGR uint8), in its pixels, best first."""
        h, w = image.shape[:2]
        opts = self.options
        boxes, scores, texts = [], [], []
        for line in self.text_lines(image):
            x0, y0, x1, y1 = line.xyxy
            bw, bh = x1 - x0, y1 - y0
            if bh <= 0 or not opts.min_aspect <= bw / bh <= opts.max_aspect:
                continue
            beliefs = joined_beliefs([line])
            likeness = plate_likeness(line.text, self.rules, beliefs)
            if likeness <= 0:
                continue
            gx, gy = opts.grow_x * bw, opts.grow_y * bh
            boxes.append([max(0.0, x0 - gx), max(0.0, y0 - gy), min(w, x1 + gx), min(h, y1 + gy)])
            scores.append(line.confidence * likeness)
            texts.append(self.rules.apply(line.text, beliefs))
        if not boxes:
            return empty_detections()
        order = np.argsort(scores)[::-1]
        dets = make_detections(np.array(boxes)[order], np.array(scores)[order], np.full(len(boxes), PLATE))
        dets.data["plate_text"] = np.array(texts, dtype=object)[order]
        return dets
