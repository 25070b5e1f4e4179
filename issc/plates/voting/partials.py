"""Partial reads seen before the full one: hold them, then merge them into their pass or let go.

A distant plate read as ``9658`` and then, close up, as ``K179658`` is one pass, but the first
track may end before the second begins. The voter hands such a finished, unsure track whose text
fits none of the region's layouts to ``PartialHold``: for ``hold_s`` seconds it merges into a
track whose voted text holds it (:func:`issc.plates.consensus.is_partial`); after that the voter
makes its (unsure) event alone.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from issc.plates.consensus import is_partial
from issc.plates.voting.track_reads import TrackReads

logger = logging.getLogger(__name__)


class PartialHold:
    """Finished tracks that may be partial reads of a plate still coming closer. One thread only.

    Args:
        camera: Camera name, for the log.
        hold_s: How long (seconds after its last sighting) a held track waits for its full read.
        max_reads: Reads kept per track when one absorbs another.
        cluster_similarity: Passed to the vote of a track that absorbs a held one.
    """

    def __init__(self, camera: str, hold_s: float, max_reads: int, cluster_similarity: float) -> None:
        self.camera = camera
        self.hold_s = hold_s
        self.max_reads = max_reads
        self.cluster_similarity = cluster_similarity
        self._held: list[TrackReads] = []

    def hold(self, track: TrackReads) -> None:
        """Keep a finished track that may be a partial read."""
        self._held.append(track)

    def merge_into_live(self, live: Iterable[TrackReads]) -> None:
        """Held tracks join a live track whose voted text holds theirs (the same pass)."""
        live = list(live)
        for held in list(self._held):
            text = held.voted.text if held.voted is not None else ""
            home = next((t for t in live if t.voted is not None and is_partial(text, t.voted.text)), None)
            if home is not None:
                self._held.remove(held)
                self._absorb(home, held)

    def merge_into(self, track: TrackReads) -> None:
        """Held tracks whose text is a partial read of ``track``'s join it (it is finishing)."""
        if track.voted is None:
            return
        full = track.voted.text
        for held in [h for h in self._held if h.voted and is_partial(h.voted.text, full)]:
            self._held.remove(held)
            self._absorb(track, held)

    def due(self, now: float | None) -> list[TrackReads]:
        """Take the held tracks whose wait is over (all of them when ``now`` is ``None``)."""
        done = [h for h in self._held if now is None or now - h.last_seen >= self.hold_s]
        self._held = [h for h in self._held if h not in done]
        return done

    def _absorb(self, track: TrackReads, partial: TrackReads) -> None:
        logger.debug(
            "camera %s: track %d's partial read %r merges into track %d",
            self.camera,
            partial.tracker_id,
            partial.voted.text if partial.voted else "",
            track.tracker_id,
        )
        track.absorb(partial, self.max_reads, self.cluster_similarity)
