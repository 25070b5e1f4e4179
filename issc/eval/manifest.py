"""The labelled data: a manifest CSV of plates read into ``Sample`` records."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from issc.plates.text import normalize


@dataclass(frozen=True)
class Sample:
    """One labelled plate: image path, text, and its box (``None``: the image is the crop)."""

    set: str
    image: Path
    text: str
    box: tuple[int, int, int, int] | None  # x, y, w, h as in the manifest


def load_manifest(path: Path, root: Path) -> list[Sample]:
    """Read ``set,image,plate_text,x,y,w,h`` or ``image,state,plate_text`` (crops) rows.

    Raises:
        ValueError: The CSV has neither layout.
    """
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        return []
    cols = set(rows[0])
    if not {"image", "plate_text"} <= cols:
        raise ValueError(f"{path}: expected columns image and plate_text, got {sorted(cols)}")
    has_box = {"x", "y", "w", "h"} <= cols
    samples = []
    for row in rows:
        box = tuple(int(float(row[k])) for k in "xywh") if has_box else None
        label = row.get("set") or row.get("state") or ""
        samples.append(Sample(label, root / row["image"], normalize(row["plate_text"]), box))  # type: ignore[arg-type]
    return samples
