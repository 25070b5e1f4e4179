"""ONNX backend: a user-supplied YOLO detector (Ultralytics or Roboflow export) on the CPU.

The model takes one ``1x3xHxW`` float image, RGB in [0, 1], letterboxed (resized with the aspect
kept, padded with grey 114) and returns either

* ``1x(4+nc)xN`` (YOLOv8/v11): per candidate ``cx, cy, w, h`` then one score per class, or
* ``1xNx(5+nc)`` (YOLOv5): ``cx, cy, w, h, objectness`` then one score per class,

in the pixels of the letterboxed input. We keep the classes whose names mean person or plate,
run per-class non-maximum suppression and map the boxes back to the image.
"""

from __future__ import annotations

import ast
import logging
import re
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import supervision as sv

from issc.detections import PERSON, PLATE, ImageScale, empty_detections, make_detections
from issc.errors import ConfigError

logger = logging.getLogger(__name__)

PAD_VALUE = 114
DEFAULT_INPUT_SIZE = 640
PERSON_NAMES = frozenset({"person", "people", "human", "pedestrian", "man", "woman"})
PLATE_NAMES = frozenset(
    {"plate", "licenseplate", "licenceplate", "numberplate", "lp", "platenumber", "carplate", "vehicleplate"}
)


def canonical_class(name: str) -> int | None:
    """``PERSON``, ``PLATE`` or None (dropped) for a model's class name.

    Case, spaces, ``-`` and ``_`` are ignored, so ``"License_Plate"`` is a plate.
    """
    key = re.sub(r"[\s_\-]+", "", name.strip().lower())
    if key in PERSON_NAMES:
        return PERSON
    if key in PLATE_NAMES:
        return PLATE
    return None


def letterbox(image: np.ndarray, size_hw: tuple[int, int]) -> tuple[np.ndarray, ImageScale]:
    """Resize ``image`` into ``size_hw`` keeping its aspect, centred on grey, as Ultralytics does.

    Args:
        image: BGR uint8 array (h, w, 3).
        size_hw: Model input (height, width).

    Returns:
        The padded BGR image of shape ``size_hw + (3,)`` and the transform that made it
        (``input = image * scale + (left, top)``).
    """
    height, width = image.shape[:2]
    in_h, in_w = size_hw
    scale = min(in_h / height, in_w / width)
    new_w, new_h = round(width * scale), round(height * scale)
    left = round((in_w - new_w) / 2 - 0.1)
    top = round((in_h - new_h) / 2 - 0.1)
    resized = image if (new_w, new_h) == (width, height) else cv2.resize(image, (new_w, new_h))
    padded = cv2.copyMakeBorder(
        resized,
        top,
        in_h - new_h - top,
        left,
        in_w - new_w - left,
        cv2.BORDER_CONSTANT,
        value=(PAD_VALUE, PAD_VALUE, PAD_VALUE),
    )
    return padded, ImageScale(scale, left, top)


