"""Per-track plate voting: a few good OCR reads per vehicle pass, one ``PlateEvent`` per pass.

For every tracked plate (``tracker_id`` from ``issc.plates.tracking.PlateTracker``) the voter

1. counts the detector's own read of the plate (``data["plate_text"]``: the offline locator reads
   every line it finds) as a vote that costs nothing, and skips OCR when it is confident;
2. OCRs only crops worth reading: big enough, sharp enough (variance of the Laplacian), and
   clearly better than the last crop read (novelty), within a budget of OCR calls per track; it
   stops early once two reads agree;
3. votes the reads into one text (:func:`issc.plates.consensus.vote`): clusters by string
   similarity, the heaviest cluster wins, a partial read (``9658`` of ``K179658``) joins the full
   read it is part of, and the reads vote character by character, weighted by confidence;
4. when the tracker drops the track (or on ``flush``: the stream ended, the scene is static, the
   engine stops), emits exactly one event with the voted text and its per-character confidence,
   the reads that voted (each stamped with its frame's time and source), the sharpest crop and
   the full frame it came from (JPEG), if its reads are enough (``verdict.enough``), and drops the track.

A track that the tracker loses and restarts under a new id would read the same plate again: a
second event with a similar text (or a partial read of it) within ``dedupe_s`` of the first pass's
last sighting is suppressed. A pass still in view counts as seen *now*: at one analysed frame a
second the tracker may start a second id for a plate whose first track is still running, seconds
after that track's provisional event; measured from the provisional event's time, such a second
track used to make a second event of the same pass. A partial read seen *before* the full one (a distant plate read as ``9658``, then
``K179658`` close up) cannot be told at once: an unsure track whose text fits none of the region's
layouts is held for ``partial_hold_s`` and merges into a track whose text holds it, or makes its
(unsure) event when none comes.

Every event says whether it is ``unsure``: no read agreeing with its voted text reached
``recognition_threshold`` (``PLATE_RECOGNITION_THRESHOLD``). Unsure events are stored for review,
but left out of the default history and of watchlist alerts (:mod:`issc.alerts`).

Durability: the event of a pass is only known once the tracker gives the track up, seconds after the
car left. So that a crash (``kill -9``) then loses nothing, the voter also makes a *provisional*
event as soon as a live track's reads are enough (and it repeats no recent event); the engine hands
it to the store alone (no alert, no recent-events entry, not counted by benchmarks), and the final
event, carrying the same ``pass_key``, replaces it in the database.

The package, a module per job:

- ``voter``: ``PlateVoter``, the life of each track (sightings, OCR calls, finish, flush);
- ``options``: ``VotingOptions``, its tunables;
- ``track_reads``: one track's state (reads, best crop, vote, pass key);
- ``budget``: whether a crop is worth an OCR call;
- ``verdict``: whether a track's reads make an event, and whether it is unsure;
- ``passes``: the passes with an event, for the dedupe;
- ``partials``: partial reads held for their full read;
- ``event``: the ``PlateEvent`` a pass makes.

The vote itself is :mod:`issc.plates.consensus`; crop padding and sharpness are
:mod:`issc.plates.crops`.
"""

from __future__ import annotations

from issc.plates.voting.options import VotingOptions
from issc.plates.voting.voter import PlateVoter

__all__ = ["PlateVoter", "VotingOptions"]
