"""Plate text rules: normalisation, formats, look-alike fixes, similarity."""

from __future__ import annotations

import pytest

from issc.plates.text import (
    DEFAULT_RULES,
    Belief,
    PlateFormat,
    PlateRules,
    levenshtein,
    normalize,
    normalize_beliefs,
    similarity,
)

SURE: Belief = {"X": 1.0}  # stands for any character read with certainty


def beliefs(raw: str, **doubted: Belief) -> list[Belief]:
    """Certain beliefs for every character of ``raw`` but those named ``c<index>``."""
    return [doubted.get(f"c{i}", {ch: 1.0}) for i, ch in enumerate(raw)]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ls15 ebc", "LS15EBC"),
        ("OUN·4297", "OUN4297"),
        ("M5-XSX", "M5XSX"),
        ("G.WAGEN", "GWAGEN"),
        ("ŽA 123BC", "ZA123BC"),
        ("  ", ""),
        ("[KELLENERES]", "KELLENERES"),
    ],
)
def test_normalize_keeps_upper_case_letters_and_digits(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("LSI5EBC", "LS15EBC"),  # UK AA99AAA: I in a digit position
        ("OUN42S7", "OUN4257"),  # BR AAA9999 needs one swap, Mercosul AAA9A99 two
        ("0UN4297", "OUN4297"),  # BR: 0 in a letter position
        ("OUN4297", "OUN4297"),  # already a format: untouched
        ("RIO2A18", "RIO2A18"),  # Mercosul AAA9A99 matches as is
        ("M5XSX", "M5XSX"),  # no format of that length: untouched
        ("H694856", "H694856"),  # would need 4 swaps to be UK: another layout, untouched
        ("BB135B0", "BB135BO"),  # EU AA999AA needs one swap, UK AA99AAA two
        ("BS47040", "BS47040"),  # AA99999 (old Slovak): no default layout within reach
    ],
)
def test_default_rules_fix_look_alikes_only_when_one_format_fits(raw: str, expected: str) -> None:
    assert DEFAULT_RULES.apply(raw) == expected


def test_rules_are_configurable_per_deployment() -> None:
    slovak = PlateRules.from_masks(["AA999AA"])
    assert slovak.apply("RK34OAO") == "RK340AO"
    assert slovak.apply("BB135B0") == "BB135BO"
    assert PlateRules(formats=()).apply("LSI5EBC") == "LSI5EBC"


def test_ambiguous_fix_is_not_guessed() -> None:
    rules = PlateRules(formats=(PlateFormat("a", "A99"), PlateFormat("b", "99A")))
    assert rules.apply("0O0") == "0O0"  # "O00" and "00O" both need two swaps


@pytest.mark.parametrize("mask", ["", "AX99", "aa99"])
def test_bad_mask_is_rejected(mask: str) -> None:
    with pytest.raises(ValueError, match="mask"):
        PlateFormat("bad", mask)


@pytest.mark.parametrize(
    ("a", "b", "distance", "sim"),
    [
        ("LS15EBC", "LS15EBC", 0, 1.0),
        ("LS15EBC", "LSI5EBC", 1, 1 - 1 / 7),
        ("LS15EBC", "S15EBC", 1, 1 - 1 / 7),
        ("", "", 0, 1.0),
        ("ABC", "", 3, 0.0),
        ("KITTEN", "SITTING", 3, 1 - 3 / 7),
    ],
)
def test_levenshtein_and_similarity(a: str, b: str, distance: int, sim: float) -> None:
    assert levenshtein(a, b) == distance == levenshtein(b, a)
    assert similarity(a, b) == pytest.approx(sim)


def test_plausible_lengths() -> None:
    assert DEFAULT_RULES.plausible("AB12")
    assert not DEFAULT_RULES.plausible("AB1")
    assert not DEFAULT_RULES.plausible("CONNECTICUT")


@pytest.mark.parametrize(
    ("raw", "doubted", "expected"),
    [
        # EU AA99999 (Polish): a 5 read with certainty is not made an S to fit BR AAA9999 ...
        ("WA56660", {}, "WA56660"),
        # ... but a doubted one is
        ("WA56660", {"c2": {"5": 0.6, "S": 0.35}}, "WAS6660"),
        # Czech 9A99999: the certain 1 and 8 stay digits
        ("1B8 0338", {}, "1B80338"),
        # O and 0 look alike in many plate fonts: certainty does not stop that swap
        ("BA3020Z", {}, "BA302OZ"),
        # an emblem between the groups, read as a doubtful digit that was also seen as a mark
        ("RK0565AV", {"c2": {"0": 0.41, "·": 0.08, "-": 0.06, "": 0.1}}, "RK565AV"),
        # a doubtful digit without a mark is kept
        ("RK0565AV", {"c2": {"0": 0.41, "O": 0.4, "": 0.1}}, "RK0565AV"),
        # a small glyph (subscript) is a mark, not a character
        ("TS₆260AK", {}, "TS260AK"),
    ],
)
def test_beliefs_make_fixes_confidence_aware(raw: str, doubted: dict[str, Belief], expected: str) -> None:
    assert DEFAULT_RULES.apply(raw, beliefs(raw, **doubted)) == expected


def test_without_beliefs_fixes_are_format_only() -> None:
    assert DEFAULT_RULES.apply("WA56660") == "WAS6660"
    assert DEFAULT_RULES.apply("TS₆260AK") == "TS6260AK"


def test_normalize_beliefs_aligns_with_the_canonical_text() -> None:
    text, out = normalize_beliefs(
        "ab-1", [{"a": 0.9, "4": 0.1}, {"b": 1.0}, {"-": 0.8, "": 0.2}, {"1": 0.7, "l": 0.3}]
    )
    assert text == "AB1"
    assert out == ({"A": 0.9, "4": 0.1}, {"B": 1.0}, {"1": 0.7, "L": 0.3})
    with pytest.raises(ValueError, match="one belief per character"):
        normalize_beliefs("ab", [SURE])


