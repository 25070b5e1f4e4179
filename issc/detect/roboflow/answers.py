"""A Roboflow answer read as boxes: detection JSON to ``sv.Detections`` of our classes.

The answer is Roboflow's detection JSON (box centres ``x``, ``y`` and sizes), turned into
``sv.Detections`` by ``Detections.from_inference`` and relabelled: every box of the person model
is a ``PERSON``, every box of the plate model a ``PLATE``, whatever the model calls its classes.
"""

from __future__ import annotations

import numpy as np
import supervision as sv

from issc.detect.roboflow.scrub import scrub_secret
from issc.detections import make_detections
from issc.errors import DetectorResponseError


def to_detections(
    result: object, model: str, class_id: int, keep: frozenset[str] | None, key: str | None
) -> sv.Detections:
    """The boxes of one model's answer, all of class ``class_id``.

    Args:
        result: The decoded answer of ``model``.
        model: The model id, for the error message.
        class_id: Our class (``PERSON`` or ``PLATE``) given to every box.
        keep: Keep only boxes of these class names of the model; None keeps every box.
        key: The API key, scrubbed from the error message.

    Raises:
        DetectorResponseError: The answer is not Roboflow detection JSON.
    """
    try:
        if not isinstance(result, dict) or not isinstance(result.get("predictions"), list):
            raise KeyError("predictions")
        found = sv.Detections.from_inference(result)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DetectorResponseError(
            f"Roboflow model {model} answered something that is not detection JSON "
            f"({type(exc).__name__}: {scrub_secret(str(exc), key)})"
        ) from None
    if keep is not None and len(found):
        found = found[np.isin(found.data["class_name"].astype(str), list(keep))]
    confidence = np.clip(np.nan_to_num(found.confidence, nan=0.0), 0.0, 1.0)
    return make_detections(found.xyxy, confidence, np.full(len(found), class_id, dtype=int))
