"""What a pass's ``PlateEvent`` carries: the voted text, the reads that voted, crop and snapshot.

The crop is the track's sharpest, the snapshot the full frame it was cut from (both JPEG, empty
when there is none or it cannot be encoded); ``pass_key`` lets the final event replace the
provisional one of the same pass in the store.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from issc.jpeg import encode_jpeg
from issc.plates.voting.options import VotingOptions
from issc.plates.voting.track_reads import TrackReads
from issc.plates.voting.verdict import unsure
from issc.types import PlateEvent, PlateRead


def plate_event(camera: str, track: TrackReads, voted: PlateRead, options: VotingOptions) -> PlateEvent:
    """The event of ``track``, whose reads voted ``voted``."""

    def jpeg(image: np.ndarray | None) -> bytes:
        if image is None:
            return b""
        try:
            return encode_jpeg(image, options.jpeg_quality)
        except ValueError:
            return b""

    return PlateEvent(
        pass_key=track.pass_key,
        camera=camera,
        first_seen=datetime.fromtimestamp(track.first_seen, tz=UTC),
        last_seen=datetime.fromtimestamp(track.last_seen, tz=UTC),
        text=voted.text,
        confidence=voted.confidence,
        reads=len(track.reads),
        box=track.box,
        crop_jpeg=jpeg(track.best_crop),
        snapshot_jpeg=jpeg(track.best_frame),
        ocr_calls=track.ocr_calls,
        votes=tuple(track.reads),
        char_conf=voted.char_conf,
        unsure=unsure(track, voted, options),
    )
