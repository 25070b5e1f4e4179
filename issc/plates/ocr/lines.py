"""What an OCR engine answers: text lines with per-character beliefs, and the engine protocol.

Every engine (``issc.plates.ocr.rapid``, ``issc.plates.ocr.easy``) finds text lines and reads them
as ``TextLine``s; RapidOCR also keeps, for every character, its probability, its runners-up, where
it lies along the line and how tall its glyph is (``CharBelief``), which the text rules
(``issc.plates.text``) use to fix look-alikes only where the recogniser was unsure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from issc.plates.text import Belief


@dataclass(frozen=True)
class CharBelief:
    """What the recogniser believed about one character of a line.

    Attributes:
        char: The character read (raw, as in ``TextLine.text``).
        prob: Its probability.
        alternatives: The most likely classes at the same place, with their probabilities
            (``char`` included; ``""`` is the CTC blank, "no character"), e.g.
            ``{"O": 0.55, "0": 0.41, "": 0.02}``.
        span: Where the recogniser saw it along the line: the first and last column of its
            frames, as fractions of the line crop's width (``None`` when unknown).
        size: Height of its glyph's ink relative to the line's other characters (1.0: as tall as
            their median; ``None`` when unknown).
    """

    char: str
    prob: float
    alternatives: Mapping[str, float]
    span: tuple[float, float] | None = None
    size: float | None = None


@dataclass(frozen=True, eq=False)
class TextLine:
    """One text line found by an engine.

    Attributes:
        polygon: Corners, shape (4, 2), in pixels of the image the engine was given.
        text: Raw recognised text (not normalised).
        confidence: Recognition confidence in [0, 1].
        chars: Per-character beliefs aligned with ``text`` (empty when the engine gives none).
    """

    polygon: np.ndarray
    text: str
    confidence: float
    chars: tuple[CharBelief, ...] = ()

    @property
    def xyxy(self) -> tuple[float, float, float, float]:
        """Axis-aligned bounding box of the polygon."""
        x0, y0 = self.polygon.min(axis=0)
        x1, y1 = self.polygon.max(axis=0)
        return float(x0), float(y0), float(x1), float(y1)

    @property
    def height(self) -> float:
        """Character height: the mean length of the polygon's two short sides."""
        p = self.polygon
        sides = [float(np.linalg.norm(p[(i + 1) % 4] - p[i])) for i in range(4)]
        return float(np.mean(sorted(sides)[:2]))


class OcrEngine(Protocol):
    """Text detection + recognition on BGR images."""

    name: str

    def detect(self, image: np.ndarray, sensitive: bool = False, fast: bool = False) -> list[np.ndarray]:
        """Find the text lines of ``image`` (BGR uint8): their polygons, shape (4, 2), in its pixels.

        ``sensitive``: also weak, small text (more candidates, for a search on a scaled-down copy
        whose candidates are checked again at full resolution). ``fast``: with the engine's
        cheaper text detector where it has one (live frames); engines without one ignore it.
        """
        ...

    def read_lines(self, image: np.ndarray, polygons: list[np.ndarray]) -> list[TextLine]:
        """Read the lines at ``polygons`` (pixels of ``image``); unreadable lines are left out."""
        ...

    def lines(self, image: np.ndarray) -> list[TextLine]:
        """Find and read every text line in ``image`` (BGR uint8), in the image's pixels."""
        ...

    def recognize(self, line: np.ndarray) -> tuple[str, float]:
        """Read ``line`` (a BGR crop holding one text line) without detection."""
        ...


def joined_beliefs(row: list[TextLine]) -> list[Belief] | None:
    """The per-character beliefs of ``row``'s lines joined, aligned with their joined text;
    ``None`` when a line has none (e.g. EasyOCR)."""
    if any(len(ln.chars) != len(ln.text) for ln in row):
        return None
    return [c.alternatives for ln in row for c in ln.chars]


def joined_sizes(row: list[TextLine]) -> list[float | None] | None:
    """The glyph sizes (``CharBelief.size``) of ``row``'s lines joined, aligned with their joined
    text; ``None`` when a line has no per-character beliefs."""
    if any(len(ln.chars) != len(ln.text) for ln in row):
        return None
    return [c.size for ln in row for c in ln.chars]
