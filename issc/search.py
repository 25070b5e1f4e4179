"""Plate look-ups that forgive OCR: look-alike folding and edit-distance budgets.

A *fold key* maps every group of characters that OCR confuses to one representative
(``8``/``B`` → ``B``, ``0``/``O``/``D``/``Q`` → ``O``, ``1``/``I``/``L`` → ``I`` ...), so ``LS15E8C`` and
``LS15EBC`` share the key ``ISISEBC``. Distances are counted between fold keys: swapping look-alikes
is free, any other edit costs one (Levenshtein distance, computed by rapidfuzz).

The history store indexes fold keys (and their reverse), which lets a fuzzy query with a budget of one
edit fetch its candidates by two index range scans: if ``d(q, t) <= 1``, ``t`` keeps either the first
half of ``q`` as a prefix or the second half as a suffix (the single edit sits in at most one half).
"""

from __future__ import annotations

from rapidfuzz.distance import Levenshtein

from issc.plates.text import normalize

#: Groups of characters OCR confuses; each maps to its first member.
LOOKALIKE_GROUPS: tuple[str, ...] = ("OQD0", "IL1", "S5", "Z2", "B8", "G6", "A4", "T7")
_FOLD = str.maketrans({ch: group[0] for group in LOOKALIKE_GROUPS for ch in group[1:]})


def fold(text: str) -> str:
    """The fold key of ``text``: normalised, then look-alikes mapped to one representative.

    Args:
        text: Raw or normalised plate text.

    Returns:
        The key, e.g. ``fold("LS15E8C") == fold("ls-15 ebc") == "ISISEBC"``.
    """
    return normalize(text).translate(_FOLD)


def allowed_distance(length: int) -> int:
    """Edits a fuzzy match may need for a query of ``length`` characters: about one per six.

    Queries under four characters must match exactly (as a substring); 4-9 characters allow one
    edit, 10-15 two, and so on.
    """
    return 0 if length < 4 else (length + 2) // 6


def is_near(key: str, query_key: str, max_distance: int) -> bool:
    """Whether two fold keys are within ``max_distance`` edits (stops counting past the budget)."""
    return Levenshtein.distance(key, query_key, score_cutoff=max_distance) <= max_distance


def split_pieces(query_key: str, max_distance: int) -> list[str]:
    """Split a fold key into ``max_distance + 1`` nearly equal pieces.

    Any string within ``max_distance`` edits of ``query_key`` contains at least one piece unchanged
    (pigeonhole): each edit can spoil at most one piece.
    """
    parts = max_distance + 1
    size, extra = divmod(len(query_key), parts)
    pieces, start = [], 0
    for i in range(parts):
        end = start + size + (1 if i < extra else 0)
        pieces.append(query_key[start:end])
        start = end
    return pieces
