"""Totals over many samples: recall, exact reads, character accuracy, time, by height and by miss."""

from __future__ import annotations

import statistics

from issc.eval.sample import MISS_REASONS, SampleResult, char_accuracy

#: Labelled plate height bands (pixels) of ``--json``'s ``by_height``: (key, lowest, highest).
HEIGHT_BANDS = (("lt20", 0, 19), ("20to40", 20, 40), ("gt40", 41, None))


def summarise(results: list[SampleResult], crops: bool) -> dict[str, float | int | None]:
    """The metrics over ``results``: images, box_recall, first_recall (the best-ranked box is the
    labelled plate), exact, exact_o0, char_acc, ms_median."""
    n = len(results)
    if n == 0:
        return {
            "images": 0,
            "box_recall": None,
            "first_recall": None,
            "exact": None,
            "exact_o0": None,
            "char_acc": None,
            "ms_median": None,
        }
    return {
        "images": n,
        "box_recall": None if crops else round(sum(r.found for r in results) / n, 4),
        "first_recall": None if crops else round(sum(bool(r.first) for r in results) / n, 4),
        "exact": round(sum(r.read == r.sample.text for r in results) / n, 4),
        "exact_o0": round(sum(_o0(r.read) == _o0(r.sample.text) for r in results) / n, 4),
        "char_acc": round(sum(char_accuracy(r.sample.text, r.read) for r in results) / n, 4),
        "ms_median": round(statistics.median(r.ms for r in results), 1),
    }


def by_height(results: list[SampleResult], crops: bool) -> dict[str, dict[str, float | int | None]]:
    """``summarise`` per plate height band (``HEIGHT_BANDS``)."""
    return {
        key: summarise([r for r in results if low <= r.height and (high is None or r.height <= high)], crops)
        for key, low, high in HEIGHT_BANDS
    }


def miss_counts(results: list[SampleResult]) -> dict[str, int]:
    """How many misses had each reason (``MISS_REASONS``)."""
    return {reason: sum(r.reason == reason for r in results) for reason in MISS_REASONS}


def _o0(text: str) -> str:
    """Fold O and 0 together: many plates (Slovak among them) print both with one glyph."""
    return text.replace("O", "0")