def test_o_is_zero_reads_every_o_as_zero() -> None:
    rules = PlateRules(o_is_zero=True)
    assert rules.apply("M0TORZ") == "M0T0RZ"
    assert DEFAULT_RULES.apply("M0TORZ") == "M0TORZ"


@pytest.mark.parametrize(
    ("raw", "doubted", "expected"),
    [
        # a state graphic before the registration, half read as a letter, half as nothing
        ("HAAAC", {"c0": {"H": 0.49, "": 0.28, "A": 0.12}}, "AAAC"),
        # ... or between the groups
        ("UKS1949", {"c3": {"1": 0.5, "": 0.46, "7": 0.02}}, "UKS949"),
        # several ghosts go together
        ("SERSAMP", {"c1": {"E": 0.32, "": 0.23, "5": 0.22}, "c2": {"R": 0.71, "": 0.22}}, "SSAMP"),
        # a blurred but real character: doubted, yet the blank got next to nothing
        ("ZLR10N", {"c3": {"1": 0.5, "I": 0.45, "": 0.02}}, "ZLR10N"),
        # seen as a character in all (plate characters 0.81) although the blank got 0.19
        ("HPP4120", {"c5": {"1": 0.81, "": 0.19}}, "HPP4120"),
        # dropping the ghost would leave fewer characters than a plate has: kept
        ("BB63", {"c2": {"6": 0.57, "": 0.43}}, "BB63"),
    ],
)
def test_ghost_characters_are_dropped(raw: str, doubted: dict[str, Belief], expected: str) -> None:
    assert DEFAULT_RULES.apply(raw, beliefs(raw, **doubted)) == expected


def test_ghost_thresholds_are_configurable() -> None:
    raw, doubted = "HAAAC", {"c0": {"H": 0.49, "": 0.28, "A": 0.12}}
    assert PlateRules(ghost_blank=0.3).apply(raw, beliefs(raw, **doubted)) == "HAAAC"
    assert PlateRules(ghost_doubt=0.5).apply(raw, beliefs(raw, **doubted)) == "HAAAC"


@pytest.mark.parametrize(
    ("raw", "sizes", "expected"),
    [
        # a small glyph after the registration (a sticker's letter)
        ("E074c", [1.0, 1.0, 1.0, 1.0, 0.47], "E074"),
        # ... or between the groups (a graphic's lettering)
        ("4DLSR50", [1.0, 1.0, 1.0, 0.52, 1.0, 1.0, 1.0], "4DLR50"),
        # unknown sizes (no glyph found, e.g. touching characters) are kept
        ("267WJE", [1.0, None, 1.0, 1.0, None, 1.0], "267WJE"),
        # a little smaller is the same print (perspective, wear)
        ("ZUP36A", [0.8, 1.0, 1.0, 1.0, 1.0, 0.8], "ZUP36A"),
        # dropping would leave fewer characters than a plate has: kept
        ("AB1c", [1.0, 1.0, 1.0, 0.4], "AB1C"),
        # marks count as no character
        ("R7-2c", [0.5, 1.0, None, 1.0, 1.0], "R72C"),
    ],
)
def test_small_glyphs_are_dropped(raw: str, sizes: list[float | None], expected: str) -> None:
    assert PlateRules(formats=()).apply(raw, beliefs(raw), sizes) == expected


def test_small_glyph_threshold_is_configurable_and_sizes_must_align() -> None:
    assert PlateRules(small_glyph=0.4).apply("E074c", beliefs("E074c"), [1, 1, 1, 1, 0.47]) == "E074C"
    with pytest.raises(ValueError, match="one size per character"):
        DEFAULT_RULES.apply("E074", beliefs("E074"), [1.0])


def test_glyph_sizes_come_from_the_ink_of_each_character() -> None:
    import numpy as np

    from issc.plates.ocr.lines import CharBelief
    from issc.plates.ocr.rapid import with_glyph_sizes

    # given a white line with four dark bars 40 px high and a fifth 20 px high
    line = np.full((60, 250, 3), 255, np.uint8)
    for i in range(5):
        top = 10 if i < 4 else 30
        line[top:50, 20 + 50 * i : 40 + 50 * i] = 0
    chars = tuple(
        CharBelief(c, 1.0, {c: 1.0}, (0.08 + 0.2 * i, 0.16 + 0.2 * i)) for i, c in enumerate("ABCDE")
    )
    # when their sizes are measured
    sized = with_glyph_sizes(line, chars)
    # then the tall ones are as tall as their median and the short one is half of it
    assert [c.size for c in sized] == pytest.approx([1.0, 1.0, 1.0, 1.0, 0.5])
    # and characters without a span are left alone
    assert with_glyph_sizes(line, (CharBelief("A", 1.0, {"A": 1.0}),))[0].size is None


def test_ctc_decoding_records_where_each_character_was_seen() -> None:
    import numpy as np

    from issc.plates.ocr.rapid import _ctc_greedy

    # frames: blank, A, A, blank, B, blank, B, blank (classes: 0 blank, 1 A, 2 B)
    best = [0, 1, 1, 0, 2, 0, 2, 0]
    probs = np.full((8, 3), 0.05)
    probs[np.arange(8), best] = 0.9
    text, _, chars = _ctc_greedy(probs, ["", "A", "B"], frame_w=0.1)
    assert text == "ABB"
    assert [c.span for c in chars] == [
        pytest.approx((0.1, 0.3)),
        pytest.approx((0.4, 0.5)),
        pytest.approx((0.6, 0.7)),
    ]
