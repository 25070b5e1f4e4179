"""Character confusions: which characters were read as which, over many (truth, read) pairs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from rapidfuzz.distance import Levenshtein


def confusions(pairs: Iterable[tuple[str, str]]) -> dict[str, dict[str, int]]:
    """Character confusions over ``(truth, read)`` pairs: ``{truth char: {read char: count}}``.

    Each pair is aligned by the fewest edits (Levenshtein); a substitution counts under its two
    characters, a dropped character under ``{char: {"": n}}`` and an added one under
    ``{"": {char: n}}``. Pairs with no read (nothing found) are left out: they hold no confusion.
    Rows and entries are sorted by count, most first.
    """
    counts: Counter[tuple[str, str]] = Counter()
    for truth, read in pairs:
        if not read:
            continue
        for op, i, j in Levenshtein.editops(truth, read):
            if op == "replace":
                counts[truth[i], read[j]] += 1
            elif op == "delete":
                counts[truth[i], ""] += 1
            else:
                counts["", read[j]] += 1
    table: dict[str, dict[str, int]] = {}
    for (want, got), n in counts.most_common():
        table.setdefault(want, {})[got] = n
    return table


def confusion_line(table: dict[str, dict[str, int]], top: int = 12) -> str:
    """The ``top`` most frequent confusions as ``1→I 4, 0→D 3, 5→- 1`` (``-``: none)."""
    flat = sorted(
        ((n, want or "-", got or "-") for want, row in table.items() for got, n in row.items()), reverse=True
    )
    return ", ".join(f"{want}→{got} {n}" for n, want, got in flat[:top]) or "none"
