"""The voter's tunables (``VotingOptions``): OCR budgets, thresholds for an event, dedupe and hold
times, crop padding. Frozen: a change of tuning replaces them whole (``dataclasses.replace``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class VotingOptions:
    """Tunables of ``PlateVoter``.

    Attributes:
        max_ocr_per_track: OCR calls allowed per track (per vehicle pass).
        agree_stop: Stop OCR on a track once this many reads agree exactly.
        min_height: Plate boxes lower than this (pixels) are not read: characters under ~16 px are
            misread more often than read, and distant plates come closer later in the pass.
        edge_margin: Plate boxes within this many pixels of the frame border are not read: the
            plate is probably cut off, and a partial read would make a wrong event.
        min_sharpness: Crops with a Laplacian variance below this are not read.
        min_gap_frames: Analysed frames between two OCR calls on one track.
        improve: A further crop is read only if its quality (height × sharpness factor) beats the
            last read crop's by this factor.
        min_reads: Reads (in the winning cluster) a track needs for an event: one read alone may be
            a fluke (a partial plate, a sign). Tracks with fewer are re-read every
            ``retry_gap_frames`` even without a better crop (parked cars), within the budget.
        recognition_threshold: One read at least this confident is enough for an event (Frigate's
            ``recognition_threshold``, 0.9 there too), and a free read this confident spares the
            track an OCR call.
        flush_min_conf: A track that ends with a single read still makes its event when that
            read fits one of the region's plate formats with at least this confidence: at one or
            two analysed frames a second a fast pass may be seen once.
        min_free_height: Free reads (the locator's own line reads, ``data["plate_text"]``) of
            plate boxes lower than this (pixels) are not counted.
        max_reads: Reads kept per track: past this the least confident is dropped (a parked car
            is seen in every analysed frame for hours).
        retry_gap_frames: Analysed frames between re-reads of a track that lacks ``min_reads``.
        lost_frames: Without a tracker's word (``update(alive=None)``), a track unseen for this
            many analysed frames is finished...
        lost_s: ... or unseen for this many seconds, whichever comes first.
        cluster_similarity: Reads at least this similar (``issc.plates.text.similarity``) are
            one cluster.
        dedupe_s: A finished track whose text is like (or a partial read of) an event of a pass
            seen this recently (seconds before the track began; a pass still in view counts as
            seen now) is the same pass, tracked twice: no second event.
        partial_hold_s: An unsure track whose text fits none of the region's plate layouts may be
            a partial read (``9658`` of ``K179658``) of a plate still coming closer: its event
            waits this long (seconds) for a track whose text holds it, and merges into that one.
        pad_x: Crop padding around the plate box, fraction of its width each side.
        pad_y: Crop padding, fraction of its height each side.
        jpeg_quality: Quality of the crop and snapshot JPEGs.
    """

    max_ocr_per_track: int = 3
    agree_stop: int = 2
    min_height: int = 24
    edge_margin: int = 2
    min_sharpness: float = 15.0
    min_gap_frames: int = 3
    improve: float = 1.2
    min_reads: int = 2
    recognition_threshold: float = 0.9
    flush_min_conf: float = 0.6
    min_free_height: int = 20
    max_reads: int = 24
    retry_gap_frames: int = 10
    lost_frames: int = 30
    lost_s: float = 3.0
    cluster_similarity: float = 0.7
    dedupe_s: float = 10.0
    partial_hold_s: float = 4.0
    pad_x: float = 0.15
    pad_y: float = 0.5
    jpeg_quality: int = 85
