"""A second opinion on unsure characters: a small recogniser trained on plates, fused per character.

PP-OCR (``rapid.py``) reads any text; it confuses look-alikes that plates print in their own fonts
(1/I, 6/G, 0/D, 8/B, 5/S ...), and US plates mix letters and digits freely, so the layout rules
cannot settle them. The project's own plate reader (a CRNN of about a million weights, trained by
``python -m issc.train reader`` on synthetic US-style plates and real plate crops, committed as
``issc/plates/models/reader.onnx``) reads the same line crop. Where PP-OCR was unsure of a
character (``unsure``) and both read the same number of characters, each character's beliefs are
averaged (``weight``) and the most likely character wins; the rules downstream see the fused
beliefs. The second model runs only for lines with an unsure character, with ONNX Runtime (no
torch on the live path), about a millisecond per line.

``line_input`` is the one preprocessing of a line crop, shared with the training command.
"""

from __future__ import annotations

import string
import threading
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from issc.errors import ConfigError
from issc.plates.ocr.lines import CharBelief, TextLine
from issc.plates.text import normalize

#: Classes of the plate recogniser after the CTC blank (class 0): digits, then letters.
ALPHABET = string.digits + string.ascii_uppercase
#: Input of the plate recogniser: grey, this high and wide (lines narrower are padded on the right).
INPUT_H, INPUT_W = 24, 96
#: The committed model.
MODEL_PATH = Path(__file__).resolve().parent.parent / "models" / "reader.onnx"


def line_input(line: np.ndarray) -> np.ndarray:
    """A line crop (BGR or grey uint8) as the recogniser's input: float32 (1, INPUT_H, INPUT_W) in
    [-1, 1], the line scaled to ``INPUT_H`` high keeping its aspect (squeezed if wider than
    ``INPUT_W``) and padded on the right with its median grey."""
    grey = cv2.cvtColor(line, cv2.COLOR_BGR2GRAY) if line.ndim == 3 else line
    h, w = grey.shape[:2]
    width = int(min(INPUT_W, max(1, round(INPUT_H * w / max(h, 1)))))
    interp = cv2.INTER_AREA if h > INPUT_H else cv2.INTER_CUBIC
    scaled = cv2.resize(grey, (width, INPUT_H), interpolation=interp)
    out = np.full((INPUT_H, INPUT_W), float(np.median(scaled)), np.float32)
    out[:, :width] = scaled
    return (out / 127.5 - 1.0)[None]


def ctc_decode(probs: np.ndarray, top_k: int = 5) -> tuple[CharBelief, ...]:
    """Best-path CTC decoding of one line's (frames, 1 + len(ALPHABET)) probabilities: one
    ``CharBelief`` per character with its ``top_k`` alternatives (``""`` is the blank) and its span
    as fractions of the input width."""
    best = probs.argmax(axis=1)
    keep = best != 0
    keep[1:] &= best[1:] != best[:-1]
    frames = len(best)
    out = []
    for t in np.flatnonzero(keep):
        end = t
        while end + 1 < frames and best[end + 1] == best[t]:
            end += 1
        row = probs[t : end + 1].max(axis=0)  # a character's frames: each class at its most likely
        top = np.argsort(row)[::-1][:top_k]
        alts = {("" if k == 0 else ALPHABET[k - 1]): float(row[k]) for k in top}
        out.append(
            CharBelief(ALPHABET[best[t] - 1], float(row[best[t]]), alts, (t / frames, (end + 1) / frames))
        )
    return tuple(out)


