"""Plate text rules: normalisation, formats, look-alike fixes, similarity."""

from __future__ import annotations

import pytest

from issc.plates.text import DEFAULT_RULES, PlateFormat, PlateRules, levenshtein, normalize, similarity


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
