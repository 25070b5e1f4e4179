"""Analyst review logic (issc.plates.review): queue priority, probable plates, character
confusions and look-alike proposals, on realistic UK, Brazilian and EU plates."""

from __future__ import annotations

import dataclasses

import pytest

from issc.plates.regions import region_preset
from issc.plates.review import (
    LookalikeProposal,
    char_confusions,
    probable_plate,
    propose_lookalikes,
    review_priority,
    with_lookalikes,
)
from issc.plates.text import DEFAULT_RULES, PlateRules

UK = region_preset("uk").rules()
BR = region_preset("br").rules()
SK = region_preset("sk").rules()
NO_FORMATS = PlateRules(formats=())
#: The default rules without B→8: what a deployment would look like before learning that swap.
NO_B8 = dataclasses.replace(
    DEFAULT_RULES, letter_to_digit={k: v for k, v in DEFAULT_RULES.letter_to_digit.items() if k != "B"}
)


# --- review_priority -------------------------------------------------------------------------


def test_priority_names_every_signal_heaviest_first() -> None:
    votes = [("LS15EBC", 0.5), ("LS15E8C", 0.3), ("LS15EBC", 0.4)]
    priority, reasons = review_priority("LS15EBC", 0.42, votes, UK, near=("ls15 ebd", "watchlist"))
    assert reasons == [
        "one edit from watchlist plate LS15EBD",
        "low confidence 0.42",
        "reads disagree: LS15EBC ×2, LS15E8C ×1",
    ]
    assert priority == pytest.approx(1.0 + 0.58 + 1 / 3, abs=1e-4)


def test_a_clean_read_has_a_low_priority_and_no_reasons() -> None:
    priority, reasons = review_priority("LS15EBC", 0.97, [("LS15EBC", 0.97)] * 3, UK)
    assert reasons == []
    assert priority == pytest.approx(0.03)


@pytest.mark.parametrize(
    ("rules", "text", "reason"),
    [
        (UK, "LS15EB", "fits no uk/uk-prefix/uk-suffix format"),
        (BR, "ABC1D2", "fits no br/br-mercosul format"),
        (SK, "BA12XY", "fits no sk format"),
        (DEFAULT_RULES, "XYZ", "fits no br/br-mercosul/uk/eu format"),
    ],
)
def test_a_read_that_fits_no_layout_says_which(rules: PlateRules, text: str, reason: str) -> None:
    priority, reasons = review_priority(text, 0.95, [], rules)
    assert reasons == [reason]
    assert priority == pytest.approx(0.05 + 0.5)


@pytest.mark.parametrize("text", ["LS15EBC", "ABC1D23", "BA123XY"])
def test_reads_that_fit_a_layout_get_no_format_reason(text: str) -> None:
    assert review_priority(text, 0.95, [], DEFAULT_RULES)[1] == []


def test_rules_without_formats_skip_the_format_signal() -> None:
    assert review_priority("ANYTHING1", 0.95, [], NO_FORMATS) == (0.05, [])


@pytest.mark.parametrize(("lower", "higher"), [(0.9, 0.8), (0.6, 0.59), (0.42, 0.1), (0.01, 0.0)])
def test_lower_confidence_reviews_first(lower: float, higher: float) -> None:
    first = review_priority("ABC1D23", higher, [], BR)[0]
    later = review_priority("ABC1D23", lower, [], BR)[0]
    assert first > later


def test_more_disagreement_reviews_first() -> None:
    agree = [("ABC1D23", 0.9)] * 4
    one_off = [*agree[:3], ("ABC1O23", 0.5)]
    two_off = [*agree[:2], ("ABC1O23", 0.5), ("A8C1D23", 0.4)]
    scores = [review_priority("ABC1D23", 0.8, votes, BR)[0] for votes in (agree, one_off, two_off)]
    assert scores == sorted(scores) and len(set(scores)) == 3