class PlateLineModel:
    """The plate recogniser (ONNX): line crops in, per-character beliefs out. Thread-safe.

    Args:
        path: The ONNX model (``MODEL_PATH``).

    Raises:
        ConfigError: The model file is missing.
    """

    def __init__(self, path: Path = MODEL_PATH) -> None:
        if not path.is_file():
            raise ConfigError(
                f"plate reader model {path} is missing; train it with python -m issc.train reader"
            )
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 4
        options.enable_cpu_mem_arena = False
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name

    def read(self, lines: list[np.ndarray]) -> list[tuple[CharBelief, ...]]:
        """The characters of each line crop (BGR or grey), in order."""
        if not lines:
            return []
        batch = np.stack([line_input(line) for line in lines])
        (logits,) = self._session.run(None, {self._input: batch})  # (batch, frames, classes)
        exp = np.exp(logits - logits.max(axis=2, keepdims=True))
        probs = exp / exp.sum(axis=2, keepdims=True)
        return [ctc_decode(p) for p in probs]


def _canonical(belief: CharBelief) -> dict[str, float]:
    """A PP-OCR character's alternatives keyed by plate character (``""`` blank, ``"~"`` marks)."""
    out: dict[str, float] = {}
    for alt, p in belief.alternatives.items():
        key = "" if alt == "" else normalize(alt)
        key = key if len(key) == 1 or key == "" else "~"
        out[key] = out.get(key, 0.0) + p
    return out


#: Look-alikes that many plate fonts print with one glyph: their beliefs count together.
_SAME_GLYPH = ("0", "O")


def _glyph_prob(belief: dict[str, float], char: str) -> float:
    """The probability of ``char``'s glyph: O and 0 together (``_SAME_GLYPH``), others alone."""
    if char in _SAME_GLYPH:
        return sum(belief.get(k, 0.0) for k in _SAME_GLYPH)
    return belief.get(char, 0.0)


def _unsure(char: CharBelief, below: float) -> bool:
    """Whether PP-OCR's belief in a plate character's glyph is under ``below``."""
    return _glyph_prob(_canonical(char), normalize(char.char)) < below


def fuse(
    line: TextLine,
    second: tuple[CharBelief, ...],
    weight: float,
    *,
    unsure: float = 1.0,
    min_second: float = 0.0,
    min_alt: float = 0.0,
) -> TextLine:
    """``line`` with each plate character's beliefs averaged with ``second``'s, one to one.

    Only the share of PP-OCR's plate-character probability among characters is averaged; its blank
    ("no character") and marks are kept, so the rules drop ghosts and separators as before.

    Args:
        line: PP-OCR's read, with per-character beliefs.
        second: The plate recogniser's characters of the same crop.
        weight: The second opinion's share of each fused belief, in [0, 1].
        unsure: Only characters whose glyph PP-OCR believed below this are fused; the characters
            it was sure of are kept as read (1.0: all characters).
        min_second: Only where the plate recogniser believes its own character at least this much.
        min_alt: The fused winner replaces PP-OCR's character only when PP-OCR itself gave that
            glyph at least this belief: the second opinion chooses among PP-OCR's candidates, it
            does not bring a class PP-OCR did not see (a Q PP-OCR read is not turned into a 0
            unless PP-OCR also saw a 0 there).

    The winner at each place is the character whose glyph is most believed, O and 0 counting
    together (one glyph in many plate fonts: PP-OCR splits its belief between them, which must not
    hand the place to a third character).

    Returns:
        The fused line (same polygon; spans and glyph sizes kept); ``line`` itself when it has no
        per-character beliefs or the two read a different number of plate characters (no
        one-to-one alignment).
    """
    plate_at = [i for i, c in enumerate(line.chars) if len(normalize(c.char)) == 1]
    if not line.chars or len(line.chars) != len(line.text) or len(plate_at) != len(second):
        return line
    chars = list(line.chars)
    fused_any = False
    for i, other in zip(plate_at, second, strict=True):
        fused = _canonical(chars[i])
        if _glyph_prob(fused, normalize(chars[i].char)) >= unsure or other.prob < min_second:
            continue
        # Only how PP-OCR's plate-character mass is shared among characters changes: its blank and
        # marks, and so the ghost and mark tests of the rules, stay as PP-OCR saw them.
        mass = sum(p for k, p in fused.items() if k not in ("", "~"))
        theirs = {k: p for k, p in other.alternatives.items() if k}
        total = sum(theirs.values())
        if mass <= 0 or total <= 0:
            continue
        for k in set(theirs) | {k for k in fused if k not in ("", "~")}:
            fused[k] = (1 - weight) * fused.get(k, 0.0) + weight * mass * theirs.get(k, 0.0) / total
        plate = {k: p for k, p in fused.items() if len(k) == 1 and k != "~"}
        char = max(plate, key=lambda k: _glyph_prob(plate, k))
        if char in _SAME_GLYPH:  # O or 0: the glyph won together; which of them, each model's say
            char = max(_SAME_GLYPH, key=lambda k: plate.get(k, 0.0))
        ours = _canonical(chars[i])
        if char != normalize(chars[i].char) and _glyph_prob(ours, char) < min_alt:
            continue  # a class PP-OCR did not see there: its read stands
        top = dict(sorted(fused.items(), key=lambda kv: kv[1], reverse=True)[:6])
        chars[i] = replace(chars[i], char=char, prob=fused[char], alternatives=top)
        fused_any = True
    if not fused_any:
        return line
    text = "".join(c.char for c in chars)
    return TextLine(line.polygon, text, float(np.mean([c.prob for c in chars])), tuple(chars))


