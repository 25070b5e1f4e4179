"""Per-pass accounting: what the viewer saw, events per measured pass, and the process's CPU time."""

from __future__ import annotations

import resource
from collections import Counter
from dataclasses import dataclass, field

import supervision as sv

from issc.bench.reference import Box, shows_plate
from issc.types import PlateEvent


def cpu_s(usage: resource.struct_rusage, before: resource.struct_rusage) -> float:
    """User + system CPU seconds of this process between two ``getrusage`` samples."""
    return usage.ru_utime + usage.ru_stime - before.ru_utime - before.ru_stime


@dataclass
class Tally:
    """What the bench's viewer saw in the measured window."""

    seen: int = 0
    in_view: int = 0
    shown: int = 0
    overlay_ms: list[float] = field(default_factory=list)  # capture -> publish of frames with boxes

    def add(self, boxes: sv.Detections, reference: Box | None, publish_ms: float | None) -> None:
        self.seen += 1
        if len(boxes) and publish_ms is not None:
            self.overlay_ms.append(publish_ms)
        if reference is not None:
            self.in_view += 1
            self.shown += shows_plate(boxes, reference)


def per_pass_figures(events: list[PlateEvent], windows: list[tuple[float, float]], plate: str) -> dict:
    """Passes, events, correct, wrong, events per pass and split passes of one camera.

    An event belongs to the pass during whose play it was first seen (a little slack after the
    play's last frame: the frame is stamped after it is read); events of no measured pass (warm-up,
    the play running when the bench stopped) are not counted.
    """
    per_pass: list[list[str]] = [[] for _ in windows]
    for event in events:
        seen = event.first_seen.timestamp()
        home = next((k for k, (s, e) in enumerate(windows) if s - 0.5 <= seen <= e + 0.5), None)
        if home is not None:
            per_pass[home].append(event.text)
    texts = [t for found in per_pass for t in found]
    correct = sum(t == plate for t in texts)
    return {
        "passes": len(windows),
        "events": len(texts),
        "correct": correct,
        "wrong": len(texts) - correct,
        "events_per_pass": round(len(texts) / len(windows), 3) if windows else None,
        "split_passes": sum(len(found) > 1 for found in per_pass),
        "texts": dict(Counter(texts).most_common()),
    }
