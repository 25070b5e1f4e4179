"""One tracked plate's state while the voter reads it: its reads, best crop, vote and pass key.

Private to one voter (one thread). ``add_read`` and ``absorb`` keep the reads bounded and the vote
(:func:`issc.plates.consensus.vote`) up to date.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import numpy as np

from issc.plates.consensus import vote
from issc.plates.voting.passes import Seen
from issc.types import PlateRead


@dataclass(eq=False)  # identity: tracks are found in lists by ``is``, and hold numpy arrays
class TrackReads:
    """Mutable state of one tracked plate."""

    tracker_id: int
    first_seen: float
    last_seen: float
    last_update: int
    box: tuple[int, int, int, int] = (0, 0, 0, 0)
    reads: list[PlateRead] = field(default_factory=list)
    ocr_calls: int = 0
    last_ocr_update: int = -(10**9)
    last_ocr_quality: float = 0.0
    best_quality: float = -1.0
    best_crop: np.ndarray | None = None
    best_frame: np.ndarray | None = None
    voted: PlateRead | None = None
    pass_key: str = field(default_factory=lambda: uuid.uuid4().hex)
    recent: Seen | None = None  # the provisional event's entry in the voter's recent list (kept up to date)

    def add_read(self, read: PlateRead, max_reads: int, cluster_similarity: float) -> None:
        """Count one more read (past ``max_reads`` the first least confident is dropped) and revote."""
        self.reads.append(read)
        self._keep(max_reads, cluster_similarity)

    def absorb(self, partial: TrackReads, max_reads: int, cluster_similarity: float) -> None:
        """Take the reads (and the start) of ``partial``, a partial read of the same pass."""
        self.first_seen = min(self.first_seen, partial.first_seen)
        self.ocr_calls += partial.ocr_calls
        self.reads.extend(partial.reads)
        self.reads.sort(key=lambda r: r.at if r.at is not None else 0.0)
        self._keep(max_reads, cluster_similarity)

    def _keep(self, max_reads: int, cluster_similarity: float) -> None:
        while len(self.reads) > max_reads:
            del self.reads[min(range(len(self.reads)), key=lambda k: self.reads[k].confidence)]
        self.voted = vote(self.reads, cluster_similarity)
