"""A faithful re-implementation of the Django prototype's camera loop, as a yardstick.

Per frame and in series: person model, plate model, then for every plate: crop, grey,
``fastNlMeansDenoising``, OCR; draw; JPEG-encode; ``put`` into a display queue of 10 that the
MJPEG view drains. The view therefore shows only frames that went through all of that.

The camera is simulated as a live one: frames arrive at the clip's own fps into a small
driver buffer and are lost when the loop is not there to take them, as with a real RTSP
camera. Only the bench uses this module.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from issc.annotate import FrameAnnotator
from issc.detections import PLATE, Detector, merge_detections
from issc.jpeg import encode_jpeg
from issc.plates.ocr.reader import PlateReader
from issc.sources import FileSource

DISPLAY_QUEUE = 10  # the prototype's queue.Queue(maxsize=10)
DRIVER_BUFFER = 4  # frames a capture driver holds before it starts losing them


@dataclass
class LoopStats:
    displayed: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    ocr_calls: int = 0
    frames_processed: int = 0
    frames_lost: int = 0


class PrototypeLoop:
    """One camera handled the prototype's way."""

    def __init__(self, clip: Path, person: Detector, plate: Detector, reader: PlateReader) -> None:
        self.clip = clip
        self.person = person
        self.plate = plate
        self.reader = reader
        self.stats = LoopStats()
        self._stop = threading.Event()
        self._driver: queue.Queue[tuple[float, np.ndarray]] = queue.Queue(DRIVER_BUFFER)
        self._display: queue.Queue[tuple[float, bytes]] = queue.Queue(DISPLAY_QUEUE)
        self._annotator = FrameAnnotator()
        self.source_fps = 0.0

    def run(self, seconds: float) -> LoopStats:
        threads = [
            threading.Thread(target=self._camera, name="proto-camera", daemon=True),
            threading.Thread(target=self._loop, name="proto-loop", daemon=True),
            threading.Thread(target=self._viewer, name="proto-viewer", daemon=True),
        ]
        for t in threads:
            t.start()
        time.sleep(seconds)
        self._stop.set()
        for t in threads:
            t.join(30)
        return self.stats

    def _camera(self) -> None:
        source = FileSource(str(self.clip), stop=self._stop)
        source.open()
        self.source_fps = source.fps
        while not self._stop.is_set():
            image = source.read()
            try:
                self._driver.put_nowait((time.monotonic(), image))
            except queue.Full:
                self.stats.frames_lost += 1
        source.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                captured, image = self._driver.get(timeout=0.5)
            except queue.Empty:
                continue
            people = self.person.detect(image)
            plates = self.plate.detect(image)
            plates = plates[plates.class_id == PLATE] if len(plates) else plates
            for x0, y0, x1, y1 in plates.xyxy.astype(int):
                h, w = image.shape[:2]
                crop = image[max(y0, 0) : min(y1, h), max(x0, 0) : min(x1, w)]
                if crop.size:
                    self.stats.ocr_calls += 1
                    self.reader.read(crop)
            scene = self._annotator.annotate(image, merge_detections([people, plates]))
            jpeg = encode_jpeg(scene)
            self.stats.frames_processed += 1
            while not self._stop.is_set():
                try:
                    self._display.put((captured, jpeg), timeout=0.5)
                    break
                except queue.Full:
                    continue

    def _viewer(self) -> None:
        while not self._stop.is_set():
            try:
                captured, _ = self._display.get(timeout=0.5)
            except queue.Empty:
                continue
            self.stats.displayed += 1
            self.stats.latencies_ms.append((time.monotonic() - captured) * 1000)
