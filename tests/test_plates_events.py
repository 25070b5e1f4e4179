"""Events that deserve trust: per-character weighted votes, partial reads merged into the full read,
unsure passes flagged, and one event per pass when a pass is tracked twice."""

from __future__ import annotations

import numpy as np
import pytest
import supervision as sv

from issc.detections import PLATE, make_detections
from issc.plates.consensus import is_partial, vote
from issc.plates.text import PlateRules
from issc.plates.voting import PlateVoter, VotingOptions
from issc.types import PlateEvent, PlateRead

T0 = 1_700_000_000.0
US = PlateRules.from_masks(["AAA9999", "9AAA999", "AAA999", "999AAA", "A99AAA", "9AA9999"])


class NoOcr:
    """A reader that is never needed: every read here is the locator's own (a free read)."""

    def __init__(self, rules: PlateRules | None = None) -> None:
        self.rules = rules
        self.calls = 0

    def read(self, crop: np.ndarray) -> PlateRead | None:
        self.calls += 1
        return None


def frame() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 255, size=(360, 640, 3), dtype=np.uint8)


def seen(plates: list[tuple[int, str, float, tuple[float, float, float, float]]]) -> sv.Detections:
    """Tracked plate boxes with the locator's reads: ``(tracker_id, text, confidence, box)``."""
    if not plates:
        return sv.Detections.empty()
    dets = make_detections(
        np.array([p[3] for p in plates], float),
        np.array([p[2] for p in plates]),
        np.array([PLATE] * len(plates)),
    )
    dets.tracker_id = np.array([p[0] for p in plates])
    dets.data["plate_text"] = np.array([p[1] for p in plates], dtype=object)
    return dets


BOX = (200.0, 200.0, 300.0, 230.0)


def play(voter: PlateVoter, script: list[tuple[float, list[tuple[int, str, float]]]]) -> list[PlateEvent]:
    """Feed ``(seconds after T0, [(tracker_id, text, confidence), ...])`` frames; the tracks alive
    are the ones in each frame. Returns every final event, the flush's included."""
    events: list[PlateEvent] = []
    image = frame()
    for t, plates in script:
        found = seen([(tid, text, conf, BOX) for tid, text, conf in plates])
        events += voter.update(image, found, T0 + t, alive={tid for tid, _, _ in plates})[0]
    return events + voter.flush()


# --- per-character, confidence-weighted voting --------------------------------------------


@pytest.mark.parametrize(
    ("reads", "text"),
    [
        # one misread character per read: the weighted majority at each position
        ([("LS15EBC", 0.6), ("LS15E8C", 0.7), ("L515EBC", 0.6)], "LS15EBC"),
        # a confident read outweighs two unsure ones that agree on a wrong character
        ([("K179658", 0.95), ("K17965B", 0.3), ("K17965B", 0.3)], "K179658"),
        # ... but not three that together weigh more
        ([("K179658", 0.7), ("K17965B", 0.5), ("K17965B", 0.5)], "K17965B"),
        # a partial read never shortens the full one: it joins it and votes for what it covers
        ([("9658", 0.9), ("9658", 0.9), ("K179658", 0.6)], "K179658"),
        # a partial read settles a character the full reads dispute
        ([("K179658", 0.6), ("K179G58", 0.6), ("9658", 0.5)], "K179658"),
        # a prefix is a partial read too
        ([("K179", 0.8), ("K179658", 0.7)], "K179658"),
        # a short read that is in no other read is its own cluster and loses to the heavier one
        ([("XYZ", 0.9), ("K179658", 0.6), ("K179658", 0.6)], "K179658"),
    ],
)
def test_each_character_is_voted_by_the_reads_weighted_by_confidence(
    reads: list[tuple[str, float]], text: str
) -> None:
    result = vote([PlateRead(t, c) for t, c in reads])
    assert result is not None and result.text == text
    assert len(result.char_conf) == len(text) and all(0 <= c <= 1 for c in result.char_conf)


def test_a_partial_read_makes_the_characters_it_covers_surer() -> None:
    alone = vote([PlateRead("K179658", 0.6), PlateRead("K179G58", 0.6)])
    helped = vote([PlateRead("K179658", 0.6), PlateRead("K179G58", 0.6), PlateRead("9658", 0.8)])
    assert alone is not None and helped is not None
    assert helped.char_conf[4] > alone.char_conf[4]  # the disputed 6/G
    assert helped.char_conf[:3] == alone.char_conf[:3]  # K17: the partial read does not cover them


@pytest.mark.parametrize(
    ("short", "full", "partial"),
    [
        ("9658", "K179658", True),
        ("K179", "K179658", True),
        ("1796", "K179658", True),
        ("K179658", "K179658", False),  # the same read
        ("58", "K179658", False),  # too short to prove anything
        ("9668", "K179658", False),  # not a piece of it
    ],
)
def test_a_partial_read_is_a_shorter_piece_of_the_full_one(short: str, full: str, partial: bool) -> None:
    assert is_partial(short, full) is partial


# --- a partial read merges into the full read ----------------------------------------------


def test_a_partial_read_of_the_same_track_merges_into_the_full_read() -> None:
    voter = PlateVoter("gate", NoOcr(US))  # type: ignore[arg-type]
    events = play(
        voter,
        [(0.0, [(1, "9658", 0.59)]), (0.5, [(1, "9658", 0.6)]), (1.0, [(1, "K179658", 0.95)]), (1.5, [])],
    )
    assert [(e.text, e.reads) for e in events] == [("K179658", 3)]


