"""The ``plates`` settings section: how plate text is searched, read and voted into events.

Kept in its own file (like :mod:`issc.config.store`); it is registered in ``issc/config/__init__.py``
with the other sections and keeps flat env keys (``PLATE_REGION``, ``PLATE_FORMATS`` ...).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator


class PlateSettings(BaseModel):
    """How plate text is searched, read and turned into one event per pass."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    plate_formats: str = Field(
        "",
        description="Comma-separated plate layouts as masks (A letter, 9 digit, * either); empty: "
        "PLATE_REGION's layouts.",
    )
    plate_region: Literal["mixed", "eu", "uk", "br", "us", "sk", "fr", "it", "es", "cz", "de"] = Field(
        "mixed",
        description="Region preset (issc.plates.regions): plate layouts, look-alike swaps and the O/0 "
        "policy; mixed: BR, Mercosul, UK and EU layouts. The PLATE_ settings below override its parts.",
    )
    plate_letter_to_digit: str | None = Field(
        None,
        description="Look-alike swaps where a layout wants a digit (letter+digit pairs); unset: "
        "PLATE_REGION's (O0,Q0,D0,I1,L1,Z2,S5,B8,G6).",
    )
    plate_digit_to_letter: str | None = Field(
        None,
        description="Look-alike swaps where a layout wants a letter (digit+letter pairs); unset: "
        "PLATE_REGION's (0O,1I,2Z,5S,6G,8B).",
    )
    plate_o_is_zero: bool | None = Field(
        None,
        description="Read every O as 0 (plates that never use the letter O); unset: PLATE_REGION's "
        "(true for us).",
    )
    plate_detect_short_side: int = Field(
        288,
        ge=240,
        le=2160,
        description="Live frames are scaled down (never up) to this short side before plates are searched "
        "(candidates are then read at full resolution); raise it for distant, small plates.",
    )
    plate_detect_model: Literal["fast", "accurate"] = Field(
        "accurate",
        description="Text detector of the live plate search's whole-frame pass: accurate (PP-OCRv6 "
        "small) or fast (PP-OCRv4 mobile: analyses take half the time; up to 4 cameras on 2 cores "
        "read every pass, 8 lost passes in our runs). Plates are read with PP-OCRv6 either way.",
    )
    plate_dedupe_s: float = Field(
        60.0,
        ge=0,
        le=3600,
        description="The same plate on the same camera within this many seconds is one pass.",
    )

    @field_validator("plate_region", "plate_detect_model", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("plate_formats")
    @classmethod
    def _check_masks(cls, value: str) -> str:
        for mask in filter(None, (m.strip().upper() for m in value.split(","))):
            if set(mask) - set("A9*"):
                raise ValueError(
                    f"{mask!r} is not a plate mask: use A for a letter, 9 for a digit, * for either"
                )
        return value

    @field_validator("plate_letter_to_digit", "plate_digit_to_letter")
    @classmethod
    def _check_pairs(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return value
        want = ("letter", "digit") if info.field_name == "plate_letter_to_digit" else ("digit", "letter")
        for pair in filter(None, (p.strip().upper() for p in value.split(","))):
            ok = len(pair) == 2 and (pair[0].isalpha(), pair[1].isdigit()) == (
                want[0] == "letter",
                want[1] == "digit",
            )
            if not ok or not pair.isalnum():
                raise ValueError(
                    f"{pair!r} is not a {want[0]}+{want[1]} pair such as {'O0' if want[0] == 'letter' else '0O'}"
                )
        return value

    def formats(self) -> list[str]:
        """``PLATE_FORMATS`` as upper-case masks (empty: the region's layouts)."""
        return [m.strip().upper() for m in self.plate_formats.split(",") if m.strip()]

    def letter_to_digit(self) -> dict[str, str] | None:
        """``PLATE_LETTER_TO_DIGIT`` as a mapping (None: the region's)."""
        return _pairs(self.plate_letter_to_digit)

    def digit_to_letter(self) -> dict[str, str] | None:
        """``PLATE_DIGIT_TO_LETTER`` as a mapping (None: the region's)."""
        return _pairs(self.plate_digit_to_letter)


def _pairs(value: str | None) -> dict[str, str] | None:
    if value is None:
        return None
    return {p[0]: p[1] for p in (q.strip().upper() for q in value.split(",")) if len(p) == 2}
