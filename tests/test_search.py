"""Edit distances behind fuzzy plate search: rapidfuzz gives exactly what ISSC's own Python code gave
(``issc.bench.history.python_levenshtein``, the distance used before rapidfuzz)."""

from __future__ import annotations

import random
from itertools import pairwise

import pytest

from issc.bench.history import python_levenshtein
from issc.plates.text import levenshtein
from issc.search import fold, is_near

#: (a, b, edit distance)
CASES: tuple[tuple[str, str, int], ...] = (
    ("", "", 0),
    ("A", "", 1),
    ("", "ABC", 3),
    ("LS15EBC", "LS15EBC", 0),
    ("LS15EBC", "LS15E8C", 1),  # substitution
    ("LS15EBC", "LS15EB", 1),  # deletion
    ("LS15EBC", "LS15EBCX", 1),  # insertion
    ("AB12CDE", "BA12CDE", 2),  # a swap is two edits
    ("ISISEBC", "ISIGEBC", 1),
    ("KITTEN", "SITTING", 3),
    ("FLAW", "LAWN", 2),
    ("XY99ZZZ", "QWE1234", 7),
    ("ABCDEFGHIJ", "ABCDEFGHIJK", 1),
    ("AAAA", "AAAAAAAA", 4),
    ("ÉCOLE", "ECOLE", 1),
)


@pytest.mark.parametrize(("a", "b", "distance"), CASES)
def test_distance_is_the_same_as_before(a: str, b: str, distance: int) -> None:
    assert levenshtein(a, b) == levenshtein(b, a) == python_levenshtein(a, b) == distance


@pytest.mark.parametrize(("a", "b", "distance"), CASES)
@pytest.mark.parametrize("budget", [0, 1, 2, 3])
def test_is_near_is_distance_within_budget(a: str, b: str, distance: int, budget: int) -> None:
    assert is_near(a, b, budget) is (distance <= budget)


def test_random_pairs_agree_with_the_python_distance() -> None:
    # given 3000 random strings over a small alphabet (so that distances vary), up to 12 characters
    rng = random.Random(11)
    words = ["".join(rng.choice("AB81SI") for _ in range(rng.randrange(13))) for _ in range(3000)]
    pairs = list(pairwise(words))
    # then rapidfuzz's distance and the near test match the Python reference everywhere
    assert [levenshtein(a, b) for a, b in pairs] == [python_levenshtein(a, b) for a, b in pairs]
    for budget in (0, 1, 2):
        near = [is_near(fold(a), fold(b), budget) for a, b in pairs]
        assert near == [python_levenshtein(fold(a), fold(b)) <= budget for a, b in pairs]