def test_disagreeing_reads_are_listed_most_frequent_first_and_capped() -> None:
    votes = [("ABC1D23", 0.9)] * 3 + [("ABC1O23", 0.5)] * 2 + [("A", 0.1), ("B", 0.1), ("C", 0.1)]
    _, reasons = review_priority("ABC1D23", 0.9, votes, BR)
    assert reasons == ["reads disagree: ABC1D23 ×3, ABC1O23 ×2, A ×1, B ×1, …"]


def test_a_watchlist_neighbour_outranks_a_confirmed_one() -> None:
    watch = review_priority("LS15EBC", 0.9, [], UK, near=("LS15EBD", "watchlist"))
    known = review_priority("LS15EBC", 0.9, [], UK, near=("LS15EBD", "confirmed"))
    alone = review_priority("LS15EBC", 0.9, [], UK)
    assert watch[0] > known[0] > alone[0]
    assert known[1] == ["one edit from confirmed plate LS15EBD"]


def test_a_review_queue_orders_the_doubtful_reads_first() -> None:
    events = {
        "clean": ("LS15EBC", 0.96, [("LS15EBC", 0.96)] * 3, None),
        "misread": ("LS15E8C", 0.45, [("LS15E8C", 0.45), ("LS15EBC", 0.4)], ("LS15EBC", "confirmed")),
        "garbled": ("L5IEB", 0.3, [("L5IEB", 0.3)], None),
        "doubtful": ("AB12CDE", 0.55, [("AB12CDE", 0.55)], None),
    }
    scores = {k: review_priority(t, c, v, UK, near=n)[0] for k, (t, c, v, n) in events.items()}
    assert sorted(scores, key=scores.__getitem__, reverse=True) == ["misread", "garbled", "doubtful", "clean"]


def test_an_unknown_neighbour_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="'stolen'"):
        review_priority("LS15EBC", 0.9, [], UK, near=("LS15EBD", "stolen"))


# --- probable_plate --------------------------------------------------------------------------

KNOWN = ["LS15EBC", "ABC1D23", "BA123XY", "AB12CDE", "AB12CDF"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("LS15E8C", "LS15EBC"),  # a look-alike is one edit
        ("ls-15 e8c", "LS15EBC"),  # normalised first
        ("ABC1D2", "ABC1D23"),  # a lost character
        ("ABC1D234", "ABC1D23"),  # an extra one
        ("BA123XV", "BA123XY"),  # EU, a plain misread
        ("AB12CDX", "AB12CDE"),  # one edit from two known plates: the first in sorted order
        ("LS15EBC", None),  # itself known
        ("L515E8C", None),  # two edits, look-alikes or not
        ("ZZ99ZZZ", None),
        ("", None),
    ],
)
def test_probable_plate(text: str, expected: str | None) -> None:
    assert probable_plate(text, KNOWN) == expected


def test_probable_plate_normalises_the_known_plates_and_takes_any_iterable() -> None:
    assert probable_plate("LS15E8C", (p.lower() for p in ["ls15 ebc", ""])) == "LS15EBC"


# --- char_confusions -------------------------------------------------------------------------


def test_char_confusions_counts_substitutions_deletions_and_insertions() -> None:
    pairs = [
        ("LS15E8C", "LS15EBC"),  # 8 → B
        ("LS1SEBC", "LS15EBC"),  # S → 5
        ("AB12C8E", "AB12CBE"),  # 8 → B again
        ("ABC1D2", "ABC1D23"),  # 3 inserted
        ("BA123XYZ", "BA123XY"),  # Z deleted
        ("ABC1D23", "ABC1D23"),  # confirmed: nothing
        ("ab12 cde", "AB12CDE"),  # the same after normalising: nothing
    ]
    assert char_confusions(pairs) == {("8", "B"): 2, ("S", "5"): 1, ("", "3"): 1, ("Z", ""): 1}


def test_char_confusions_of_nothing_is_empty() -> None:
    assert char_confusions([]) == {}


# --- propose_lookalikes / with_lookalikes ----------------------------------------------------

