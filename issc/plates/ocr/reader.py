"""The plate reader: one plate crop in, the best plate reading out (``PlateReader.read``).

``PlateReader.read(crop)`` turns a plate crop into a ``PlateRead``: detect the text lines in the
crop, take the row of the tallest characters (plates print the registration biggest; state names
and city strips are smaller), join it left to right, normalise and fix look-alikes
(``issc.plates.text``), and rank the candidates by confidence and plate-likeness. Optionally, lines
with an unsure character get a second opinion from the project's plate-trained recogniser, fused
per character (``issc.plates.ocr.second``), before the rules see them.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from issc.errors import ConfigError
from issc.plates.ocr import get_engine
from issc.plates.ocr.lines import OcrEngine, TextLine, joined_beliefs, joined_sizes
from issc.plates.ocr.second import SecondOpinion, second_opinion_for
from issc.plates.text import DEFAULT_RULES, Belief, PlateRules, normalize_beliefs
from issc.types import PlateRead

PREPROCESS = ("none", "prototype")


def preprocess(image: np.ndarray, mode: str) -> np.ndarray:
    """Apply a named preprocessing to a BGR image; the result is BGR too.

    Args:
        image: BGR uint8 image.
        mode: ``"none"`` or ``"prototype"`` (grey + ``fastNlMeansDenoising`` h=30, the old
            prototype's recipe; kept as a baseline, it blurs small characters).

    Raises:
        ConfigError: Unknown ``mode``.
    """
    if mode == "none":
        return image
    if mode == "prototype":
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
        return cv2.cvtColor(cv2.fastNlMeansDenoising(grey, h=30), cv2.COLOR_GRAY2BGR)
    raise ConfigError(f"ocr_preprocess is {mode!r}; expected one of {', '.join(PREPROCESS)}")


def _is_plate_like(text: str) -> float:
    """Plate-likeness of a normalised text from its letters/digits mix, in (0, 1]."""
    has_digit = any(c.isdigit() for c in text)
    has_alpha = any(c.isalpha() for c in text)
    return 1.0 if has_digit and has_alpha else 0.8


#: Look-alikes that many plate fonts print with one glyph: a character's confidence is that of both.
_SAME_GLYPH = frozenset("O0")


def char_confidences(raw: str, beliefs: list[Belief] | None, text: str) -> tuple[float, ...]:
    """The recogniser's confidence in each character of ``text``, the plate text that
    ``PlateRules.apply`` made of ``raw``; empty when ``beliefs`` is ``None`` (an engine that gives
    no per-character probabilities) or ``text`` cannot be traced back to ``raw``.

    ``apply`` only drops characters (marks, ghosts, small glyphs, non-plate symbols) and swaps
    look-alikes in place, so ``text`` is traced back to the normalised read by the alignment that
    keeps its order and needs the fewest swaps. A character's confidence is the probability the
    recogniser gave that very character there: a look-alike swapped in by the rules gets what the
    recogniser thought of it (usually little), and O and 0 count together (one glyph in many fonts).

    Args:
        raw: The raw line text given to ``apply``.
        beliefs: One belief per character of ``raw`` (``lines.joined_beliefs``), or ``None``.
        text: What ``apply`` returned.
    """
    if beliefs is None or len(beliefs) != len(raw) or not text:
        return ()
    source, source_beliefs = normalize_beliefs(raw, beliefs)
    index = _align(source, text)
    if index is None:
        return ()
    out = []
    for ch, i in zip(text, index, strict=True):
        belief = source_beliefs[i]
        keys = _SAME_GLYPH if ch in _SAME_GLYPH else (ch,)
        out.append(round(min(1.0, max(0.0, sum(belief.get(k, 0.0) for k in keys))), 4))
    return tuple(out)


def _align(source: str, text: str) -> list[int] | None:
    """For each character of ``text``, the index in ``source`` it came from: ``text`` is
    ``source`` with characters dropped and some swapped; the alignment with the fewest swaps wins
    (``None`` when ``text`` is longer than ``source``)."""
    n, m = len(source), len(text)
    if m > n:
        return None
    inf = n + m + 1
    # cost[i][j]: fewest swaps to make text[:j] from a subsequence of source[:i]
    cost = [[0] + [inf] * m for _ in range(n + 1)]
    for i in range(1, n + 1):
        for j in range(1, min(i, m) + 1):
            cost[i][j] = min(cost[i - 1][j], cost[i - 1][j - 1] + (source[i - 1] != text[j - 1]))
    index, i, j = [0] * m, n, m
    while j:
        if cost[i][j] == cost[i - 1][j - 1] + (source[i - 1] != text[j - 1]):
            index[j - 1] = i - 1
            j -= 1
        i -= 1
    return index


@dataclass(frozen=True)
class ReaderOptions:
    """How crops are prepared before OCR.

    Attributes:
        min_height: Crops lower than this (pixels) are upscaled to it: the detector misses
            characters a few pixels high.
        max_height: Crops taller than this are downscaled (speed).
        border: Replicated border added on each side, as a fraction of the crop height, so
            characters touching the crop edge are still detected.
        row_ratio: Lines at least this fraction of the tallest line's height, and overlapping it
            vertically, belong to the registration row.
    """

    min_height: int = 96
    max_height: int = 256
    border: float = 0.15
    row_ratio: float = 0.6


class PlateReader:
    """Reads one plate crop. Thread-safe: it keeps no per-call state, and the engines are safe.

    Args:
        engine: The OCR engine.
        preprocess: ``"none"`` or ``"prototype"``.
        min_conf: Reads below this confidence are dropped by ``read``.
        rules: Normalisation, formats and look-alike fixes.
        options: Crop preparation.
        second: Asks the plate-trained recogniser about unsure lines (``None``: PP-OCR alone).
    """

    def __init__(
        self,
        engine: OcrEngine,
        preprocess: str = "none",
        min_conf: float = 0.1,
        rules: PlateRules = DEFAULT_RULES,
        options: ReaderOptions | None = None,
        second: SecondOpinion | None = None,
    ) -> None:
        if preprocess not in PREPROCESS:
            raise ConfigError(f"ocr_preprocess is {preprocess!r}; expected one of {', '.join(PREPROCESS)}")
        self.engine = engine
        self.preprocess = preprocess
        self.min_conf = min_conf
        self.rules = rules
        self.options = options or ReaderOptions()
        self.second = second

    @property
    def name(self) -> str:
        """``engine/preprocess``, e.g. ``rapidocr/none``; ``+plate`` with the second opinion."""
        return f"{self.engine.name}/{self.preprocess}" + ("+plate" if self.second is not None else "")

    def prepare(self, crop: np.ndarray) -> np.ndarray:
        """Resize, border and preprocess a crop the way ``candidates`` sees it."""
        h = crop.shape[0]
        opts = self.options
        scale = opts.min_height / h if h < opts.min_height else min(1.0, opts.max_height / h)
        if scale != 1.0:
            interp = cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA
            crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=interp)
        pad = round(opts.border * crop.shape[0])
        if pad:
            crop = cv2.copyMakeBorder(crop, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        return preprocess(crop, self.preprocess)

    def candidates(self, crop: np.ndarray) -> list[PlateRead]:
        """Every plausible reading of ``crop``, best first (may be empty).

        Args:
            crop: BGR image of one plate, ideally with a little context around it.

        Returns:
            Normalised reads; ``confidence`` is the OCR confidence times a plate-likeness factor
            (format match, letters and digits mixed, registration row); ``char_conf`` is the
            recogniser's per-character confidence when the engine gives one (``char_confidences``).
        """
        if crop.size == 0 or min(crop.shape[:2]) < 4:
            return []
        image = self.prepare(crop)
        lines = [ln for ln in self.engine.lines(image) if ln.text.strip()]
        if self.second is not None:
            lines = self.second.refine(image, lines)
        if not lines:
            text, conf = self.engine.recognize(image)
            lines = [TextLine(np.zeros((4, 2), np.float32), text, conf)] if text.strip() else []
        if not lines:
            return []
        scored: dict[str, tuple[float, tuple[float, ...]]] = {}  # text -> (score, char_conf)

        def offer(row: list[TextLine], factor: float) -> None:
            raw = "".join(ln.text for ln in row)
            conf = float(np.mean([ln.confidence for ln in row]))
            beliefs = joined_beliefs(row)
            text = self.rules.apply(raw, beliefs, joined_sizes(row))
            if not self.rules.plausible(text):
                return
            fmt = 1.0 if self.rules.matching_format(text) else 0.9 * _is_plate_like(text)
            score = conf * fmt * factor
            if text not in scored or score > scored[text][0]:
                scored[text] = (score, char_confidences(raw, beliefs, text))

        for row, factor in self._rows(lines):
            offer(row, factor)
        for ln in lines:
            offer([ln], 0.6)
        reads = [PlateRead(t, round(s, 4), char_conf=cc) for t, (s, cc) in scored.items()]
        return sorted(reads, key=lambda r: r.confidence, reverse=True)

    def read(self, crop: np.ndarray) -> PlateRead | None:
        """The best reading of ``crop`` at or above ``min_conf``, or ``None``."""
        best = next(iter(self.candidates(crop)), None)
        return best if best is not None and best.confidence >= self.min_conf else None

    def _rows(self, lines: list[TextLine]) -> list[tuple[list[TextLine], float]]:
        """The registration row (tallest characters) and, for two-row plates, both rows joined."""
        tallest = max(lines, key=lambda ln: ln.height)
        big = [ln for ln in lines if ln.height >= self.options.row_ratio * tallest.height]
        rows: list[list[TextLine]] = []
        for ln in sorted(big, key=lambda ln: (ln.xyxy[1] + ln.xyxy[3]) / 2):
            cy = (ln.xyxy[1] + ln.xyxy[3]) / 2
            for row in rows:
                y0, y1 = row[0].xyxy[1], row[0].xyxy[3]
                if y0 <= cy <= y1:
                    row.append(ln)
                    break
            else:
                rows.append([ln])
        rows = [sorted(r, key=lambda ln: ln.xyxy[0]) for r in rows]
        main = next(r for r in rows if tallest in r)
        out: list[tuple[list[TextLine], float]] = [(main, 1.0)]
        if len(rows) == 2:
            out.append((rows[0] + rows[1], 0.95))
        return out


def make_reader(
    engine: str = "rapidocr",
    preprocess: str = "none",
    min_conf: float = 0.1,
    rules: PlateRules = DEFAULT_RULES,
    second_opinion: bool = False,
) -> PlateReader:
    """Build a reader on the shared engine ``engine``.

    Args:
        engine: ``"rapidocr"`` (default) or ``"easyocr"``.
        preprocess: ``"none"`` (default) or ``"prototype"``.
        min_conf: Reads below this confidence are dropped.
        rules: Plate formats and look-alike fixes (``PLATE_FORMATS`` and friends).
        second_opinion: Fuse the plate-trained recogniser's reads of unsure lines
            (``issc.plates.ocr.second``; RapidOCR only: EasyOCR gives no per-character beliefs).
            Off by default: the committed model did not yet improve the measured sets
            (BENCHMARKS.md, "Plate-trained second opinion").

    Raises:
        ConfigError: Unknown engine or preprocessing.
    """
    return PlateReader(
        get_engine(engine),
        preprocess=preprocess,
        min_conf=min_conf,
        rules=rules,
        second=second_opinion_for(engine) if second_opinion else None,
    )
