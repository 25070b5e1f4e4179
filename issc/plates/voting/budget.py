"""The OCR budget: whether one more crop of a track is worth an OCR call.

OCR is the voter's dear step, so a track is read only within ``max_ocr_per_track`` calls, on crops
big and sharp enough, ``min_gap_frames`` apart, and only while its reads do not yet agree; a later
crop must be clearly better than the last one read (``improve``), unless the track still lacks the
reads an event needs and has waited ``retry_gap_frames`` (a parked car).
"""

from __future__ import annotations

from collections import Counter

from issc.plates.voting.options import VotingOptions
from issc.plates.voting.track_reads import TrackReads


def worth_reading(
    track: TrackReads, height: float, sharp: float, quality: float, update: int, options: VotingOptions
) -> bool:
    """Whether to OCR the crop now seen of ``track`` (``update``: the voter's analysed-frame count)."""
    opts = options
    if track.ocr_calls >= opts.max_ocr_per_track:
        return False
    if height < opts.min_height or sharp < opts.min_sharpness:
        return False
    top = Counter(r.text for r in track.reads).most_common(1)
    if top and top[0][1] >= opts.agree_stop:
        return False
    if track.ocr_calls == 0:
        return True
    if update - track.last_ocr_update < opts.min_gap_frames:
        return False
    # no read yet: any new crop is worth a try; otherwise it must be clearly better, or the
    # track still lacks the reads an event needs and has waited long enough
    if not track.reads or quality >= opts.improve * track.last_ocr_quality:
        return True
    waited = update - track.last_ocr_update >= opts.retry_gap_frames
    return waited and len(track.reads) < opts.min_reads