def test_a_partial_read_just_before_the_full_one_is_no_event_of_its_own() -> None:
    # given a distant plate read as "9658" twice (a track of its own, that the tracker then drops)
    # and, two seconds later, the plate close enough to read in full (a new track)
    voter = PlateVoter("gate", NoOcr(US))  # type: ignore[arg-type]
    script = [(0.0, [(1, "9658", 0.59)]), (0.5, [(1, "9658", 0.6)]), (1.0, [])]
    script += [(2.0 + i / 2, [(2, "K179658", 0.93)]) for i in range(3)] + [(4.0, [])]
    # when the passes are voted
    events = play(voter, script)
    # then one event: the full read, with the partial reads among its votes and its start
    assert [e.text for e in events] == ["K179658"]
    (event,) = events
    assert [r.text for r in event.votes].count("9658") == 2
    assert event.first_seen.timestamp() == pytest.approx(T0)
    assert not event.unsure


def test_a_partial_read_just_after_the_full_one_is_no_event_of_its_own() -> None:
    voter = PlateVoter("gate", NoOcr(US))  # type: ignore[arg-type]
    script = [(i / 2, [(1, "K179658", 0.93)]) for i in range(3)] + [(1.5, [])]
    script += [(2.0, [(2, "9658", 0.7)]), (2.5, [(2, "9658", 0.7)]), (3.0, [])]
    assert [e.text for e in play(voter, script)] == ["K179658"]


def test_a_partial_read_that_no_full_read_follows_is_kept_as_unsure() -> None:
    # the hold ends partial_hold_s after it was last seen: nothing is lost
    voter = PlateVoter("gate", NoOcr(US), VotingOptions(partial_hold_s=2.0))  # type: ignore[arg-type]
    image = frame()
    events = []
    for t, plates in [(0.0, [(1, "9658", 0.59)]), (0.5, [(1, "9658", 0.6)]), (1.0, [])]:
        events += voter.update(
            image, seen([(i, s, c, BOX) for i, s, c in plates]), T0 + t, alive={1} if plates else set()
        )[0]
    assert events == []  # held: a longer read of the same plate may follow
    events += voter.update(image, sv.Detections.empty(), T0 + 3.0, alive=set())[0]
    assert [(e.text, e.unsure) for e in events] == [("9658", True)]


# --- unsure passes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reads", "threshold", "unsure"),
    [
        ([("NEIL0MND", 0.39), ("NEIL0MND", 0.38)], 0.9, True),  # two agreeing but doubtful reads
        ([("LS15EBC", 0.93), ("LS15EBC", 0.6)], 0.9, False),  # one read at the threshold
        ([("LS15EBC", 0.85), ("LS15EBC", 0.86)], 0.9, True),
        ([("LS15EBC", 0.85), ("LS15EBC", 0.86)], 0.8, False),  # the threshold is the tuning's
    ],
)
def test_a_pass_whose_best_vote_is_below_the_recognition_threshold_is_unsure(
    reads: list[tuple[str, float]], threshold: float, unsure: bool
) -> None:
    voter = PlateVoter("gate", NoOcr(), VotingOptions(recognition_threshold=threshold))  # type: ignore[arg-type]
    script = [(i / 2, [(1, text, conf)]) for i, (text, conf) in enumerate(reads)] + [(2.0, [])]
    (event,) = play(voter, script)
    assert event.unsure is unsure


# --- one pass, one event ------------------------------------------------------------------------


def test_a_pass_tracked_twice_long_after_its_provisional_event_makes_one_event() -> None:
    # given a long pass (a slow car, few analyses a second) whose provisional event is made early,
    # and a second track of the same plate that the tracker starts 5 s later while the first
    # still runs (a duplicate box), with the dedupe window (3 s) shorter than that
    voter = PlateVoter("gate", NoOcr(), VotingOptions(dedupe_s=3.0))  # type: ignore[arg-type]
    script = [(i / 2, [(1, "LS15EBC", 0.95)]) for i in range(10)]
    script += [(5.0 + i / 2, [(1, "LS15EBC", 0.95), (2, "LS15EBC", 0.95)]) for i in range(6)]
    script += [(8.0 + i / 2, [(2, "LS15EBC", 0.95)]) for i in range(4)] + [(10.0, [])]
    provisional: list[PlateEvent] = []
    image = frame()
    events: list[PlateEvent] = []
    for t, plates in script:
        found = seen(
            [
                (tid, text, conf, (200.0 + 10 * tid, 200.0, 300.0 + 10 * tid, 230.0))
                for tid, text, conf in plates
            ]
        )
        events += voter.update(image, found, T0 + t, alive={tid for tid, _, _ in plates})[0]
        provisional += voter.take_provisional()
    events += voter.flush()
    # then one provisional and one final event, of the same pass
    assert [e.text for e in events] == ["LS15EBC"]
    assert [e.pass_key for e in provisional] == [events[0].pass_key]


def test_two_passes_of_the_same_plate_far_apart_make_two_events() -> None:
    voter = PlateVoter("gate", NoOcr(), VotingOptions(dedupe_s=3.0))  # type: ignore[arg-type]
    script = [(i / 2, [(1, "LS15EBC", 0.95)]) for i in range(4)] + [(2.0, [])]
    script += [(8.0 + i / 2, [(2, "LS15EBC", 0.95)]) for i in range(4)] + [(10.0, [])]
    assert [e.text for e in play(voter, script)] == ["LS15EBC", "LS15EBC"]
