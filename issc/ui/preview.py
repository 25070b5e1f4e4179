"""The Tuning page's preview: one picture analysed with one tuning, as the cameras would analyse it."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import streamlit as st

from issc.annotate import FrameAnnotator
from issc.detect import Detector
from issc.detections import PERSON, PLATE
from issc.plates.text import PlateRules
from issc.service import Service
from issc.tuning import Tuning
from issc.types import Frame


@dataclass(frozen=True)
class PreviewResult:
    """One picture analysed with one tuning: the annotated copy and what was found."""

    image: np.ndarray  # annotated, BGR
    people: int
    plates: tuple[str, ...]  # "LS15EBC 0.93", or "unread 0.41" for plates without text yet
    seconds: float


@st.cache_data(ttl=600, max_entries=16, show_spinner="Analysing the picture…")
def _preview(
    _detector: Detector, key: str, image: np.ndarray, tuning: Tuning, _rules: PlateRules, region: str
) -> PreviewResult:
    from issc.analysis import PlateAnalyzer

    started = time.perf_counter()
    frame = Frame(image, 0, "preview", time.time(), time.monotonic())
    dets = PlateAnalyzer(_detector, "preview", tuning, rules=_rules).analyze(frame).detections
    texts = dets.data.get("plate_text")
    plates = []
    for i in np.flatnonzero(dets.class_id == PLATE):
        text = str(texts[i]) if texts is not None and texts[i] else "unread"
        plates.append(f"{text} {float(dets.confidence[i]):.2f}")
    return PreviewResult(
        image=FrameAnnotator().annotate(image, dets),
        people=int(np.count_nonzero(dets.class_id == PERSON)),
        plates=tuple(plates),
        seconds=time.perf_counter() - started,
    )


def preview(
    service: Service, image: np.ndarray, tuning: Tuning, plate_region: str | None = None
) -> PreviewResult:
    """Detect, track and read plates in one picture with ``tuning``, with the cameras' own detector
    (shared: its models are loaded once) and the plate rules of ``plate_region`` (a camera's own;
    None: ``PLATE_REGION``). Without a detector (``DETECTOR=none``) nothing is found."""
    if service.detector is None:
        return PreviewResult(image=image, people=0, plates=(), seconds=0.0)
    from issc.plates.regions import plate_rules

    plates = service.settings.plates
    if plate_region is not None:
        plates = plates.model_copy(update={"plate_region": plate_region})
    key = service.settings.detection.identity()
    return _preview(service.detector, key, image, tuning, plate_rules(plates), plates.plate_region)
