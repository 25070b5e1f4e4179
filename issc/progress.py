"""Progress bars for long commands (evaluation, export, benchmarks, training): tqdm on stderr, only
when stderr is a terminal and the command does not print JSON for a machine (``--json``)."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def wanted(json_output: bool = False) -> bool:
    """Whether a bar should show: stderr is a terminal and the output is not JSON."""
    try:
        return not json_output and sys.stderr.isatty()
    except (AttributeError, ValueError):  # stderr replaced or closed
        return False


def progress(
    items: Iterable[T],
    *,
    total: int | None = None,
    desc: str = "",
    unit: str = "it",
    json_output: bool = False,
) -> Iterator[T]:
    """``items`` with a tqdm bar on stderr (see :func:`wanted`); the bare iterator otherwise."""
    if not wanted(json_output):
        yield from items
        return
    from tqdm import tqdm

    with tqdm(
        items, total=total, desc=desc, unit=unit, file=sys.stderr, leave=False, dynamic_ncols=True
    ) as bar:
        yield from bar
