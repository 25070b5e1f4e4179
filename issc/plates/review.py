"""Analyst review: which stored reads to check first, which known plate a read probably is, and
which look-alike swaps past corrections argue for.

Pure functions over plate text: no database, no Streamlit. The store hands in reads and
corrections; the pages show what these functions return.

* :func:`review_priority` orders a review queue (higher: review first) and says why.
* :func:`probable_plate` suggests the confirmed plate a read is one edit away from.
* :func:`char_confusions` counts which characters analysts corrected into which.
* :func:`propose_lookalikes` turns those counts into look-alike swaps for :class:`PlateRules`,
  each with a simulation over the past corrections; :func:`with_lookalikes` applies accepted ones.

Every text is compared in canonical form (:func:`~issc.plates.text.normalize`).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from rapidfuzz.distance import Levenshtein

from issc.plates.text import PlateRules, levenshtein, normalize

#: Weights of :func:`review_priority`'s signals; the priority is their sum (0 to about 3.5).
#: ``confidence``: times ``1 - confidence`` (a read at 0.42 adds 0.58). ``disagreement``: times the
#: share of reads that disagree with the voted text (2 of 3 agreeing adds 0.33). ``near_watchlist``
#: and ``near_confirmed``: the read is one edit from a watchlisted plate (a missed alert, or a false
#: one) or from a plate an analyst confirmed. ``no_format``: the read fits none of the rules' layouts.
PRIORITY_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {"confidence": 1.0, "disagreement": 1.0, "near_watchlist": 1.0, "near_confirmed": 0.5, "no_format": 0.5}
)
#: Confidence below which :func:`review_priority` names it as a reason (it always adds to the score).
LOW_CONFIDENCE = 0.6
#: Key, in the store's settings table, of the look-alike swaps applied from the corrections report:
#: a JSON list of ``[read, meant]`` character pairs, added to the region's rules when cameras start.
LOOKALIKES_SETTING = "review.lookalikes"
#: Most distinct reads a "reads disagree" reason lists.
_MAX_LISTED_READS = 4
#: Most layout names a "fits no ... format" reason lists.
_MAX_LISTED_FORMATS = 4

Swap = Literal["letter_to_digit", "digit_to_letter"]


def review_priority(
    text: str,
    confidence: float,
    votes: Sequence[tuple[str, float]],
    rules: PlateRules,
    near: tuple[str, str] | None = None,
) -> tuple[float, list[str]]:
    """How likely a stored read is to be wrong, for ordering a review queue, and why.

    The priority is a weighted sum of independent signals (:data:`PRIORITY_WEIGHTS`), so it is
    monotone in each: lower confidence or a larger share of disagreeing reads never lowers it.

    Args:
        text: The voted plate text.
        confidence: Its confidence in [0, 1] (clamped).
        votes: Every read of the pass as ``(text, confidence)``; empty when unknown.
        rules: The plate rules; with no formats the "fits no format" signal is skipped.
        near: ``(plate, kind)`` of a plate the caller found within one edit of ``text``, ``kind``
            being ``"watchlist"`` or ``"confirmed"``.

    Returns:
        ``(priority, reasons)``: higher means review first; reasons are short sentences for people,
        the heaviest first, e.g. ``["low confidence 0.42", "reads disagree: LS15EBC ×2, LS15E8C ×1"]``.

    Raises:
        ValueError: ``near`` has a kind other than ``"watchlist"`` or ``"confirmed"``.
    """
    text = normalize(text)
    confidence = min(1.0, max(0.0, confidence))
    signals: list[tuple[float, str]] = []

    score = PRIORITY_WEIGHTS["confidence"] * (1.0 - confidence)
    signals.append((score, f"low confidence {confidence:.2f}" if confidence < LOW_CONFIDENCE else ""))

    reads = Counter(normalize(t) for t, _ in votes)
    disagreeing = sum(n for t, n in reads.items() if t != text)
    if disagreeing:
        share = disagreeing / sum(reads.values())
        # most reads first; the voted text first among equals, then alphabetical
        ranked = sorted(reads.items(), key=lambda item: (-item[1], item[0] != text, item[0]))
        listed = ", ".join(f"{t or '(empty)'} ×{n}" for t, n in ranked[:_MAX_LISTED_READS])
        more = ", …" if len(ranked) > _MAX_LISTED_READS else ""
        signals.append((PRIORITY_WEIGHTS["disagreement"] * share, f"reads disagree: {listed}{more}"))

    if near is not None:
        plate, kind = near
        if kind not in ("watchlist", "confirmed"):
            raise ValueError(f"near kind {kind!r} must be 'watchlist' or 'confirmed'")
        signals.append((PRIORITY_WEIGHTS[f"near_{kind}"], f"one edit from {kind} plate {normalize(plate)}"))

    if rules.formats and rules.matching_format(text) is None:
        names = list(dict.fromkeys(f.name for f in rules.formats))
        listed = "/".join(names[:_MAX_LISTED_FORMATS]) + ("/…" if len(names) > _MAX_LISTED_FORMATS else "")
        signals.append((PRIORITY_WEIGHTS["no_format"], f"fits no {listed} format"))

    priority = round(sum(weight for weight, _ in signals), 4)
    reasons = [reason for _, reason in sorted(signals, key=lambda s: -s[0]) if reason]
    return priority, reasons


def probable_plate(text: str, known: Iterable[str]) -> str | None:
    """The known (confirmed) plate that ``text`` probably is: one edit away.

    Distance is plain Levenshtein on canonical text, and a look-alike difference (``8`` for ``B``)
    counts as one edit like any other. Look-alikes are not free here, unlike in the history search
    (``issc.search.fold``): stored reads already had their look-alikes fixed against the plate
    layouts when they were read, so what is left is a real misread, and a free swap would let one
    read sit "near" several confirmed plates of a fleet (``AB12CDE``, ``AB12CD8``, ...).

    Args:
        text: A read (any form).
        known: Confirmed plates (any form).

    Returns:
        The known plate one edit from ``text``; among several, the first in sorted order.
        ``None`` when ``text`` is empty or itself known, or no known plate is that close.
    """
    text = normalize(text)
    if not text:
        return None
    plates = {normalize(k) for k in known} - {""}
    if text in plates:
        return None
    close = sorted(p for p in plates if abs(len(p) - len(text)) <= 1 and levenshtein(p, text) == 1)
    return close[0] if close else None


def char_confusions(pairs: Iterable[tuple[str, str]]) -> Counter[tuple[str, str]]:
    """Which characters analysts corrected into which.

    Each ``(original, corrected)`` pair is aligned by a minimal edit script (Levenshtein, ties
    broken as rapidfuzz's ``editops`` breaks them) on canonical text.

    Args:
        pairs: ``(original_text, corrected_text)`` per reviewed event.

    Returns:
        Counts of ``(read, meant)``: substitutions ``("B", "8")``, deletions ``("X", "")`` (a
        character the read had and the plate has not) and insertions ``("", "X")``. Identical
        pairs (confirmed reads) add nothing.
    """
    counts: Counter[tuple[str, str]] = Counter()
    for original, corrected in pairs:
        a, b = normalize(original), normalize(corrected)
        if a == b:
            continue
        for op in Levenshtein.editops(a, b):
            if op.tag == "replace":
                counts[(a[op.src_pos], b[op.dest_pos])] += 1
            elif op.tag == "delete":
                counts[(a[op.src_pos], "")] += 1
            else:
                counts[("", b[op.dest_pos])] += 1
    return counts


@dataclass(frozen=True)
class LookalikeProposal:
    """A look-alike swap that past corrections argue for, with what it would have done to them.

    Attributes:
        kind: ``"letter_to_digit"`` (a letter read where the layout wants a digit) or
            ``"digit_to_letter"`` (the reverse): the :class:`PlateRules` map it goes into.
        read: The character the reader saw (``"B"``).
        meant: The character the analyst corrected it to (``"8"``).
        count: Corrections with this substitution.
        fixed: Pairs the rules with the swap read as corrected, and the rules without it did not.
        broken: Pairs (confirmed ones included) the rules got right without the swap and wrong with it.
        unchanged: Pairs the swap changes nothing for.
        still_wrong: Pairs whose result changes but is wrong before and after.
        replaces: The character the rules map ``read`` to today, if any: accepting replaces that swap.
    """

    kind: Swap
    read: str
    meant: str
    count: int
    fixed: int
    broken: int
    unchanged: int
    still_wrong: int
    replaces: str | None = None

    @property
    def net(self) -> int:
        """Reads fixed minus reads broken, in the simulation."""
        return self.fixed - self.broken

    def describe(self) -> str:
        """One line for people, e.g. ``B→8 where a digit belongs: seen 3×; fixes 3, breaks 0``."""
        where = "a digit" if self.kind == "letter_to_digit" else "a letter"
        instead = f" (instead of {self.read}→{self.replaces})" if self.replaces else ""
        return (
            f"{self.read}→{self.meant} where {where} belongs{instead}: seen {self.count}×; "
            f"fixes {self.fixed}, breaks {self.broken}"
        )


def _swap_kind(read: str, meant: str) -> Swap | None:
    """The rules map a ``read`` → ``meant`` substitution belongs in, if any."""
    if len(read) != 1 or len(meant) != 1:
        return None
    if read.isalpha() and meant.isdigit():
        return "letter_to_digit"
    if read.isdigit() and meant.isalpha():
        return "digit_to_letter"
    return None


def propose_lookalikes(
    pairs: Iterable[tuple[str, str]], rules: PlateRules, min_count: int = 2
) -> list[LookalikeProposal]:
    """Look-alike swaps the rules lack that analysts' corrections show, simulated on those corrections.

    A substitution of a letter by a digit becomes a ``letter_to_digit`` swap, a digit by a letter a
    ``digit_to_letter`` one; letter-for-letter and digit-for-digit corrections are no look-alike
    swap the rules can make, and are left out. For each candidate the rules are rebuilt with the
    swap (:func:`with_lookalikes`) and both rule sets re-read every original text
    (:meth:`PlateRules.apply`, which coerces a read into a layout): see
    :class:`LookalikeProposal` for what ``fixed``, ``broken``, ``unchanged`` and ``still_wrong`` count.

    Args:
        pairs: ``(original_text, corrected_text)`` per reviewed event; include confirmed reads
            (original equal to corrected) so that breaking one counts.
        rules: The rules in use.
        min_count: Fewest corrections showing a substitution for it to be proposed.

    Returns:
        Proposals, most useful first: by reads fixed minus broken, then by how often corrections
        show it. Harmful ones (``broken > fixed``) are kept, last, so people see why not.
    """
    norm = [(normalize(o), normalize(c)) for o, c in pairs]
    norm = [(o, c) for o, c in norm if o and c]
    current = {"letter_to_digit": rules.letter_to_digit, "digit_to_letter": rules.digit_to_letter}
    before = [rules.apply(o) for o, _ in norm]
    proposals = []
    for (read, meant), count in sorted(char_confusions(norm).items()):
        kind = _swap_kind(read, meant)
        if kind is None or count < min_count or current[kind].get(read) == meant:
            continue
        trial = with_lookalikes(rules, [(read, meant)])
        tally: Counter[str] = Counter()
        for (original, corrected), old in zip(norm, before, strict=True):
            new = trial.apply(original)
            if new == old:
                tally["unchanged"] += 1
            elif new == corrected:
                tally["fixed"] += 1
            elif old == corrected:
                tally["broken"] += 1
            else:
                tally["still_wrong"] += 1
        proposals.append(
            LookalikeProposal(
                kind,
                read,
                meant,
                count,
                fixed=tally["fixed"],
                broken=tally["broken"],
                unchanged=tally["unchanged"],
                still_wrong=tally["still_wrong"],
                replaces=current[kind].get(read),
            )
        )
    return sorted(proposals, key=lambda p: (-p.net, -p.count, p.kind, p.read, p.meant))


def with_lookalikes(rules: PlateRules, swaps: Iterable[LookalikeProposal | tuple[str, str]]) -> PlateRules:
    """``rules`` with look-alike swaps added (or, for a character already mapped, replaced).

    Args:
        rules: The rules to start from (left as they are).
        swaps: Accepted :class:`LookalikeProposal`\\ s, or ``(read, meant)`` character pairs such as
            ``("B", "8")``; a letter read for a digit goes into ``letter_to_digit``, a digit read for
            a letter into ``digit_to_letter``.

    Returns:
        New rules; every other setting is kept.

    Raises:
        ValueError: A pair is not one letter and one digit (no look-alike swap the rules can make).
    """
    maps = {"letter_to_digit": dict(rules.letter_to_digit), "digit_to_letter": dict(rules.digit_to_letter)}
    for swap in swaps:
        read, meant = (swap.read, swap.meant) if isinstance(swap, LookalikeProposal) else swap
        read, meant = normalize(read), normalize(meant)
        kind = _swap_kind(read, meant)
        if kind is None:
            raise ValueError(
                f"look-alike swap {read!r}→{meant!r} must be one letter and one digit (e.g. 'B'→'8')"
            )
        maps[kind][read] = meant
    return dataclasses.replace(
        rules,
        letter_to_digit=MappingProxyType(maps["letter_to_digit"]),
        digit_to_letter=MappingProxyType(maps["digit_to_letter"]),
    )
