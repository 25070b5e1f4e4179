"""Finding licence plates in whole images without a trained plate detector (offline, no key).

The OCR engine's text detector finds every text line in the image; a line is kept as a plate when
its text looks like a registration: plate length, letters and digits mixed or a known format,
no lower-case letters (signs, brand names and slogans have them), and a plate-like box aspect.
Each such line is then shown to the learned plate verifier (``issc.plates.verifier``): lines it
does not take for a registration (a make badge, a dealer's sticker, a date, a shop sign) are
dropped unless their read fits one of the region's layouts (that is evidence enough on its own), and the box reported is the whole plate it regresses around the line (both rows of a
stacked plate, the panel of a 2:1 US plate), unless the regression shrank inside the line, when
the line keeps its own box (``issc.plates.verifier.chosen_plate_boxes``). Lines are ranked by what their text says times what the
picture shows around them (``issc.plates.appearance``: the tallest print of its plate, contrast,
away from the picture's edge, no date) times the verifier's plate probability, so a date stamp or
a state slogan loses to the plate.

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

from issc.detections import PLATE, box_iou, empty_detections, make_detections
from issc.plates.appearance import plate_appearance
from issc.plates.ocr.lines import OcrEngine, TextLine, joined_beliefs
from issc.plates.ocr.second import SecondOpinion
from issc.plates.text import DEFAULT_RULES, Belief, PlateRules, normalize
from issc.plates.verifier import PlateVerifier, chosen_plate_boxes, default_verifier


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
        verify: Whether the learned plate verifier (``issc.plates.verifier``) scores each
            candidate line: lines it does not take for a registration are dropped unless their
            read fits one of the region's layouts, and the box reported is the whole plate it
            regresses (more than ``issc.plates.verifier.LINE_IS_PLATE_AREA_RATIO`` times the
            line's area), else the line box grown by ``grow_x``/``grow_y``.
        verify_threshold: Lines the verifier gives a lower plate probability are dropped; ``None``:
            the model's own operating threshold (``PlateVerifier.threshold``, chosen on the
            held-out split of its training data: ``issc/plates/models/verifier.md``).
        fast_detection: Text is detected with the engine's fast detector (RapidOCR: PP-OCRv4
            mobile, a quarter of PP-OCRv6 small's CPU per pixel; ``PLATE_DETECT_MODEL``) on the
            image at its working size; lines are read with the engine's recogniser. On the
            labelled photos it finds as many plates as PP-OCRv6 small. The full-resolution second
            look keeps the accurate detector, so the boxes read are found as before; live, with
            8 cameras on 2 cores, the fast whole-frame pass misses the smallest plates and costs
            passes, so ``PLATE_DETECT_MODEL`` defaults to accurate (BENCHMARKS.md, "The fast text
            detector").
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
    verify: bool = True
    verify_threshold: float | None = None
    fast_detection: bool = True


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
    # The mix is judged on the text as read, before any look-alike swap: a word whose O became 0
    # ("TOYOTA" -> "T0Y0TA") has no digit.
    read = normalize(raw)
    has_digit = any(c.isdigit() for c in read)
    has_alpha = any(c.isalpha() for c in read)
    return 0.85 if has_digit and has_alpha else 0.45


class PlateLocator:
    """Finds plates in a whole BGR image as canonical ``sv.Detections`` (class ``PLATE``).

    Detections carry ``data["plate_text"]`` (the line's normalised text, a free first read),
    ``data["text_conf"]`` (how sure that read is: OCR confidence × plate-likeness),
    ``data["line_xyxy"]`` (the registration's text line box), ``data["plate_prob"]`` (the
    verifier's plate probability; 1.0 without a verifier) and ``confidence`` = ``text_conf`` × plate
    appearance (``issc.plates.appearance``: how much the picture around the line looks like a
    plate; a date stamp or a slogan scores low). Lines the verifier refuses are left out (unless
    their read fits a layout); the rest are ranked by ``confidence`` × ``plate_prob``. The box is the whole plate the verifier regresses
    from the line where it clearly reaches beyond it (``chosen_plate_boxes``), else the line grown
    by ``grow_x``/``grow_y``.

    Args:
        engine: OCR engine whose text detector and recogniser are used.
        rules: Plate rules for the plate-likeness test.
        options: Scaling, aspect, box growth and whether lines are verified.
        verifier: The plate verifier; ``None``: the committed model (``default_verifier``) when
            ``options.verify`` is set.
        second: Fuses the plate-trained recogniser's reads of unsure lines (``None``: PP-OCR alone).
    """

    def __init__(
        self,
        engine: OcrEngine,
        rules: PlateRules = DEFAULT_RULES,
        options: LocatorOptions | None = None,
        verifier: PlateVerifier | None = None,
        second: SecondOpinion | None = None,
    ) -> None:
        self.engine = engine
        self.rules = rules
        self.options = options or LocatorOptions()
        self.second = second
        self.verifier = (verifier or default_verifier()) if self.options.verify else None

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
        fast = opts.fast_detection
        polygons = [p for p in self.engine.detect(work, sensitive=coarse, fast=fast) if self._plate_shaped(p)]
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
            # the accurate detector: the boxes found here are the ones read (a window is small, so
            # PP-OCRv6 costs little here; the whole-frame pass is where PP-OCRv4 saves)
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
        lines = self.text_lines(image)
        if self.second is not None:
            lines = self.second.refine(image, lines)
        kept, scores, texts, fits = [], [], [], []
        for line in lines:  # plate-shaped already (text_lines)
            beliefs = joined_beliefs([line])
            likeness = plate_likeness(line.text, self.rules, beliefs)
            if likeness <= 0:
                continue
            kept.append(line)
            scores.append(line.confidence * likeness)
            texts.append(self.rules.apply(line.text, beliefs))
            fits.append(likeness >= 1.0)
        line_boxes = _xyxy(kept)
        raws = [ln.text for ln in kept]
        gx = opts.grow_x * (line_boxes[:, 2] - line_boxes[:, 0])
        gy = opts.grow_y * (line_boxes[:, 3] - line_boxes[:, 1])
        boxes = np.stack(
            [
                np.maximum(0.0, line_boxes[:, 0] - gx),
                np.maximum(0.0, line_boxes[:, 1] - gy),
                np.minimum(w, line_boxes[:, 2] + gx),
                np.minimum(h, line_boxes[:, 3] + gy),
            ],
            axis=1,
        ).reshape(-1, 4)
        prob = np.ones(len(kept))
        if self.verifier is not None and kept:
            verdict = self.verifier.verify(image, line_boxes, raws, [ln.confidence for ln in kept])
            # the whole plate where it clearly reaches beyond the line, else the line's own box
            prob, boxes = verdict.plate, chosen_plate_boxes(line_boxes, verdict.boxes, boxes)
        threshold = 0.0
        if self.verifier is not None:
            threshold = self.verifier.threshold if opts.verify_threshold is None else opts.verify_threshold
        # A read that fits one of the region's layouts vouches for itself: the verifier may only
        # refuse what the text rules let through for its mix of letters and digits alone.
        plate = (prob >= threshold) | np.array(fits, dtype=bool)
        if not plate.any():
            dets = empty_detections()
            dets.data["plate_text"] = np.empty(0, dtype=object)  # same keys as when plates are found
            dets.data["text_conf"] = np.empty(0, dtype=np.float32)
            dets.data["line_xyxy"] = np.empty((0, 4), dtype=np.float32)
            dets.data["plate_prob"] = np.empty(0, dtype=np.float32)
            return dets
        # what the text says, times what the picture shows
        text_conf = np.asarray(scores)
        plate_conf = text_conf * plate_appearance(image, line_boxes, raws, _xyxy(lines))
        # ranked by what the verifier says too; the confidence keeps its meaning (PLATE_CONF)
        order = [i for i in np.argsort(-plate_conf * prob, kind="stable") if plate[i]]
        order, texts = self._join_rows(order, boxes, line_boxes, texts)
        dets = make_detections(boxes[order], plate_conf[order], np.full(len(order), PLATE))
        dets.data["plate_text"] = np.array(texts, dtype=object)[order]
        dets.data["text_conf"] = text_conf[order].astype(np.float32)
        dets.data["line_xyxy"] = line_boxes[order].astype(np.float32)
        dets.data["plate_prob"] = prob[order].astype(np.float32)
        return dets

    def _join_rows(
        self, order: list[int], boxes: np.ndarray, line_boxes: np.ndarray, texts: list[str]
    ) -> tuple[list[int], list[str]]:
        """One detection per plate: lines whose plate boxes overlap (``ROW_IOU``) are one plate's
        rows. The best-ranked line stands for the plate; when the other lies above or below it (a
        stacked plate), the plate's text is the rows' texts top to bottom, if that is no longer
        than a plate (``PlateRules.max_length``). Returns the kept order and the texts."""
        texts = list(texts)
        kept: list[int] = []
        for i in order:
            host = next((k for k in kept if box_iou(boxes[k], boxes[i]) >= ROW_IOU), None)
            if host is None:
                kept.append(i)
                continue
            a, b = line_boxes[host], line_boxes[i]
            stacked = b[1] >= a[3] - 0.3 * (a[3] - a[1]) or a[1] >= b[3] - 0.3 * (b[3] - b[1])
            joined = texts[i] + texts[host] if b[1] < a[1] else texts[host] + texts[i]
            if stacked and len(joined) <= self.rules.max_length:
                texts[host] = joined
        return kept, texts


#: Two candidate lines whose plate boxes overlap at least this much (IoU) lie on one plate.
ROW_IOU = 0.5


def _xyxy(lines: list[TextLine]) -> np.ndarray:
    """The boxes of ``lines``, shape (n, 4)."""
    return np.array([ln.xyxy for ln in lines], dtype=np.float64).reshape(-1, 4)
