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
