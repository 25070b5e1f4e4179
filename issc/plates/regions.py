"""Region presets: the plate layouts, look-alike swaps and O/0 policy of one part of the world.

``PLATE_REGION`` picks one preset; explicit ``PLATE_FORMATS``, ``PLATE_LETTER_TO_DIGIT``,
``PLATE_DIGIT_TO_LETTER`` and ``PLATE_O_IS_ZERO`` replace its parts when set. The default,
``mixed``, is the layouts ISSC has always used (Brazil old and Mercosul, UK, the EU "AA999AA").

Layouts come from the public registration rules of each country (the Wikipedia pages "Vehicle
registration plates of <country>" list them). Only current, standard-issue layouts are listed;
vanity and special plates still read, they just get no look-alike fixing. A layout marked
``fix=False`` counts as a plate layout but reads are never coerced into it: it shares its length
with too many others (German district codes, US states), where a swap would more often break a
read than mend it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from issc.config import PlateSettings
from issc.plates.text import DEFAULT_FORMATS, DIGIT_TO_LETTER, LETTER_TO_DIGIT, PlateFormat, PlateRules


@dataclass(frozen=True)
class RegionPreset:
    """Everything region-specific about reading plates.

    Attributes:
        name: ``PLATE_REGION`` value (``"eu"``, ``"us"``, ...).
        title: What the preset covers, for people.
        formats: Plate layouts (``PlateFormat``), the most common first.
        letter_to_digit: Look-alike swaps where a layout wants a digit.
        digit_to_letter: Look-alike swaps where a layout wants a letter.
        o_is_zero: Read every O as 0 (plates that print O and 0 with one glyph and use only 0).
        plate_grow_y: How far the plate reaches above and below its registration line, as a
            fraction of the line box's height (``LocatorOptions.grow_y``, the box the locator
            reports). 0 where the registration fills the plate (EU, UK, BR: the line box itself
            overlaps a labelled plate box best).
    """

    name: str
    title: str
    formats: tuple[PlateFormat, ...]
    letter_to_digit: Mapping[str, str] = field(default_factory=lambda: LETTER_TO_DIGIT)
    digit_to_letter: Mapping[str, str] = field(default_factory=lambda: DIGIT_TO_LETTER)
    o_is_zero: bool = False
    plate_grow_y: float = 0.0

    def rules(
        self,
        formats: tuple[PlateFormat, ...] | None = None,
        letter_to_digit: Mapping[str, str] | None = None,
        digit_to_letter: Mapping[str, str] | None = None,
        o_is_zero: bool | None = None,
    ) -> PlateRules:
        """``PlateRules`` of this region; an argument that is not ``None`` replaces that part.

        Args:
            formats: Layouts to use instead of the region's.
            letter_to_digit: Swaps to use instead of the region's.
            digit_to_letter: Swaps to use instead of the region's.
            o_is_zero: O/0 policy to use instead of the region's.
        """
        return PlateRules(
            formats=self.formats if formats is None else formats,
            letter_to_digit=self.letter_to_digit if letter_to_digit is None else letter_to_digit,
            digit_to_letter=self.digit_to_letter if digit_to_letter is None else digit_to_letter,
            o_is_zero=self.o_is_zero if o_is_zero is None else o_is_zero,
        )

    def describe(self) -> str:
        """One line for people: title, layouts (those reads are fixed towards first) and the O/0
        policy, e.g. ``Brazil (old and Mercosul): layouts AAA9999, AAA9A99``."""
        fixed = [f.mask for f in self.formats if f.fix]
        known = [f.mask for f in self.formats if not f.fix]
        parts = [f"layouts {', '.join(fixed)}"] if fixed else []
        if known:
            parts.append(f"{'also ' if fixed else ''}recognised, never fixed towards: {', '.join(known)}")
        if self.o_is_zero:
            parts.append("O is read as 0")
        return f"{self.title}: {'; '.join(parts)}"


def _formats(name: str, masks: str, fix: bool = True) -> tuple[PlateFormat, ...]:
    return tuple(PlateFormat(name, m, fix) for m in masks.split())


#: AA999AA: Slovakia (district code, 3 digits, 2 letters), France (SIV, since 2009), Italy (1994).
_AA999AA = PlateFormat("eu", "AA999AA")
#: Spain since 2000: 4 digits, 3 consonants.
_ES = PlateFormat("es", "9999AAA")
#: Czechia since 2001: region digit, region letter, a letter or digit, 4 digits.
_CZ = PlateFormat("cz", "9A*9999")
#: Germany: 1-3 letter district, 1-2 letters, 1-4 digits, at most 8 characters in all.
_DE_MASKS = " ".join("A" * a + "9" * d for a in range(2, 6) for d in range(1, 5) if a + d <= 8)
#: United Kingdom: current (2001), prefix (1983-2001), suffix (1963-1983).
_UK = (
    PlateFormat("uk", "AA99AAA"),
    *_formats("uk-prefix", "A9AAA A99AAA A999AAA", fix=False),
    *_formats("uk-suffix", "AAA9A AAA99A AAA999A", fix=False),
)
#: Brazil: the old grey plates and Mercosul (2018).
_BR = (PlateFormat("br", "AAA9999"), PlateFormat("br-mercosul", "AAA9A99"))
#: United States, standard issue of the most populous states: 9AAA999 California; AAA9999 New
#: York, Pennsylvania, Texas, Ohio, Georgia, North Carolina, Virginia, Washington, Arizona,
#: Michigan; AAA999 and 999AAA many smaller and older series; A99AAA New Jersey; 9AA9999 Maryland.
_US = _formats("us", "AAA9999 9AAA999 AAA999 999AAA A99AAA 9AA9999", fix=False)

#: US plates are 2:1 and print the state above the registration and a slogan below it: the
#: registration's line box is about two thirds of the plate's height (median 0.68, 10th-90th
#: percentile 0.62-0.78, on the 300 US plate crops of the test data placed in photos), so the
#: plate reaches about a quarter of the line's height beyond it, above and below.
_US_PLATE_GROW_Y = 0.25

REGIONS: Mapping[str, RegionPreset] = MappingProxyType(
    {
        p.name: p
        for p in (
            RegionPreset("mixed", "Brazil, UK and the EU AA999AA layout (the defaults)", DEFAULT_FORMATS),
            RegionPreset(
                "eu",
                "European Union: AA999AA (SK, FR, IT), Spain, Czechia; German layouts not fixed towards",
                (_AA999AA, _ES, _CZ, *_formats("de", _DE_MASKS, fix=False)),
            ),
            RegionPreset("uk", "United Kingdom", _UK),
            RegionPreset("br", "Brazil (old and Mercosul)", _BR),
            RegionPreset(
                "us",
                "United States (layouts vary by state; O and 0 are one glyph, read as 0)",
                _US,
                o_is_zero=True,
                plate_grow_y=_US_PLATE_GROW_Y,
            ),
            RegionPreset("sk", "Slovakia", (PlateFormat("sk", "AA999AA"),)),
            RegionPreset("fr", "France (SIV)", (PlateFormat("fr", "AA999AA"),)),
            RegionPreset("it", "Italy", (PlateFormat("it", "AA999AA"),)),
            RegionPreset("es", "Spain", (_ES,)),
            RegionPreset("cz", "Czechia", (_CZ,)),
            RegionPreset("de", "Germany", _formats("de", _DE_MASKS)),
        )
    }
)

#: The ``PLATE_REGION`` used when none is set: today's defaults.
DEFAULT_REGION = "mixed"


def region_preset(name: str) -> RegionPreset:
    """The preset called ``name`` (case-insensitive).

    Raises:
        KeyError: No such preset; the message lists the known ones.
    """
    try:
        return REGIONS[name.strip().lower()]
    except KeyError:
        raise KeyError(f"plate region {name!r} is unknown; expected one of {', '.join(REGIONS)}") from None


def plate_rules(plates: PlateSettings) -> PlateRules:
    """``PlateRules`` of ``PLATE_REGION``, with the parts that ``PLATE_FORMATS``, the look-alike
    pairs and ``PLATE_O_IS_ZERO`` set replaced."""
    masks = plates.formats()
    return region_preset(plates.plate_region).rules(
        formats=tuple(PlateFormat(m, m) for m in masks) if masks else None,
        letter_to_digit=plates.letter_to_digit(),
        digit_to_letter=plates.digit_to_letter(),
        o_is_zero=plates.plate_o_is_zero,
    )
