"""Region presets (PLATE_REGION): layouts, look-alike swaps and the O/0 policy of one region."""

from __future__ import annotations

from typing import get_args

import pytest

from issc.config import ConfigError, PlateSettings, load_settings
from issc.plates.regions import DEFAULT_REGION, REGIONS, region_preset
from issc.plates.text import DEFAULT_FORMATS, DIGIT_TO_LETTER, LETTER_TO_DIGIT


@pytest.mark.parametrize(
    ("region", "mask", "o_is_zero", "raw", "expected"),
    [
        ("mixed", "AA99AAA", False, "LS15 EBC", "LS15EBC"),
        ("eu", "AA999AA", False, "RK-O99AN", "RK099AN"),  # O where the layout wants a digit
        ("eu", "9999AAA", False, "1234 BCD", "1234BCD"),  # Spain
        ("sk", "AA999AA", False, "BA 8O3 AB", "BA803AB"),
        ("fr", "AA999AA", False, "AB-123-CD", "AB123CD"),
        ("it", "AA999AA", False, "AB 123 CD", "AB123CD"),
        ("es", "9999AAA", False, "1234 8CD", "1234BCD"),  # 8 where the layout wants a letter
        ("cz", "9A*9999", False, "1A2 3456", "1A23456"),
        ("de", "AAA999", False, "M-AB 12O", "MAB120"),
        ("uk", "AA99AAA", False, "LS1S EBC", "LS15EBC"),
        ("br", "AAA9999", False, "ABC-12B4", "ABC1284"),
        ("br", "AAA9A99", False, "BRA 2E19", "BRA2E19"),
        ("us", "9AAA999", True, "7ABC 1O3", "7ABC103"),  # every O is a 0 on US plates
        ("us", "AAA9999", True, "OHIO 123", "0HI0123"),
    ],
)
def test_region_presets(region: str, mask: str, o_is_zero: bool, raw: str, expected: str) -> None:
    preset = region_preset(region)
    rules = preset.rules()
    assert mask in {f.mask for f in preset.formats}
    assert rules.o_is_zero is o_is_zero
    assert rules.apply(raw) == expected


def test_the_default_region_is_todays_rules() -> None:
    rules = region_preset(DEFAULT_REGION).rules()
    assert rules.formats == DEFAULT_FORMATS
    assert dict(rules.letter_to_digit) == dict(LETTER_TO_DIGIT)
    assert dict(rules.digit_to_letter) == dict(DIGIT_TO_LETTER)
    assert not rules.o_is_zero
    assert region_preset(DEFAULT_REGION).plate_grow_y == 0.0
    assert PlateSettings.model_fields["plate_region"].default == DEFAULT_REGION


def test_every_preset_is_a_setting_value_and_back() -> None:
    assert set(get_args(PlateSettings.model_fields["plate_region"].annotation)) == set(REGIONS)
    assert set(REGIONS) >= {"eu", "uk", "br", "us"}


def test_us_layouts_are_recognised_but_never_fixed_towards() -> None:
    us = region_preset("us")
    assert us.formats and not any(f.fix for f in us.formats)
    assert us.plate_grow_y > 0  # the state and the slogan rows are part of the plate
    # a vanity or other state's read is left as read, O/0 aside
    assert us.rules().apply("8AB 123") == "8AB123"


def test_parts_can_be_replaced() -> None:
    from issc.plates.text import PlateFormat

    rules = region_preset("us").rules(formats=(PlateFormat("x", "AAA999"),), o_is_zero=False)
    assert [f.mask for f in rules.formats] == ["AAA999"] and not rules.o_is_zero
    assert region_preset("US ").name == "us"


def test_unknown_region_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="expected one of mixed, eu, uk, br, us"):
        region_preset("mars")


def test_describe_lists_layouts_and_the_o_policy() -> None:
    assert region_preset("br").describe() == "Brazil (old and Mercosul): layouts AAA9999, AAA9A99"
    us = region_preset("us").describe()
    assert "AAA9999" in us and "O is read as 0" in us and "never fixed towards" in us


def test_plate_region_setting_and_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    from issc.plates.regions import plate_rules

    monkeypatch.setenv("PLATE_REGION", "US")
    rules = plate_rules(load_settings().plates)
    assert rules.o_is_zero and {f.mask for f in rules.formats} == {f.mask for f in REGIONS["us"].formats}

    monkeypatch.setenv("PLATE_O_IS_ZERO", "false")  # an explicit setting replaces the region's part
    monkeypatch.setenv("PLATE_FORMATS", "AAA999")
    monkeypatch.setenv("PLATE_LETTER_TO_DIGIT", "")  # set, and empty: no swaps at all
    rules = plate_rules(load_settings().plates)
    assert not rules.o_is_zero and [f.mask for f in rules.formats] == ["AAA999"]
    assert dict(rules.letter_to_digit) == {}
    assert dict(rules.digit_to_letter) == dict(REGIONS["us"].digit_to_letter)  # unset: the region's


def test_bad_plate_region_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLATE_REGION", "mars")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "PLATE_REGION='mars' is invalid:" in str(info.value) and "'us'" in str(info.value)


def test_tuning_page_shows_the_region(monkeypatch: pytest.MonkeyPatch) -> None:
    from conftest import ROOT
    from streamlit.testing.v1 import AppTest

    from issc import service

    monkeypatch.setenv("CAMERAS", "demo")
    monkeypatch.setenv("DETECTOR", "none")
    monkeypatch.setenv("DATABASE_URL", "sqlite://")
    monkeypatch.setenv("PLATE_REGION", "us")
    monkeypatch.setenv("PLATE_O_IS_ZERO", "false")
    try:
        at = AppTest.from_file(str(ROOT / "pages" / "tuning.py"), default_timeout=30).run()
        assert not at.exception
        text = " ".join(c.value for c in at.caption)
        assert "Plate region **us**" in text and "AAA9999" in text
        assert "Replaced by settings: PLATE_O_IS_ZERO." in text
    finally:
        service.stop()