#: Corrections where a B was read for an 8 at a digit position, plus confirmed reads.
B_FOR_8 = [
    ("LS1BEBC", "LS18EBC"),  # UK AA99AAA: digit wanted at 3
    ("AB1BCDE", "AB18CDE"),
    ("ABC1D2B", "ABC1D28"),  # BR Mercosul AAA9A99: digit wanted at 6
    ("LS15EBC", "LS15EBC"),
    ("ABC1D23", "ABC1D23"),
]
#: Corrections where a 4 was read for an A: a swap the rules leave out because it breaks real
#: reads (BS47040 is a plate of a layout the rules do not know; with 4→A it becomes BR "BSA7040").
FOUR_FOR_A = [("4B12CDE", "AB12CDE"), ("4X12CDE", "AX12CDE"), ("BS47040", "BS47040")]


def test_a_missing_swap_is_proposed_and_fixes_past_corrections() -> None:
    (proposal,) = propose_lookalikes(B_FOR_8, NO_B8)
    assert proposal == LookalikeProposal(
        "letter_to_digit", "B", "8", count=3, fixed=3, broken=0, unchanged=2, still_wrong=0
    )
    assert proposal.net == 3
    assert proposal.describe() == "B→8 where a digit belongs: seen 3×; fixes 3, breaks 0"


def test_a_harmful_swap_reports_what_it_breaks_and_comes_last() -> None:
    proposals = propose_lookalikes(B_FOR_8 + FOUR_FOR_A, NO_B8)
    assert [(p.read, p.meant) for p in proposals] == [("B", "8"), ("4", "A")]
    harmful = proposals[-1]
    assert harmful.kind == "digit_to_letter"
    assert (harmful.count, harmful.fixed, harmful.broken) == (2, 2, 1)


def test_swaps_the_rules_have_or_cannot_make_are_not_proposed() -> None:
    pairs = [
        *B_FOR_8,  # B→8 is in the default rules already
        ("LS15FBC", "LS15EBC"),  # F → E: letter for letter
        ("LS15FBC", "LS15EBC"),
        ("ABC1D73", "ABC1D23"),  # 7 → 2: digit for digit
        ("ABC1D73", "ABC1D23"),
    ]
    assert propose_lookalikes(pairs, DEFAULT_RULES) == []


def test_a_swap_seen_fewer_than_min_count_times_is_not_proposed() -> None:
    pairs = [("LS1BEBC", "LS18EBC")]
    assert propose_lookalikes(pairs, NO_B8) == []
    assert [p.fixed for p in propose_lookalikes(pairs, NO_B8, min_count=1)] == [1]


def test_a_proposal_that_remaps_a_character_says_what_it_replaces() -> None:
    pairs = [("LS1GEBC", "LS18EBC"), ("AB1GCDE", "AB18CDE")]  # G read for 8, where the rules say 6
    (proposal,) = propose_lookalikes(pairs, DEFAULT_RULES)
    assert (proposal.read, proposal.meant, proposal.replaces, proposal.fixed) == ("G", "8", "6", 2)
    assert "instead of G→6" in proposal.describe()


def test_accepted_proposals_change_the_rules_and_nothing_else() -> None:
    proposal = propose_lookalikes(B_FOR_8, NO_B8)[0]
    rules = with_lookalikes(NO_B8, [proposal])
    assert rules.apply("LS1BEBC") == "LS18EBC" and NO_B8.apply("LS1BEBC") == "LS1BEBC"
    assert rules.letter_to_digit["B"] == "8" and "B" not in NO_B8.letter_to_digit
    assert rules.formats == NO_B8.formats and rules.max_swaps == NO_B8.max_swaps


def test_with_lookalikes_takes_character_pairs() -> None:
    rules = with_lookalikes(SK, [("b", "8"), ("4", "A")])
    assert rules.letter_to_digit["B"] == "8" and rules.digit_to_letter["4"] == "A"


@pytest.mark.parametrize("pair", [("B", "E"), ("7", "2"), ("BB", "8"), ("", "8")])
def test_with_lookalikes_refuses_what_is_no_look_alike_swap(pair: tuple[str, str]) -> None:
    with pytest.raises(ValueError, match="one letter and one digit"):
        with_lookalikes(UK, [pair])
