"""The plate analyzer: detect → filter by tuning → track → vote plate reads per track.

Plates are tracked by ``PlateTracker`` (an id from the first sighting, matched by predicted box
and by text), people by ByteTrack (the ``trackers`` package), which is given each frame's capture
time, so a lost person is kept for seconds rather than frames, whatever the analysis rate. People
detections not yet confirmed are returned too (``tracker_id`` -1), so the live picture shows them
at once. With the offline stack's
separate person detector, people are looked for in every analysed frame while someone is in view
and once a second otherwise (``PEOPLE_IDLE_CHECK_S``): at a gate most frames show only cars.

``PlateAnalyzer`` implements ``issc.analysis.Analyzer``; the engine makes one per camera and calls
it from that camera's analysis thread only. It lives above ``issc.detect`` and ``issc.plates`` and
joins them: detectors find, ``issc.plates`` tracks, reads and votes.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import supervision as sv
from trackers import ByteTrackTracker

from issc.analysis.analyzer import Analysis
from issc.detect import CompositeDetector
from issc.detections import PERSON, PLATE, Detector, merge_detections
from issc.plates.ocr.reader import PlateReader, make_reader
from issc.plates.text import DEFAULT_RULES, PlateRules
from issc.plates.tracking import PlateTracker, TrackerOptions
from issc.plates.voting import PlateVoter, VotingOptions
from issc.tuning import Tuning
from issc.types import Frame, PlateEvent

PEOPLE_LOST_S = 2.0  # seconds a person track survives unseen
#: With nobody in view, people are looked for at most this often (seconds); every analysed frame
#: while someone is. The person detector costs a third of an analysed frame on two cores, time
#: that goes to the plate search instead, and a newcomer is still counted within the second.
PEOPLE_IDLE_CHECK_S = 1.0


class PlateAnalyzer:
    """People and plates for one camera, with one plate event per vehicle pass.

    Args:
        detector: Any ``Detector`` (canonical classes ``PERSON``/``PLATE``).
        camera: Camera name written into plate events.
        tuning: Thresholds and OCR choice. The engine may replace ``self.tuning`` at any time;
            it is read once per frame.
        voting: OCR budget and track-ending rules.
        frame_rate: Expected analysed frames per second until the real rate is measured.
        tracking: Plate tracker options.
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
        tracking: TrackerOptions | None = None,
        people: bool = True,
    ) -> None:
        self.detector = detector
        self.people = people  # off: a camera that only reads plates (no people looked for or counted)
        self.camera = camera
        self.tuning = tuning or Tuning()
        self.rules = rules
        self._reader_key: tuple[str, str, float] | None = None
        self._current_reader: PlateReader | None = None
        # ByteTrack of the `trackers` package (supervision's own is deprecated). Its lost buffer counts
        # 30 fps frames; with timestamps it keeps a lost person PEOPLE_LOST_S seconds, whatever the
        # analysis rate. Thresholds measured against sv.ByteTrack on five real clips (BENCHMARKS.md):
        # as few id fragments, at about a third of the time per update. Unconfirmed people get id -1.
        self._person_tracker = ByteTrackTracker(
            lost_track_buffer=round(PEOPLE_LOST_S * 30),
            frame_rate=frame_rate,
            track_activation_threshold=0.6,
            high_conf_det_threshold=0.5,
            minimum_iou_threshold=0.2,
            minimum_consecutive_frames=2,
        )
        self._plate_tracker = PlateTracker(tracking)
        self.voter = PlateVoter(camera, self._reader(self.tuning), voting)
        self._people_in_view = False
        self._people_checked = -float("inf")  # capture time of the last frame searched for people

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
        if self.voter.options.recognition_threshold != tuning.recognition_threshold:
            self.voter.options = replace(
                self.voter.options, recognition_threshold=tuning.recognition_threshold
            )
        dets, people_checked = self._detect(frame)
        if len(dets):
            dets = dets.with_nms(threshold=tuning.iou, class_agnostic=False)
        people = dets[(dets.class_id == PERSON) & (dets.confidence >= tuning.person_conf)]
        plates = dets[(dets.class_id == PLATE) & (dets.confidence >= tuning.plate_conf)]
        if people_checked:
            people = self._person_tracker.update(people, timestamp=frame.captured_at)
            self._people_in_view = len(people) > 0
        plates = self._plate_tracker.update(plates, frame.captured_at)
        events, calls = self.voter.update(
            frame.image, plates, frame.captured_at, alive=self._plate_tracker.active_ids
        )
        texts = []
        for tid in plates.tracker_id if plates.tracker_id is not None else []:
            read = self.voter.current(int(tid))
            texts.append("" if read is None else read.text)
        plates.data["plate_text"] = np.array(texts, dtype=object)
        people.data["plate_text"] = np.full(len(people), "", dtype=object)
        return Analysis(
            frame_id=frame.frame_id,
            detections=merge_detections([people, plates]),
            events=tuple(events),
            people=len(people) if people_checked else None,
            ocr_calls=calls,
            provisional=tuple(self.voter.take_provisional()),
        )

    def _detect(self, frame: Frame) -> tuple[sv.Detections, bool]:
        """The frame's detections, and whether people were looked for.

        With a separate person detector (the offline stack), people are looked for in every
        analysed frame while someone is in view, and at most every ``PEOPLE_IDLE_CHECK_S``
        otherwise; plates in every frame.
        """
        detector = self.detector
        if not self.people:
            if isinstance(detector, CompositeDetector):
                return detector.detect_plates(frame.image), False
            dets = detector.detect(frame.image)
            return dets[dets.class_id != PERSON], False
        due = self._people_in_view or frame.captured_at - self._people_checked >= PEOPLE_IDLE_CHECK_S
        if isinstance(detector, CompositeDetector) and not due:
            return detector.detect_plates(frame.image), False
        self._people_checked = frame.captured_at
        return detector.detect(frame.image), True

    def flush(self) -> list[PlateEvent]:
        """Finish every open plate track (one event per track whose reads are enough)."""
        self._plate_tracker = PlateTracker(self._plate_tracker.options)
        self._people_checked = -float("inf")
        return self.voter.flush()
