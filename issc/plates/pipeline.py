"""The plate analyzer: detect → filter by tuning → track (ByteTrack) → vote plate reads per track.

``PlateAnalyzer`` implements ``issc.analysis.Analyzer``; the engine makes one per camera and calls
it from that camera's analysis thread only.
"""

from __future__ import annotations

import warnings

import numpy as np
import supervision as sv

from issc.analysis import Analysis
from issc.detect.base import PERSON, PLATE, Detector
from issc.plates.ocr import PlateReader, make_reader
from issc.plates.text import DEFAULT_RULES, PlateRules
from issc.plates.voting import PlateVoter, VotingOptions
from issc.types import Frame, PlateEvent, Tuning


class PlateAnalyzer:
    """People and plates for one camera, with one plate event per vehicle pass.

    Args:
        detector: Any ``Detector`` (canonical classes ``PERSON``/``PLATE``).
        camera: Camera name written into plate events.
        tuning: Thresholds and OCR choice. The engine may replace ``self.tuning`` at any time;
            it is read once per frame.
        voting: OCR budget and track-ending rules.
        frame_rate: Expected analysed frames per second (ByteTrack's lost-track buffer scales
            with it).
        rules: Plate formats and look-alike fixes used by the reader.

    Attributes:
        tuning: The current thresholds (swap the whole object to change them).
    """

    def __init__(
        self,
        detector: Detector,
        camera: str,
        tuning: Tuning | None = None,
        voting: VotingOptions | None = None,
        frame_rate: float = 30.0,
        rules: PlateRules = DEFAULT_RULES,
    ) -> None:
        self.detector = detector
        self.camera = camera
        self.tuning = tuning or Tuning()
        self.rules = rules
        self._reader_key: tuple[str, str, float] | None = None
        self._current_reader: PlateReader | None = None
        with warnings.catch_warnings():
            # supervision 0.30 flags ByteTrack as moving to the `trackers` package; it still works
            warnings.simplefilter("ignore", FutureWarning)
            self._plate_tracker = sv.ByteTrack(frame_rate=frame_rate)
            self._person_tracker = sv.ByteTrack(frame_rate=frame_rate)
        self.voter = PlateVoter(camera, self._reader(self.tuning), voting)

    def _reader(self, tuning: Tuning) -> PlateReader:
        key = (tuning.ocr_engine, tuning.ocr_preprocess, tuning.ocr_min_conf)
        if self._current_reader is None or key != self._reader_key:
            self._current_reader = make_reader(*key, rules=self.rules)
            self._reader_key = key
        return self._current_reader

    def analyze(self, frame: Frame) -> Analysis:
        """Detect, track and read plates in one frame.

        Returns:
            ``Analysis`` whose detections carry ``tracker_id`` and ``data["plate_text"]`` (the
            text voted so far for each plate track, ``""`` when unknown), the plate events
            finished by this frame, the people count and the OCR calls made.
        """
        tuning = self.tuning
        self.voter.reader = self._reader(tuning)
        dets = self.detector.detect(frame.image)
        if len(dets):
            dets = dets.with_nms(threshold=tuning.iou, class_agnostic=False)
        people = dets[(dets.class_id == PERSON) & (dets.confidence >= tuning.person_conf)]
        plates = dets[(dets.class_id == PLATE) & (dets.confidence >= tuning.plate_conf)]
        people = self._person_tracker.update_with_detections(people)
        plates = self._plate_tracker.update_with_detections(plates)
        events, calls = self.voter.update(frame.image, plates, frame.captured_at)
        texts = []
        for tid in plates.tracker_id if plates.tracker_id is not None else []:
            read = self.voter.current(int(tid))
            texts.append("" if read is None else read.text)
        plates.data["plate_text"] = np.array(texts, dtype=object)
        people.data["plate_text"] = np.full(len(people), "", dtype=object)
        return Analysis(
            frame_id=frame.frame_id,
            detections=_merge(people, plates),
            events=tuple(events),
            people=len(people),
            ocr_calls=calls,
        )

    def flush(self) -> list[PlateEvent]:
        """Finish every open plate track (one event per track that has a read)."""
        return self.voter.flush()


def _merge(people: sv.Detections, plates: sv.Detections) -> sv.Detections:
    """Merge people and plates; a data key only one side has is filled with None on the other."""
    keys = set(people.data) | set(plates.data)
    for dets in (people, plates):
        for key in keys - set(dets.data):
            dets.data[key] = np.full(len(dets), None, dtype=object)
        if dets.tracker_id is None:
            dets.tracker_id = np.full(len(dets), -1, dtype=int)
    return sv.Detections.merge([people, plates])
