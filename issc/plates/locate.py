"""Finding licence plates in whole images without a trained plate detector (offline, no key).

The OCR engine's text detector finds every text line in the image; a line is kept as a plate when
its text looks like a registration: plate length, letters and digits mixed or a known format,
no lower-case letters (signs, brand names and slogans have them), and a plate-like box aspect. The
text box (which the detector already draws with a margin) serves as the plate box. Lines are
ranked by what their text says times what the picture shows around them
(``issc.plates.appearance``: the tallest print of its plate, contrast, away from the picture's
edge, no date), so a date stamp or a state slogan loses to the plate.

Measured on ``plates/manifest.csv`` (168 EU + BR photos, box recall at IoU >= 0.5): this locator
99.4 %; OpenCV's ``haarcascade_russian_plate_number`` 14.9 % and
``haarcascade_license_plate_rus_16stages`` 4.2 % (fast, ~10 ms, but trained on Russian plates), so the
cascades are not used here.

On live frames the search is what an analysed frame costs most, so it is shaped for a small CPU:
text is detected on a copy of the frame scaled down to ``short_side`` (``PLATE_DETECT_SHORT_SIDE``,
288 px: a sixth of a 720p frame's pixels), lines whose box cannot be a
plate's are never recognised, and each remaining candidate is detected again at full resolution
in a small window around it (``_second_look``) and read from the full-resolution frame. The
coarse pass is run with low text-map thresholds (``sensitive``): it only proposes windows, and
plates a few pixels tall on the small copy are faint there.
``python -m issc.bench search`` measures each step.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import supervision as sv

from issc.detections import PLATE, empty_detections, make_detections
from issc.plates.appearance import plate_appearance
from issc.plates.ocr.lines import OcrEngine, TextLine, joined_beliefs
from issc.plates.ocr.second import SecondOpinion
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
        second_look_below: When the search ran on a copy scaled below this, each candidate line
            is detected again at full resolution in a window around it (``_second_look``).
        second_look_pad: That window reaches this many line heights beyond the line, each side.
    """

    short_side: int = 736
    max_long_side: int = 1600
    upscale: bool = True
    min_aspect: float = 1.3
    max_aspect: float = 12.0
    grow_x: float = 0.02
    grow_y: float = 0.0
    second_look_below: float = 0.75
    second_look_pad: float = 0.6


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
    # With o_is_zero every O became 0: that is no digit ("NORTH" is a word, not a registration).
    mix = normalize(raw) if rules.o_is_zero else text
    has_digit = any(c.isdigit() for c in mix)
    has_alpha = any(c.isalpha() for c in mix)
    return 0.85 if has_digit and has_alpha else 0.45


