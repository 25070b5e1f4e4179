"""Plate text: normalisation, plate formats, look-alike fixes and string similarity.

Everything compares plates in one canonical form: upper-case ``[A-Z0-9]`` only (no spaces, dashes,
dots or country strips). Formats are masks, one symbol per character:

* ``A`` a letter, ``9`` a digit, ``*`` either.

A read that matches no format but would match one after swapping look-alike characters
(``O``→``0`` where the format wants a digit, ``0``→``O`` where it wants a letter, ...) is fixed,
but only when one fixed form needs fewer swaps than any other: the rules never guess between
equally good formats.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from rapidfuzz.distance import Levenshtein

_NOT_PLATE_CHAR = re.compile(r"[^A-Z0-9]")
_MASK_SYMBOLS = {"A": "[A-Z]", "9": "[0-9]", "*": "[A-Z0-9]"}

#: Letters read where a digit belongs, and the digit they stand for. Only close look-alikes:
#: A/4 and T/7 were left out because they broke real reads (BS47040 → BSA7040 against the BR layout).
LETTER_TO_DIGIT: Mapping[str, str] = MappingProxyType(
    {"O": "0", "Q": "0", "D": "0", "I": "1", "L": "1", "Z": "2", "S": "5", "B": "8", "G": "6"}
)
#: Digits read where a letter belongs, and the letter they stand for.
DIGIT_TO_LETTER: Mapping[str, str] = MappingProxyType(
    {"0": "O", "1": "I", "2": "Z", "5": "S", "6": "G", "8": "B"}
)


#: The recogniser's belief about one character: candidate characters and their probabilities.
Belief = Mapping[str, float]


#: Look-alikes that many plate fonts print with one glyph (Slovak plates, for one): the
#: recogniser's certainty about which of them it saw means nothing, so the format decides.
_SAME_GLYPH = {"0", "O"}


def normalize(text: str) -> str:
    """Return ``text`` in the canonical plate form: upper-case ``[A-Z0-9]`` only.

    Accents are stripped first (``Ž`` → ``Z``), so plates from any Latin alphabet compare.

    Args:
        text: Raw OCR or user text.

    Returns:
        The normalised text, possibly empty.
    """
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return _NOT_PLATE_CHAR.sub("", folded.upper())


def _is_small_glyph(ch: str) -> bool:
    """Sub- and superscripts (``₆``, ``²``): the recogniser saw a mark smaller than the text."""
    return unicodedata.decomposition(ch).startswith(("<sub>", "<super>"))


#: Belief key for symbols that are no plate character (``-``, ``·``, ``:``, ``=``, ...).
_MARK = "~"
#: Belief key for "no character here" (the CTC blank).
_BLANK = ""


def _is_mark(belief: Belief, doubt: float, mark: float) -> bool:
    """Whether a character is a separator or an emblem read as a character: the recogniser
    doubted it (plate characters below ``doubt`` in all) and saw a mark there (at least ``mark``)."""
    plate = sum(p for c, p in belief.items() if c not in (_MARK, _BLANK))
    return plate < doubt and belief.get(_MARK, 0.0) >= mark


def _is_ghost(belief: Belief, doubt: float, blank: float) -> bool:
    """Whether a character is a plate graphic half read as a character: the recogniser doubted it
    (plate characters below ``doubt`` in all) and half believed nothing was there (the blank got at
    least ``blank``). Registration characters, even blurred ones, leave the blank near zero."""
    plate = sum(p for c, p in belief.items() if c not in (_MARK, _BLANK))
    return plate < doubt and belief.get(_BLANK, 0.0) >= blank


def normalize_beliefs(raw: str, beliefs: Sequence[Belief]) -> tuple[str, tuple[Belief, ...]]:
    """``normalize(raw)`` and the beliefs of the characters that survive, aligned with it.

    Characters the recogniser read as sub- or superscripts are dropped: plates print none, so
    they are a smaller mark (an emblem, a sticker, a country strip) read as a character.

    Args:
        raw: Raw OCR text.
        beliefs: One belief per character of ``raw``, keyed by raw characters.

    Returns:
        The canonical text and one belief per character, keyed by canonical characters, with
        ``"~"`` for the summed probability of marks (``-``, ``·``, ``:``, ...) and ``""`` for
        the blank (no character).
    """
    if len(beliefs) != len(raw):
        raise ValueError(f"expected one belief per character of {raw!r}, got {len(beliefs)}")
    chars: list[str] = []
    out: list[Belief] = []
    for ch, belief in zip(raw, beliefs, strict=True):
        if _is_small_glyph(ch):
            continue
        canonical: dict[str, float] = {}
        for alt, p in belief.items():
            key = _BLANK if alt == _BLANK else normalize(alt) or _MARK
            if len(key) == 1 or key == _BLANK:
                canonical[key] = canonical.get(key, 0.0) + p
        for c in normalize(ch):
            chars.append(c)
            out.append(canonical)
    return "".join(chars), tuple(out)


@dataclass(frozen=True)
class PlateFormat:
    """One plate layout, e.g. ``PlateFormat("uk", "AA99AAA")``.

    Attributes:
        name: Label shown to users (``"br"``, ``"uk"``, ...).
        mask: One symbol per character: ``A`` letter, ``9`` digit, ``*`` either.
        fix: Whether reads may be coerced into this layout. Switch off for layouts that share their
            length with many others (EU countries), where a swap would more often break a read.
    """

    name: str
    mask: str
    fix: bool = True

    def __post_init__(self) -> None:
        bad = set(self.mask) - set(_MASK_SYMBOLS)
        if not self.mask or bad:
            raise ValueError(f"plate format {self.name!r}: mask {self.mask!r} must use only A, 9 and *")

    @property
    def pattern(self) -> re.Pattern[str]:
        """The mask as an anchored regular expression."""
        return re.compile("^" + "".join(_MASK_SYMBOLS[s] for s in self.mask) + "$")

    def matches(self, text: str) -> bool:
        """Whether normalised ``text`` fits this format."""
        return self.pattern.match(text) is not None

    def coerce(
        self,
        text: str,
        letter_to_digit: Mapping[str, str],
        digit_to_letter: Mapping[str, str],
        max_swaps: int = 2,
        beliefs: Sequence[Belief] | None = None,
        sure: float = 1.0,
    ) -> str | None:
        """Swap look-alikes so ``text`` fits this format; ``None`` when it cannot.

        Args:
            text: Normalised text.
            letter_to_digit: Swaps allowed where the mask wants a digit.
            digit_to_letter: Swaps allowed where the mask wants a letter.
            max_swaps: More swaps than this means the text is not this format: ``None``.
            beliefs: The recogniser's belief per character of ``text``, if known.
            sure: With ``beliefs``, a character read with at least this probability is not
                swapped (the recogniser saw it clearly): ``None``.
        """
        if len(text) != len(self.mask):
            return None
        out = []
        for i, (ch, sym) in enumerate(zip(text, self.mask, strict=True)):
            read = ch
            if sym == "9" and not ch.isdigit():
                ch = letter_to_digit.get(ch, "")
            elif sym == "A" and not ch.isalpha():
                ch = digit_to_letter.get(ch, "")
            if not ch:
                return None
            certain = beliefs is not None and beliefs[i].get(read, 0.0) >= sure
            if ch != read and certain and {ch, read} != _SAME_GLYPH:
                return None
            out.append(ch)
        fixed = "".join(out)
        return fixed if sum(a != b for a, b in zip(text, fixed, strict=True)) <= max_swaps else None


#: Default layouts: Brazil (old and Mercosul), UK, and the common EU "AA999AA" (Slovakia, France,
#: Italy). Deployments elsewhere should list their own (``PlateRules.from_masks``).
DEFAULT_FORMATS: tuple[PlateFormat, ...] = (
    PlateFormat("br", "AAA9999"),
    PlateFormat("br-mercosul", "AAA9A99"),
    PlateFormat("uk", "AA99AAA"),
    PlateFormat("eu", "AA999AA"),
)


@dataclass(frozen=True, eq=False)
class PlateRules:
    """How raw OCR text becomes a plate: normalise, then fix look-alikes against known formats.

    Attributes:
        formats: Known plate layouts. Reads that fit one score higher; empty disables fixing.
        letter_to_digit: Swaps applied where a format wants a digit.
        digit_to_letter: Swaps applied where a format wants a letter.
        max_swaps: Most look-alike swaps made to fit a format (more means another layout).
        sure: When the recogniser's per-character probabilities are known, a character read with
            at least this probability is never swapped for a look-alike (O and 0 excepted: many
            plate fonts print them alike). Results were the same for 0.8 to 0.99.
        mark_doubt: With per-character probabilities, a character whose plate characters sum to
            less than this ...
        mark_prob: ... while marks (hyphen, dot, colon: what a separator, an emblem or a country
            coat of arms between the groups reads as) got at least this, is dropped as a mark.
            Results were the same for 0.6 to 0.8 and 0.05 to 0.2.
        small_glyph: With glyph sizes (ink height over the line's median), a character smaller
            than this is another print (a sticker, a slogan, a state graphic's lettering) read
            into the registration, and is dropped unless fewer than ``min_length`` characters
            would be left.
        ghost_doubt: With per-character probabilities, a character whose plate characters sum to
            less than this ...
        ghost_blank: ... while the blank ("no character") got at least this is a ghost: a plate
            graphic (state emblem, sticker, slogan art) half read as a character. Ghosts are
            dropped unless the read fits a format with them and not without, or dropping them
            leaves fewer than ``min_length`` characters.
        o_is_zero: Read every O as 0, for deployments whose plates never use the letter O (most
            US states), in reads that hold a digit as read or fit a layout: a word (a make badge,
            a sticker) keeps its O's and stays a word. Off by default: many European plates use both.
        min_length: Shortest normalised text accepted as a plate.
        max_length: Longest normalised text accepted as a plate.
    """

    formats: tuple[PlateFormat, ...] = DEFAULT_FORMATS
    letter_to_digit: Mapping[str, str] = field(default_factory=lambda: LETTER_TO_DIGIT)
    digit_to_letter: Mapping[str, str] = field(default_factory=lambda: DIGIT_TO_LETTER)
    max_swaps: int = 2
    min_length: int = 4
    max_length: int = 9
    sure: float = 0.95
    mark_doubt: float = 0.7
    mark_prob: float = 0.1
    small_glyph: float = 0.75
    ghost_doubt: float = 0.8
    ghost_blank: float = 0.1
    o_is_zero: bool = False

    @classmethod
    def from_masks(cls, masks: Iterable[str], **kwargs: object) -> PlateRules:
        """Build rules from bare masks (``["AAA9999", "AA99AAA"]``), e.g. from a settings string."""
        formats = tuple(PlateFormat(m, m) for m in masks)
        return cls(formats=formats, **kwargs)  # type: ignore[arg-type]

    def matching_format(self, text: str) -> PlateFormat | None:
        """The first format that normalised ``text`` fits, if any."""
        return next((f for f in self.formats if f.matches(text)), None)

    def apply(
        self, raw: str, beliefs: Sequence[Belief] | None = None, sizes: Sequence[float | None] | None = None
    ) -> str:
        """Normalise ``raw`` and fix look-alikes when one format can be met with the fewest swaps.

        Args:
            raw: OCR output (any case, spaces, punctuation).
            beliefs: The recogniser's belief per character of ``raw``, if known: characters it
                was sure of are not swapped; sub/superscripts and marks read as characters
                (``normalize_beliefs``, ``mark_doubt``) are dropped.
            sizes: With ``beliefs``, each raw character's glyph size relative to its line
                (``None``: unknown): small glyphs (``small_glyph``) are dropped.

        Returns:
            The canonical text; unchanged (but normalised) when no format applies unambiguously.
        """
        if beliefs:
            if sizes is not None:
                raw, beliefs = self._drop_small_glyphs(raw, beliefs, sizes)
            text, norm_beliefs = normalize_beliefs(raw, beliefs)
            keep = [i for i, b in enumerate(norm_beliefs) if not _is_mark(b, self.mark_doubt, self.mark_prob)]
            text, norm_beliefs = "".join(text[i] for i in keep), tuple(norm_beliefs[i] for i in keep)
            text, norm_beliefs = self._drop_ghosts(text, norm_beliefs)
        else:
            text, norm_beliefs = normalize(raw), None
        read = text
        text = self._fix_look_alikes(text, norm_beliefs)
        # O -> 0 only in a read that has a digit as read, or fits a layout: a word stays a word
        # ("TOYOTA" must not become "T0Y0TA" and pass the tests that keep words out).
        if self.o_is_zero and (any(c.isdigit() for c in read) or self.matching_format(text) is not None):
            text = text.replace("O", "0")
        return text

    def _drop_small_glyphs(
        self, raw: str, beliefs: Sequence[Belief], sizes: Sequence[float | None]
    ) -> tuple[str, Sequence[Belief]]:
        """``raw`` and ``beliefs`` without the characters whose glyph is smaller than
        ``small_glyph``, unless fewer than ``min_length`` plate characters would be left."""
        if len(sizes) != len(raw):
            raise ValueError(f"expected one size per character of {raw!r}, got {len(sizes)}")
        keep = [i for i, s in enumerate(sizes) if s is None or s >= self.small_glyph]
        if len(keep) == len(raw) or len(normalize("".join(raw[i] for i in keep))) < self.min_length:
            return raw, beliefs
        return "".join(raw[i] for i in keep), [beliefs[i] for i in keep]

    def _drop_ghosts(self, text: str, beliefs: tuple[Belief, ...]) -> tuple[str, tuple[Belief, ...]]:
        """``text`` without its ghost characters (``ghost_doubt``, ``ghost_blank``), or unchanged
        when it has none, when too few characters would be left, or when it fits a format as
        read and would fit none without them."""
        keep = [i for i, b in enumerate(beliefs) if not _is_ghost(b, self.ghost_doubt, self.ghost_blank)]
        if len(keep) == len(text) or len(keep) < self.min_length:
            return text, beliefs
        kept, kept_beliefs = "".join(text[i] for i in keep), tuple(beliefs[i] for i in keep)
        return kept, kept_beliefs

    def _fix_look_alikes(self, text: str, beliefs: Sequence[Belief] | None) -> str:
        if not text or self.matching_format(text) is not None:
            return text
        options: dict[str, int] = {}
        for f in self.formats:
            if f.fix and (
                c := f.coerce(
                    text, self.letter_to_digit, self.digit_to_letter, self.max_swaps, beliefs, self.sure
                )
            ):
                options[c] = sum(a != b for a, b in zip(text, c, strict=True))
        if not options:
            return text
        fewest = min(options.values())
        best = [c for c, swaps in options.items() if swaps == fewest]
        return best[0] if len(best) == 1 else text

    def plausible(self, text: str) -> bool:
        """Whether normalised ``text`` has a plate's length."""
        return self.min_length <= len(text) <= self.max_length


DEFAULT_RULES = PlateRules()


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insertions, deletions, substitutions, each costing one) between two strings."""
    return Levenshtein.distance(a, b)


def similarity(a: str, b: str) -> float:
    """``1 - levenshtein / longer length`` in [0, 1]; two empty strings are identical (1.0).

    Used to cluster reads of one track and by the history search for fuzzy plate look-ups.
    """
    longest = max(len(a), len(b))
    return 1.0 if longest == 0 else 1.0 - levenshtein(a, b) / longest
