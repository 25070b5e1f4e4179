"""Real plate crops for ``python -m issc.train reader``: labelled folders, the held-out split by a
hash of the file name, and each crop cut to its text line by PP-OCR's detector (as the live reader
cuts it), cached per folder."""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from issc.plates.text import normalize, similarity

#: Share of the real crops held out (by a hash of the file name) for the metrics.
VAL_SHARE = 0.1
#: A crop's line is kept for training only when PP-OCR's read of it is this close to the label.
MIN_LINE_SIMILARITY = 0.6
#: Label in a file name: ``..._CC_012581_DXW7358.JPG_...`` or ``31_KRH5418.jpg``.
_NAMED = re.compile(r"^(?:#+_CC_\d+_|\d+_)([A-Z0-9]{5,8})\.")


@dataclass(frozen=True)
class LabelledCrop:
    """One real plate crop and its text."""

    path: Path
    text: str
    val_share: float = VAL_SHARE

    @property
    def held_out(self) -> bool:
        """Whether the fixed hash of the file name puts it in the validation split: SHA-1's first
        byte for the usual 10 %; SHA-256's first byte's parity for a half (``--crops-val-share
        0.5``; the project's US crops are themselves a low-SHA-1 subset, so SHA-1 would not split
        them)."""
        if self.val_share == 0.5:
            return hashlib.sha256(self.path.name.encode()).digest()[0] % 2 == 0
        digest = hashlib.sha1(self.path.name.encode()).digest()
        return digest[0] < 256 * self.val_share


def named_crops(folder: Path) -> list[LabelledCrop]:
    """Crops whose file name holds the text (``_NAMED``); others are skipped."""
    out = []
    for path in sorted(folder.iterdir()):
        m = _NAMED.match(path.name)
        if m:
            out.append(LabelledCrop(path, m.group(1)))
    return out


def manifest_crops(folder: Path, val_share: float = VAL_SHARE) -> list[LabelledCrop]:
    """Crops listed in ``folder/labels.csv`` (``image,state,plate_text``, the crops layout), with
    ``val_share`` of them held out by the hash of the file name.

    Raises:
        FileNotFoundError: No ``labels.csv`` in ``folder``.
    """
    labels = folder / "labels.csv"
    if not labels.is_file():
        raise FileNotFoundError(f"{folder} has no labels.csv (expected image,state,plate_text rows)")
    with labels.open(newline="") as fh:
        return [
            LabelledCrop(folder / row["image"], normalize(row["plate_text"]), val_share)
            for row in csv.DictReader(fh)
            if normalize(row.get("plate_text", ""))
        ]


def excluded_texts(manifests: Iterable[Path]) -> set[str]:
    """Plate texts of evaluation manifests (any CSV with a ``plate_text`` column)."""
    out: set[str] = set()
    for path in manifests:
        with path.open(newline="") as fh:
            out |= {normalize(row["plate_text"]) for row in csv.DictReader(fh)}
    return out


def cut_line(crop: np.ndarray, text: str) -> np.ndarray | None:
    """The line of ``crop`` (a plate, BGR) that PP-OCR reads closest to ``text``, cut as the live
    reader cuts it; ``None`` when no line reads close enough (``MIN_LINE_SIMILARITY``)."""
    from rapidocr.utils.process_img import get_rotate_crop_image

    from issc.plates.ocr import get_engine
    from issc.plates.ocr.reader import PlateReader

    reader = PlateReader(get_engine("rapidocr"))
    image = reader.prepare(crop)
    best, best_sim = None, MIN_LINE_SIMILARITY
    for line in reader.engine.lines(image):
        sim = similarity(normalize(line.text), text)
        if sim >= best_sim:
            best, best_sim = line, sim
    if best is None:
        return None
    return get_rotate_crop_image(image, best.polygon.astype(np.float32).copy())


def real_lines(crops: Sequence[LabelledCrop], work: Path) -> list[tuple[np.ndarray, str, bool]]:
    """``(grey line, text, held_out)`` of each crop whose line is found; cut once, cached in ``work``."""
    key = hashlib.sha1("\n".join(f"{c.path.resolve()}:{c.text}" for c in crops).encode()).hexdigest()[:16]
    cache = work / f"lines-{key}.npz"
    if cache.is_file():
        data = np.load(cache, allow_pickle=True)
        return list(data["lines"])
    out = []
    for n, c in enumerate(crops):
        image = cv2.imread(str(c.path))
        if image is None:
            continue
        line = cut_line(image, c.text)
        if line is not None:
            out.append((cv2.cvtColor(line, cv2.COLOR_BGR2GRAY), c.text, c.held_out))
        if n % 200 == 0:
            print(f"  cut {n}/{len(crops)} crops, {len(out)} lines", flush=True)
    work.mkdir(parents=True, exist_ok=True)
    arr = np.empty(len(out), dtype=object)
    arr[:] = out
    np.savez(cache, lines=arr)
    return out