class PlateLocator:
    """Finds plates in a whole BGR image as canonical ``sv.Detections`` (class ``PLATE``).

    Detections carry ``data["plate_text"]`` (the line's normalised text, a free first read),
    ``data["text_conf"]`` (how sure that read is: OCR confidence × plate-likeness) and
    ``confidence`` = ``text_conf`` × plate appearance (``issc.plates.appearance``: how much the
    picture around the line looks like a plate; a date stamp or a slogan scores low).

    Args:
        engine: OCR engine whose text detector and recogniser are used.
        rules: Plate rules for the plate-likeness test.
        options: Scaling, aspect and box growth.
        second: Fuses the plate-trained recogniser's reads of unsure lines (``None``: PP-OCR alone).
    """

    def __init__(
        self,
        engine: OcrEngine,
        rules: PlateRules = DEFAULT_RULES,
        options: LocatorOptions | None = None,
        second: SecondOpinion | None = None,
    ) -> None:
        self.engine = engine
        self.rules = rules
        self.options = options or LocatorOptions()
        self.second = second

    def text_lines(self, image: np.ndarray) -> list[TextLine]:
        """The text lines of ``image`` that could be plates, read; polygons in the image's pixels.

        Text is detected on a copy scaled to ``short_side``; only lines of a plate's shape (aspect
        within ``min_aspect``..``max_aspect``) are recognised, and from the sharper of the original
        and the scaled copy: a frame searched at a third of its size is still read at full
        resolution.
        """
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
        coarse = scale < opts.second_look_below  # candidates get a second look at full size
        polygons = [p for p in self.engine.detect(work, sensitive=coarse) if self._plate_shaped(p)]
        if scale > 1.0:  # upscaled: read the (interpolated) larger copy, as it was detected
            return [
                TextLine(ln.polygon / scale, ln.text, ln.confidence, ln.chars)
                for ln in self.engine.read_lines(work, polygons)
            ]
        polygons = [p / scale for p in polygons]
        if coarse:
            polygons = [p for p in self._second_look(image, polygons) if self._plate_shaped(p)]
        return self.engine.read_lines(image, polygons)

    def _second_look(self, image: np.ndarray, polygons: list[np.ndarray]) -> list[np.ndarray]:
        """Text lines detected again at full resolution, in a small window around each candidate.

        A box found on a frame scaled to a third is a few pixels off at full size, and a crop cut
        along it reads worse (``LSI5EBC`` for ``LS15EBC``); detection on a window of a few plate
        sizes costs a few milliseconds. Overlapping windows are merged, so each line is found once.
        """
        h, w = image.shape[:2]
        pad = self.options.second_look_pad
        windows: list[list[int]] = []
        for poly in polygons:
            x0, y0 = poly.min(axis=0)
            x1, y1 = poly.max(axis=0)
            g = pad * (y1 - y0) + 4
            box = [int(max(0, x0 - g)), int(max(0, y0 - g)), int(min(w, x1 + g)), int(min(h, y1 + g))]
            for other in windows:
                if box[0] < other[2] and other[0] < box[2] and box[1] < other[3] and other[1] < box[3]:
                    other[:] = [
                        min(box[0], other[0]),
                        min(box[1], other[1]),
                        max(box[2], other[2]),
                        max(box[3], other[3]),
                    ]
                    break
            else:
                windows.append(box)
        found: list[np.ndarray] = []
        for x0, y0, x1, y1 in windows:
            if x1 - x0 < 8 or y1 - y0 < 8:
                continue
            offset = np.array([x0, y0], dtype=np.float32)
            found += [p + offset for p in self.engine.detect(image[y0:y1, x0:x1])]
        return found

    def _plate_shaped(self, polygon: np.ndarray) -> bool:
        """Whether a text box has a plate's aspect (the test ``locate`` applies to its lines)."""
        x0, y0 = polygon.min(axis=0)
        x1, y1 = polygon.max(axis=0)
        bw, bh = x1 - x0, y1 - y0
        return bh > 0 and self.options.min_aspect <= bw / bh <= self.options.max_aspect

    def locate(self, image: np.ndarray) -> sv.Detections:
        """Plates in ``image`` (BGR uint8), in its pixels, best first."""
        h, w = image.shape[:2]
        opts = self.options
        boxes, scores, texts = [], [], []
        lines = self.text_lines(image)
        if self.second is not None:
            lines = self.second.refine(image, lines)
        line_boxes, raws = [], []
        for line in lines:  # plate-shaped already (text_lines)
            x0, y0, x1, y1 = line.xyxy
            bw, bh = x1 - x0, y1 - y0
            beliefs = joined_beliefs([line])
            likeness = plate_likeness(line.text, self.rules, beliefs)
            if likeness <= 0:
                continue
            gx, gy = opts.grow_x * bw, opts.grow_y * bh
            boxes.append([max(0.0, x0 - gx), max(0.0, y0 - gy), min(w, x1 + gx), min(h, y1 + gy)])
            scores.append(line.confidence * likeness)
            texts.append(self.rules.apply(line.text, beliefs))
            line_boxes.append(line.xyxy)
            raws.append(line.text)
        if not boxes:
            dets = empty_detections()
            dets.data["plate_text"] = np.empty(0, dtype=object)  # same keys as when plates are found
            dets.data["text_conf"] = np.empty(0, dtype=np.float32)
            return dets
        # what the text says, times what the picture shows
        text_conf = np.asarray(scores)
        plate_conf = text_conf * plate_appearance(image, np.array(line_boxes), raws, _xyxy(lines))
        order = np.argsort(-plate_conf, kind="stable")
        dets = make_detections(np.array(boxes)[order], plate_conf[order], np.full(len(boxes), PLATE))
        dets.data["plate_text"] = np.array(texts, dtype=object)[order]
        dets.data["text_conf"] = text_conf[order].astype(np.float32)
        return dets


def _xyxy(lines: list[TextLine]) -> np.ndarray:
    """The boxes of ``lines``, shape (n, 4)."""
    return np.array([ln.xyxy for ln in lines], dtype=np.float64).reshape(-1, 4)
