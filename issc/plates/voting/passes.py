"""Which passes already made an event: the dedupe bookkeeping that keeps one event per pass.

A track that the tracker loses and restarts under a new id would read the same plate again: a
second event with a similar text (or a partial read of it) within ``dedupe_s`` of the first pass's
last sighting is suppressed. A pass still in view counts as seen *now* (the voter keeps its
``Seen.last_seen`` up to date while its provisional event's track runs).
"""

from __future__ import annotations

from dataclasses import dataclass

from issc.plates.consensus import is_partial
from issc.plates.text import similarity
from issc.plates.voting.options import VotingOptions


@dataclass
class Seen:
    """A pass that made an event (or a provisional one): its text and when it was last seen."""

    text: str
    last_seen: float


class RecentPasses:
    """The passes with an event, final or provisional, that a new track may repeat. One thread only."""

    def __init__(self) -> None:
        self._recent: list[Seen] = []

    def add(self, seen: Seen) -> None:
        """Remember a pass that made an event."""
        self._recent.append(seen)

    def forget(self, seen: Seen) -> None:
        """Drop ``seen`` (this very entry): its provisional event is being replaced by the final one."""
        self._recent = [entry for entry in self._recent if entry is not seen]

    def repeats(self, first_seen: float, text: str, options: VotingOptions, prune: bool = False) -> bool:
        """Whether ``text`` is like (or a partial read of) the text of a pass seen within
        ``dedupe_s`` before the track began at ``first_seen`` (a pass still in view is seen now)."""
        recent = [seen for seen in self._recent if first_seen - seen.last_seen < options.dedupe_s]
        if prune:
            self._recent = recent
        like = options.cluster_similarity
        return any(similarity(s.text, text) >= like or is_partial(text, s.text) for s in recent)
