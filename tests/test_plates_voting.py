"""Per-track voting with synthetic reads: budgets, clustering, one event per pass."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import supervision as sv

from issc.detections import PLATE, make_detections
from issc.plates.consensus import vote
from issc.plates.ocr.lines import CharBelief, TextLine
from issc.plates.ocr.reader import PlateReader
from issc.plates.text import PlateRules
from issc.plates.voting import PlateVoter, VotingOptions
from issc.types import PlateRead

T0 = 1_700_000_000.0


class ScriptedReader:
    """Stands in for ``PlateReader``: returns the scripted reads in order, counts calls."""

    def __init__(self, reads: list[PlateRead | None]) -> None:
        self._reads: Iterator[PlateRead | None] = iter(reads)
        self.calls = 0

    def read(self, crop: np.ndarray) -> PlateRead | None:
        assert crop.ndim == 3 and crop.size > 0
        self.calls += 1
        return next(self._reads, None)


def textured_frame(h: int = 360, w: int = 640) -> np.ndarray:
    """A frame with enough texture to pass the sharpness test."""
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, size=(h, w, 3), dtype=np.uint8)


def tracked(box: tuple[float, float, float, float], tracker_id: int = 7) -> sv.Detections:
    dets = make_detections(np.array([box]), np.array([0.9]), np.array([PLATE]))
    dets.tracker_id = np.array([tracker_id])
    return dets


def growing_boxes(n: int) -> list[tuple[float, float, float, float]]:
    """A plate approaching the camera: 30 px tall, growing by one pixel a frame."""
    return [(200.0, 200.0, 300.0 + 2 * i, 230.0 + i) for i in range(n)]


@pytest.mark.parametrize(
    ("reads", "expected"),
    [
        ([PlateRead("LS15EBC", 0.9)], "LS15EBC"),
        ([PlateRead("LS15EBC", 0.9), PlateRead("LSI5EBC", 0.8), PlateRead("LS15EBC", 0.7)], "LS15EBC"),
        # per-character vote repairs a different character in each read
        ([PlateRead("LS15EBC", 0.6), PlateRead("LS15E8C", 0.7), PlateRead("L515EBC", 0.6)], "LS15EBC"),
        # the heaviest cluster wins over a single confident outlier
        ([PlateRead("KELLER", 0.95), PlateRead("OUN4297", 0.8), PlateRead("OUN4297", 0.7)], "OUN4297"),
    ],
)
def test_vote_clusters_then_votes_per_character(reads: list[PlateRead], expected: str) -> None:
    result = vote(reads)
    assert result is not None and result.text == expected
    assert 0 < result.confidence <= 1


def test_vote_of_nothing_is_none() -> None:
    assert vote([]) is None
    assert vote([PlateRead("", 0.9)]) is None


def test_one_pass_gives_one_event_within_the_ocr_budget() -> None:
    # given a plate tracked over 40 frames and a reader that always reads it
    reader = ScriptedReader([PlateRead("LS15EBC", 0.9)] * 100)
    voter = PlateVoter("gate", reader)  # type: ignore[arg-type]
    frame = textured_frame()
    events, calls = [], 0
    # when the frames arrive and the plate then disappears for longer than lost_frames
    for i, box in enumerate(growing_boxes(40)):
        ev, n = voter.update(frame, tracked(box), T0 + i / 10)
        events += ev
        calls += n
        assert voter.current(7) is None or voter.current(7).text == "LS15EBC"
    for i in range(40, 80):
        ev, n = voter.update(frame, sv.Detections.empty(), T0 + i / 10)
        events += ev
        calls += n
    # then exactly one event, read twice (two agreeing reads stop further OCR)
    assert len(events) == 1
    event = events[0]
    assert (event.text, event.reads, event.ocr_calls) == ("LS15EBC", 2, 2)
    assert calls == reader.calls == 2
    assert event.camera == "gate"
    assert event.first_seen.timestamp() == pytest.approx(T0)
    assert event.last_seen.timestamp() == pytest.approx(T0 + 3.9)
    assert event.crop_jpeg.startswith(b"\xff\xd8") and event.snapshot_jpeg.startswith(b"\xff\xd8")
    assert voter.current(7) is None  # the track is gone


def test_disagreeing_reads_use_the_whole_budget_and_vote() -> None:
    reader = ScriptedReader(
        [PlateRead("LSI5EBC", 0.6), PlateRead("LS15EBC", 0.9), PlateRead("LS15E8C", 0.5)] * 5
    )
    voter = PlateVoter("gate", reader, VotingOptions(max_ocr_per_track=3))  # type: ignore[arg-type]
    frame = textured_frame()
    for i, box in enumerate(growing_boxes(60)):
        voter.update(frame, tracked(box), T0 + i / 10)
    (event,) = voter.flush()
    assert event.ocr_calls == 3 == reader.calls
    assert event.text == "LS15EBC"


@pytest.mark.parametrize(
    ("read", "formats", "event"),
    [
        # one read at or above the recognition threshold (0.9, as Frigate's) is enough
        (PlateRead("RZ58GTY", 0.93), (), "RZ58GTY"),
        # a plate seen once and read unsurely: not enough without a known layout
        (PlateRead("RZ58GTY", 0.8), (), None),
        # one that fits a known layout (UK AA99AAA) makes its event down to flush_min_conf
        (PlateRead("RZ58GTY", 0.7), ("AA99AAA",), "RZ58GTY"),
        (PlateRead("RZ58GTY", 0.5), ("AA99AAA",), None),
        # text with neither digits nor a known layout is a sign, however confident
        (PlateRead("PARKING", 0.99), ("AA99AAA",), None),
    ],
)
def test_a_single_read_makes_an_event_when_confident_or_of_a_known_format(
    read: PlateRead, formats: tuple[str, ...], event: str | None
) -> None:
    reader = ScriptedReader([read])
    reader.rules = PlateRules.from_masks(formats)  # type: ignore[attr-defined]
    voter = PlateVoter("gate", reader)  # type: ignore[arg-type]
    voter.update(textured_frame(), tracked((200, 200, 300, 230)), T0)
    assert [e.text for e in voter.flush()] == ([event] if event else [])


def test_free_reads_vote_and_spare_ocr_calls() -> None:
    # Given a locator that read the plate itself while finding it (data["plate_text"])
    reader = ScriptedReader([PlateRead("WRONG1", 0.5)] * 10)
    voter = PlateVoter("gate", reader)  # type: ignore[arg-type]
    dets = tracked((200, 200, 300, 230))
    dets.data["plate_text"] = np.array(["LS15EBC"], dtype=object)
    dets.confidence = np.array([0.95], dtype=np.float32)
    # When the track is analysed twice, far apart (a slow analysis rate)
    voter.update(textured_frame(), dets, T0)
    voter.update(textured_frame(), dets, T0 + 0.7)
    # Then its free reads are its votes: one event, no OCR call
    (event,) = voter.flush()
    assert (event.text, event.reads, event.ocr_calls, reader.calls) == ("LS15EBC", 2, 0, 0)


def test_unsure_free_reads_still_get_an_ocr_call() -> None:
    reader = ScriptedReader([PlateRead("LS15EBC", 0.85)])
    voter = PlateVoter("gate", reader)  # type: ignore[arg-type]
    dets = tracked((200, 200, 300, 230))
    dets.data["plate_text"] = np.array(["LSI5EBC"], dtype=object)
    dets.confidence = np.array([0.6], dtype=np.float32)
    voter.update(textured_frame(), dets, T0)
    (event,) = voter.flush()
    assert reader.calls == 1 and event.text == "LS15EBC" and event.reads == 2


def test_tracks_end_when_the_tracker_drops_them() -> None:
    reader = ScriptedReader([PlateRead("OUN4297", 0.95)] * 3)
    voter = PlateVoter("gate", reader)  # type: ignore[arg-type]
    frame = textured_frame()
    assert voter.update(frame, tracked((200, 200, 300, 230), 3), T0, alive={3})[0] == []
    events, _ = voter.update(frame, tracked((10, 10, 20, 20), 4)[[]], T0 + 0.5, alive=set())
    assert [e.text for e in events] == ["OUN4297"]


@pytest.mark.parametrize(
    ("box", "why"),
    [
        ((200, 200, 260, 215), "too small"),
        ((600, 200, 640, 230), "cut off at the frame edge"),
    ],
)
def test_unreadable_plates_are_not_sent_to_ocr(box: tuple[int, int, int, int], why: str) -> None:
    reader = ScriptedReader([PlateRead("AB123CD", 0.9)] * 10)
    voter = PlateVoter("gate", reader)  # type: ignore[arg-type]
    for i in range(20):
        voter.update(textured_frame(), tracked(box), T0 + i / 10)
    assert reader.calls == 0, why


def test_blank_crops_are_not_sent_to_ocr() -> None:
    reader = ScriptedReader([PlateRead("AB123CD", 0.9)] * 10)
    voter = PlateVoter("gate", reader)  # type: ignore[arg-type]
    voter.update(np.full((360, 640, 3), 128, np.uint8), tracked((200, 200, 300, 240)), T0)
    assert reader.calls == 0


def test_a_lost_and_restarted_track_of_the_same_plate_makes_one_event() -> None:
    reader = ScriptedReader([PlateRead("OUN4297", 0.9)] * 10)
    voter = PlateVoter("gate", reader)  # type: ignore[arg-type]
    frame = textured_frame()
    events = []
    for i, box in enumerate(growing_boxes(20)):
        events += voter.update(frame, tracked(box, tracker_id=1 if i < 10 else 2), T0 + i / 10)[0]
    events += voter.flush()
    assert [e.text for e in events] == ["OUN4297"]


def test_two_plates_make_two_events() -> None:
    reader = ScriptedReader([PlateRead("OUN4297", 0.9), PlateRead("PJY5472", 0.8)] * 5)
    voter = PlateVoter("gate", reader)  # type: ignore[arg-type]
    frame = textured_frame()
    for i in range(30):
        dets = make_detections(
            np.array([[50, 50, 150, 80 + i], [300, 50, 400, 80 + i]]),
            np.array([0.9, 0.9]),
            np.array([PLATE] * 2),
        )
        dets.tracker_id = np.array([1, 2])
        voter.update(frame, dets, T0 + i / 10)
    assert sorted(e.text for e in voter.flush()) == ["OUN4297", "PJY5472"]


def test_the_live_tuning_sets_the_recognition_threshold() -> None:
    from issc.analysis import PlateAnalyzer
    from issc.detect import NullDetector
    from issc.tuning import Tuning
    from issc.types import Frame

    analyzer = PlateAnalyzer(NullDetector(), "gate", Tuning())
    analyzer.tuning = Tuning(recognition_threshold=0.97)
    analyzer.analyze(Frame(textured_frame(), 0, "0", T0, 0.0))
    assert analyzer.voter.options.recognition_threshold == 0.97


# --- what an analyst reviews: every read that voted, and how sure each voted character is ---


@pytest.mark.parametrize(
    "reads",
    [
        [PlateRead("LS15EBC", 0.9)],
        [PlateRead("LS15EBC", 0.6), PlateRead("LS15E8C", 0.7), PlateRead("L515EBC", 0.6)],
        [PlateRead("KELLER", 0.95), PlateRead("OUN4297", 0.8), PlateRead("OUN429", 0.7)],
        [PlateRead("LS15EBC", 0.9, char_conf=(0.9,) * 7), PlateRead("LS15EBC", 0.0)],
    ],
)
def test_voted_text_has_one_confidence_per_character_in_0_1(reads: list[PlateRead]) -> None:
    result = vote(reads)
    assert result is not None and result.source == "vote"
    assert len(result.char_conf) == len(result.text)
    assert all(0.0 <= c <= 1.0 for c in result.char_conf)


def test_a_character_the_reads_dispute_is_less_sure_than_the_agreed_ones() -> None:
    # given three reads that agree but for the sixth character (B, 8, B)
    reads = [PlateRead("LS15EBC", 0.9), PlateRead("LS15E8C", 0.8), PlateRead("LS15EBC", 0.7)]
    # when they vote
    result = vote(reads)
    # then B wins, clearly less sure than the characters all three read
    assert result is not None and result.text == "LS15EBC"
    disputed, agreed = result.char_conf[5], [c for i, c in enumerate(result.char_conf) if i != 5]
    assert disputed == pytest.approx((0.9 * 0.9 + 0.7 * 0.7) / 2.4, abs=1e-4)
    assert disputed < min(agreed) - 0.25


def test_a_character_the_recogniser_doubted_is_less_sure_than_the_others() -> None:
    sure = (0.99, 0.98, 0.97, 0.99, 0.98, 0.99, 0.97)
    doubted = (0.99, 0.98, 0.45, 0.99, 0.98, 0.99, 0.97)  # "1" or "I"?
    result = vote([PlateRead("LS15EBC", 0.9, char_conf=sure), PlateRead("LS15EBC", 0.8, char_conf=doubted)])
    assert result is not None
    assert result.char_conf[2] < min(c for i, c in enumerate(result.char_conf) if i != 2) - 0.2


def test_a_single_read_keeps_the_recognisers_per_character_confidence() -> None:
    char_conf = (0.99, 0.5, 0.97, 0.91, 0.99, 0.8, 0.95)
    result = vote([PlateRead("RZ58GTY", 0.93, char_conf=char_conf)])
    assert result is not None and result.char_conf == char_conf


def test_reads_without_per_character_confidence_count_with_their_own() -> None:
    result = vote([PlateRead("RZ58GTY", 0.6)])
    assert result is not None and result.char_conf == (0.6,) * 7


def test_events_carry_the_reads_that_voted_stamped_with_time_and_source() -> None:
    # given a plate that the locator reads unsurely (a free read) and OCR reads twice
    reader = ScriptedReader([PlateRead("LS15E8C", 0.8), PlateRead("LS15EBC", 0.85)])
    voter = PlateVoter("gate", reader, VotingOptions(min_gap_frames=1))  # type: ignore[arg-type]
    frame = textured_frame()
    for i, box in enumerate([(200, 200, 300, 230), (200, 200, 330, 240)]):  # the plate comes closer
        dets = tracked(box)
        if i == 0:
            dets.data["plate_text"] = np.array(["LS15EBC"], dtype=object)
            dets.confidence = np.array([0.6], dtype=np.float32)
        voter.update(frame, dets, T0 + i)
    # when the pass ends
    (event,) = voter.flush()
    # then the event lists its votes in the order read, each with its frame's time and source
    assert [(r.text, r.source, r.at) for r in event.votes] == [
        ("LS15EBC", "locator", T0),
        ("LS15E8C", "ocr", T0),
        ("LS15EBC", "ocr", T0 + 1),
    ]
    assert event.reads == len(event.votes) == 3
    # and the voted text's per-character confidence, weakest where the reads disagree
    assert event.text == "LS15EBC" and len(event.char_conf) == 7
    assert event.char_conf == vote(list(event.votes)).char_conf  # type: ignore[union-attr]
    assert min(event.char_conf) == event.char_conf[5]


class OneLineEngine:
    """Stands in for an OCR engine: every image holds one line, read with these beliefs."""

    name = "fake"

    def __init__(self, raw: str, probs: list[dict[str, float]]) -> None:
        chars = tuple(CharBelief(max(p, key=p.__getitem__), max(p.values()), p) for p in probs)
        polygon = np.array([[0, 0], [200, 0], [200, 40], [0, 40]], dtype=np.float32)
        self.line = TextLine(polygon, raw, 0.95, chars)

    def lines(self, image: np.ndarray) -> list[TextLine]:
        return [self.line]


def sure(ch: str, p: float = 0.99) -> dict[str, float]:
    return {ch: p, "": 1 - p}


@pytest.mark.parametrize(
    ("raw", "probs", "expected"),
    [
        # a hyphen between the groups is dropped; the doubted "1" keeps its probability
        ("LS1-5EBC", [sure("L"), sure("S"), {"1": 0.55, "I": 0.4}, sure("-"), *map(sure, "5EBC")], 0.55),
        # the rules swap an unsure "I" for the "1" the layout wants: what the recogniser gave "1"
        ("LSI5EBC", [sure("L"), sure("S"), {"I": 0.6, "1": 0.3}, *map(sure, "5EBC")], 0.3),
    ],
)
def test_the_recognisers_per_character_confidence_reaches_the_event(
    raw: str, probs: list[dict[str, float]], expected: float
) -> None:
    # given a reader whose engine knows how sure it was of each character
    reader = PlateReader(OneLineEngine(raw, probs))  # type: ignore[arg-type]
    # when a track is read once and ends
    voter = PlateVoter("gate", reader)
    voter.update(textured_frame(), tracked((200, 200, 300, 230)), T0)
    (event,) = voter.flush()
    # then the read and the event carry it, aligned with the plate text
    assert event.text == "LS15EBC"
    assert event.votes[0].char_conf == event.char_conf
    assert event.char_conf[2] == pytest.approx(expected)
    assert all(c == pytest.approx(0.99) for i, c in enumerate(event.char_conf) if i != 2)
