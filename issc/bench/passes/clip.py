"""The clip as a live camera: its plate, the grey gap between plays, and a player logging each play."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from issc.sources import FileSource


def plate_from_name(path: Path) -> str | None:
    """``LS15EBC`` for ``aiguy_license_plate_uk_LS15EBC.mp4``; None when the last part is no plate."""
    last = path.stem.rsplit("_", 1)[-1]
    looks_like_plate = (
        re.fullmatch(r"[A-Z0-9]{4,10}", last) and re.search(r"\d", last) and re.search("[A-Z]", last)
    )
    return last if looks_like_plate else None


def default_dedupe_s(gap_s: float) -> float:
    """A ``PLATE_DEDUPE_S`` below the gap, so that two plays are two passes."""
    return max(gap_s - 1.0, gap_s / 2)


@dataclass
class Playback:
    """What the clip player did: the clip frame index of every picture read (-1: the grey gap),
    in the order the engine numbers them (``frame_id``), the plays finished, and the wall-clock
    time each play began and ended (``time.time()``, as frames are stamped)."""

    positions: list[int] = field(default_factory=list)
    plays: int = 0
    starts: list[float] = field(default_factory=list)
    ends: list[float] = field(default_factory=list)

    def windows(self, since: float, until: float) -> list[tuple[float, float]]:
        """``(start, end)`` of the plays that began at or after ``since`` and ended by ``until``."""
        return [(s, e) for s, e in zip(self.starts, self.ends, strict=False) if s >= since and e <= until]


class ClipPlayer(FileSource):
    """``FileSource`` with grey gaps that logs, per picture read, which clip frame it was."""

    def __init__(self, path: str, stop: threading.Event, gap_s: float, playback: Playback) -> None:
        super().__init__(path, stop, loop=True, gap_s=gap_s)
        self.playback = playback

    def read(self) -> np.ndarray:
        plays, before = self.plays, self.position
        image = super().read()
        now = time.time()
        if self.plays > plays:
            self.playback.ends.append(now)
        self.playback.plays += self.plays - plays
        if self.position >= 0 and (before < 0 or self.plays > plays or not self.playback.positions):
            self.playback.starts.append(now)
        self.playback.positions.append(self.position)
        return image