@dataclass(frozen=True)
class SecondOpinion:
    """Asks the plate recogniser about the lines PP-OCR was unsure of, and fuses its answer.

    The gate (chosen on the held-out real lines of the training command, never on an evaluation
    set; ``reader.md``): only the characters PP-OCR was unsure of are fused, only where the plate
    recogniser is itself confident, and only into a character PP-OCR also saw at that place.

    Attributes:
        model: The plate recogniser.
        unsure: A plate character below this probability (O and 0 counted together) is unsure: its
            line gets a second opinion and it, alone, is fused.
        weight: The second opinion's share of a fused character's belief.
        min_second: The plate recogniser's least belief in its own character for it to count.
        min_alt: PP-OCR's least belief in a character for the fusion to turn its read into it.
    """

    model: PlateLineModel
    unsure: float = 0.95
    weight: float = 0.7
    min_second: float = 0.8
    min_alt: float = 0.01

    def refine(self, image: np.ndarray, lines: list[TextLine]) -> list[TextLine]:
        """``lines`` (found in ``image``) with the unsure ones fused with the second opinion."""
        from rapidocr.utils.process_img import get_rotate_crop_image

        todo = [
            i
            for i, ln in enumerate(lines)
            if ln.chars and any(_unsure(c, self.unsure) for c in ln.chars if len(normalize(c.char)) == 1)
        ]
        if not todo:
            return lines
        crops = [get_rotate_crop_image(image, lines[i].polygon.astype(np.float32).copy()) for i in todo]
        out = list(lines)
        for i, chars in zip(todo, self.model.read(crops), strict=True):
            out[i] = fuse(
                lines[i],
                chars,
                self.weight,
                unsure=self.unsure,
                min_second=self.min_second,
                min_alt=self.min_alt,
            )
        return out


_MODEL: PlateLineModel | None = None
_MODEL_LOCK = threading.Lock()


def plate_line_model() -> PlateLineModel:
    """The process-wide plate recogniser (loaded on first use)."""
    global _MODEL
    with _MODEL_LOCK:
        if _MODEL is None:
            _MODEL = PlateLineModel()
        return _MODEL


def second_opinion_for(engine: str) -> SecondOpinion | None:
    """The shared second opinion for readers on ``engine``: ``None`` for engines without
    per-character beliefs (EasyOCR) or when the model is not installed."""
    if engine != "rapidocr" or not MODEL_PATH.is_file():
        return None
    return SecondOpinion(plate_line_model())