def decode_yolo(output: np.ndarray, num_classes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidates of a raw YOLO output as ``(xyxy, score, class index)`` in input pixels.

    Args:
        output: ``(1, 4+nc, N)`` (v8 style), ``(1, N, 4+nc)`` or ``(1, N, 5+nc)`` (v5 style).
        num_classes: Number of class names of the model.

    Raises:
        ValueError: The shape fits none of these layouts for ``num_classes``.
    """
    rows = np.asarray(output, dtype=np.float32)
    if rows.ndim == 3 and rows.shape[0] == 1:
        rows = rows[0]
    if rows.ndim != 2:
        raise ValueError(f"expected a (1, channels, candidates) output, got shape {tuple(output.shape)}")
    if rows.shape[0] == 4 + num_classes and rows.shape[1] != 4 + num_classes:
        rows = rows.T  # v8: channels first
        scores_all = rows[:, 4:]
    elif rows.shape[1] == 5 + num_classes:
        scores_all = rows[:, 5:] * rows[:, 4:5]  # v5: class score times objectness
    elif rows.shape[1] == 4 + num_classes:
        scores_all = rows[:, 4:]
    else:
        raise ValueError(
            f"output shape {tuple(output.shape)} fits neither (1, 4+{num_classes}, N) nor "
            f"(1, N, 5+{num_classes}) for {num_classes} class names"
        )
    if len(rows) == 0:
        return np.empty((0, 4), np.float32), np.empty(0, np.float32), np.empty(0, int)
    class_index = scores_all.argmax(axis=1)
    score = scores_all[np.arange(len(rows)), class_index]
    cx, cy, w, h = rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3]
    xyxy = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    return xyxy, score, class_index


class OnnxDetector:
    """People and plates from a YOLO ONNX file, run by onnxruntime on the CPU.

    Args:
        model_path: The ``.onnx`` file.
        class_names: The model's class names in order (``"person,plate"`` or a sequence). None:
            read them from the model's ``names`` metadata (Ultralytics writes it). When given
            names do not fit the model's output but the metadata does, the metadata wins.
        person_conf: Lowest score kept for people, in [0, 1].
        plate_conf: Lowest score kept for plates, in [0, 1].
        iou: IoU above which a lower-scored box of the same class is suppressed.
        threads: onnxruntime intra-op threads; 0 lets onnxruntime choose.

    Raises:
        ConfigError: The file is missing or not an ONNX model, or its classes or output do not fit.
    """

    name = "onnx"

    def __init__(
        self,
        model_path: Path | str,
        class_names: Sequence[str] | str | None = None,
        *,
        person_conf: float = 0.5,
        plate_conf: float = 0.3,
        iou: float = 0.5,
        threads: int = 0,
    ) -> None:
        import onnxruntime as ort  # heavy import, only for this backend

        path = Path(model_path)
        if not path.is_file():
            raise ConfigError(f"ONNX_MODEL={str(path)!r} does not exist: expected a YOLO .onnx file")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidProtobuf/... types
            raise ConfigError(
                f"ONNX_MODEL={str(path)!r} is not a valid ONNX model: {str(exc).strip()[:300]}"
            ) from None
        self.model_path = path
        self._input = self._session.get_inputs()[0]
        self.input_size = _input_size(self._input.shape, self._metadata().get("imgsz"))
        self.iou = iou
        self._min_score = {PERSON: person_conf, PLATE: plate_conf}
        self.class_names = self._choose_class_names(class_names)
        self._canonical = np.array([-1 if (c := canonical_class(n)) is None else c for n in self.class_names])
        if not (self._canonical >= 0).any():
            raise ConfigError(
                f"ONNX model {str(path)!r} has no person or plate class among {list(self.class_names)}: "
                "set ONNX_CLASSES to its class names in order"
            )

    def __repr__(self) -> str:
        return f"OnnxDetector(model_path={str(self.model_path)!r}, class_names={list(self.class_names)!r})"

    def detect(self, image: np.ndarray) -> sv.Detections:
        """Find people and plates in ``image`` (BGR uint8 (h, w, 3)), in its pixels."""
        outputs, transform = self._run(image)
        xyxy, score, class_index = decode_yolo(outputs[0], len(self.class_names))
        canonical = self._canonical[class_index] if len(class_index) else np.empty(0, int)
        threshold = np.where(canonical == PERSON, self._min_score[PERSON], self._min_score[PLATE])
        keep = (canonical >= 0) & (score >= threshold)
        if not keep.any():
            return empty_detections()
        found = make_detections(
            transform.boxes_to_image(xyxy[keep], image.shape), score[keep], canonical[keep]
        )
        return found.with_nms(threshold=self.iou, class_agnostic=False)

    def _run(self, image: np.ndarray) -> tuple[list[np.ndarray], ImageScale]:
        padded, transform = letterbox(image, self.input_size)
        blob = cv2.cvtColor(padded, cv2.COLOR_BGR2RGB).transpose(2, 0, 1)[np.newaxis]
        blob = np.ascontiguousarray(blob, dtype=np.float32) / 255.0
        return self._session.run(None, {self._input.name: blob}), transform

    def _metadata(self) -> dict[str, str]:
        return dict(self._session.get_modelmeta().custom_metadata_map)

    def _choose_class_names(self, given: Sequence[str] | str | None) -> tuple[str, ...]:
        names = _parse_names(given) if given is not None else ()
        from_metadata = _parse_names(self._metadata().get("names"))
        probe = self._run(np.full((*self.input_size, 3), PAD_VALUE, np.uint8))[0][0]
        for candidate in (names, from_metadata):
            if not candidate:
                continue
            try:
                decode_yolo(probe, len(candidate))
            except ValueError:
                continue
            if candidate is from_metadata and names:
                logger.warning(
                    "ONNX_CLASSES has %d names but %s has %d classes: using the model's own names",
                    len(names),
                    self.model_path,
                    len(from_metadata),
                )
            return candidate
        shown = f", its metadata names {list(from_metadata)}" if from_metadata else ""
        raise ConfigError(
            f"ONNX_CLASSES={','.join(names)!r} does not fit {str(self.model_path)!r}: output shape "
            f"{tuple(probe.shape)}{shown}; expected (1, 4+nc, N) or (1, N, 5+nc) for nc class names"
        )


def _parse_names(value: Sequence[str] | str | None) -> tuple[str, ...]:
    """Class names from ``"a,b"``, a sequence, or Ultralytics' metadata ``"{0: 'a', 1: 'b'}"``."""
    if value is None:
        return ()
    if isinstance(value, str):
        text = value.strip()
        if text.startswith(("{", "[")):
            try:
                parsed = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                return ()
            if isinstance(parsed, dict):
                return tuple(str(parsed[k]) for k in sorted(parsed))
            return tuple(str(v) for v in parsed)
        return tuple(n.strip() for n in text.split(",") if n.strip())
    return tuple(str(v) for v in value)


def _input_size(shape: Sequence[object], imgsz: str | None) -> tuple[int, int]:
    """(height, width) of the model input: its static shape, else metadata ``imgsz``, else 640."""
    dims = list(shape)[-2:]
    if len(dims) == 2 and all(isinstance(d, int) and d > 0 for d in dims):
        return int(dims[0]), int(dims[1])  # type: ignore[call-overload]
    if imgsz:
        try:
            parsed = ast.literal_eval(imgsz)
            if isinstance(parsed, int):
                return parsed, parsed
            return int(parsed[0]), int(parsed[1])
        except (ValueError, SyntaxError, TypeError, IndexError):
            pass
    return DEFAULT_INPUT_SIZE, DEFAULT_INPUT_SIZE
