"""Whether a track's reads make an event, and whether that event is sure.

A track makes an event when its reads agree enough (``enough``); the event is ``unsure`` when no
read agreeing with its voted text reached ``recognition_threshold``. An unsure read that fits none
of the region's plate layouts may be a piece of a longer one (``may_be_partial``): the voter holds
it (:mod:`issc.plates.voting.partials`) instead of making its event at once.

``rules`` is the reader's ``PlateRules`` (its plate formats), or ``None`` for a reader without any.
"""

from __future__ import annotations

import logging

from issc.plates.consensus import is_partial
from issc.plates.text import PlateRules, similarity
from issc.plates.voting.options import VotingOptions
from issc.plates.voting.track_reads import TrackReads
from issc.types import PlateRead

logger = logging.getLogger(__name__)


def unsure(track: TrackReads, voted: PlateRead, options: VotingOptions) -> bool:
    """Whether the track's best vote stays below ``recognition_threshold``: no read that agrees
    with the voted text (``cluster_similarity``) is that confident."""
    like = options.cluster_similarity
    best = max((r.confidence for r in track.reads if similarity(r.text, voted.text) >= like), default=0.0)
    return best < options.recognition_threshold


def may_be_partial(
    track: TrackReads, voted: PlateRead, rules: PlateRules | None, options: VotingOptions
) -> bool:
    """An unsure read that fits none of the region's layouts: perhaps a piece of a longer one."""
    if rules is None or not rules.formats or rules.matching_format(voted.text) is not None:
        return False
    return unsure(track, voted, options)


def enough(
    track: TrackReads,
    voted: PlateRead,
    rules: PlateRules | None,
    options: VotingOptions,
    camera: str,
    quiet: bool = False,
) -> bool:
    """Whether a finished track's reads make an event.

    Two reads like the voted text, or one read at or above ``recognition_threshold``, or (a
    pass seen once) one read that fits a plate format with at least ``flush_min_conf``. The
    text must look like a registration: digits in it, or a known format (signs and slogans
    that the locator took for a plate have neither).
    """
    opts = options
    fits = rules is not None and rules.matching_format(voted.text) is not None
    if not (fits or any(c.isdigit() for c in voted.text)):
        if quiet:
            return False
        logger.debug("camera %s: track %d read %r, not a plate", camera, track.tracker_id, voted.text)
        return False
    like = [
        r
        for r in track.reads
        if similarity(r.text, voted.text) >= opts.cluster_similarity or is_partial(r.text, voted.text)
    ]
    best = max((r.confidence for r in like), default=0.0)
    if len(like) >= opts.min_reads or best >= opts.recognition_threshold:
        return True
    if fits and best >= opts.flush_min_conf:
        return True
    if quiet:
        return False
    logger.debug(
        "camera %s: track %d has too few reads (%d, best %.2f)",
        camera,
        track.tracker_id,
        len(like),
        best,
    )
    return False
