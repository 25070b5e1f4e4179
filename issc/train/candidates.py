"""Candidate text lines of labelled pictures: what the plate locator proposes, marked plate or not.

The verifier learns from the locator's own proposals: every plate-shaped text line that
``PlateLocator.text_lines`` finds and reads in a picture. A line is a **plate** when it lies on a
labelled plate box (most of the line inside the box, at least ``MIN_ROW_SHARE`` of the plate's
height tall, so a plate's own lesser print is not), **not a plate** when it lies outside every box
(badges, stickers, dealer frames, signs, dates), and left out when it is neither (a line half on a
plate). Plate lines keep their plate's box: the box regression learns from it.

Sources, one reader each:

* ``yolo:DIR``: ``DIR/images/*.jpg`` with ``DIR/labels/<stem>.txt`` (``class cx cy w h``,
  fractions of the picture), e.g. UC3M-LP's ``LP/`` folders;
* ``voc:DIR``: ``DIR/images/*`` with ``DIR/annots/<stem>.xml`` (Pascal VOC boxes), e.g.
  RobertLucian's ``dataset/train``;
* ``negatives:DIR``: pictures or clips without plates (every line is a negative); clips give
  ``FRAMES_PER_CLIP`` evenly spaced frames;
* ``synthetic:DIR``: ``issc.train.synth`` plates and signs pasted into the pictures of ``DIR``
  (``limit`` pictures, 300 by default; written beside the cache, seeded by their index);
* ``drawn:DIR``: the same pasted into the pictures of ``DIR`` (``limit`` pictures, 500 by
  default), without the OCR: each line is where its text was drawn (its box grown by a random
  margin, as the detector's boxes are), read as drawn; registration rows are plates, everything
  else (state names, slogans, stickers, signs, badges, dates) is not. Cheap: thousands a minute;
* ``review:DIR``: a ``python -m issc.review export`` folder (``labels.csv``: ``image,state,
  plate_text``, each image a padded plate crop): lines that read like the confirmed text are
  plates (no box to regress to); other lines are left out.

Reading pictures is slow (the OCR runs on each), so candidates are cached as one JSON line per
picture (``cache``) and a second run only reads what is new.
"""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from issc.plates.locate import PlateLocator
from issc.plates.text import normalize, similarity

#: A line is a plate's registration when this share of its box lies inside the plate box ...
MIN_INSIDE = 0.6
#: ... and it is at least this share of the plate's height tall (stacked rows of two-line plates are
#: about 0.4; state names, slogans and stickers on a plate less than 0.25).
MIN_ROW_SHARE = 0.3
#: A line with more than this share of its box on a plate, not a registration, is left out.
MAX_STRAY = 0.15
#: Frames taken from each clip of a ``negatives:`` source.
FRAMES_PER_CLIP = 3
#: Pictures a ``synthetic:`` source makes when no limit is given.
SYNTHETIC_COUNT = 300
#: Pictures a ``drawn:`` source makes when no limit is given.
DRAWN_COUNT = 500
#: Review crops: a line whose normalised text is at least this similar to the label is the plate.
REVIEW_SIMILARITY = 0.6

_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}
_CLIP_SUFFIXES = {".mp4", ".avi", ".mkv", ".mov"}


@dataclass(frozen=True)
class Candidate:
    """One text line proposed by the locator in a labelled picture.

    Attributes:
        source: The source's name (``uc3m``, ``robertlucian``, ``negatives``, ``review``, ...).
        image: Path of the picture (or ``clip.mp4#frame`` for a clip's frame).
        line: The line's box, xyxy pixels.
        text: The line's raw read.
        conf: The read's confidence.
        label: 1 plate, 0 not a plate.
        plate: The plate box the line belongs to (xyxy), if known.
    """

    source: str
    image: str
    line: tuple[float, float, float, float]
    text: str
    conf: float
    label: int
    plate: tuple[float, float, float, float] | None = None


def load_picture(ref: str) -> np.ndarray | None:
    """The BGR picture at ``ref``: a file path, or ``clip#frame`` for a clip's frame."""
    if "#f" in ref and Path(ref.split("#f")[0]).suffix.lower() in _CLIP_SUFFIXES:
        path, frame = ref.rsplit("#f", 1)
        cap = cv2.VideoCapture(path)
        cap.set(cv2.CAP_PROP_POS_FRAMES, int(frame))
        ok, image = cap.read()
        cap.release()
        return image if ok else None
    return cv2.imread(ref)


def label_lines(
    lines: list[tuple[tuple[float, float, float, float], str, float]],
    plates: list[tuple[float, float, float, float]],
    source: str,
    image: str,
) -> list[Candidate]:
    """Mark each line (box, text, confidence) plate, not plate, or leave it out (see module doc)."""
    out = []
    for box, text, conf in lines:
        x0, y0, x1, y1 = box
        area = max(1e-6, (x1 - x0) * (y1 - y0))
        best, best_share = None, 0.0
        for plate in plates:
            px0, py0, px1, py1 = plate
            inter = max(0.0, min(x1, px1) - max(x0, px0)) * max(0.0, min(y1, py1) - max(y0, py0))
            share = inter / area
            if share > best_share:
                best, best_share = plate, share
        if best is not None and best_share >= MIN_INSIDE and (y1 - y0) >= MIN_ROW_SHARE * (best[3] - best[1]):
            out.append(Candidate(source, image, box, text, conf, 1, best))
        elif best_share <= MAX_STRAY:
            out.append(Candidate(source, image, box, text, conf, 0, None))
    return out


def _yolo_items(folder: Path) -> Iterator[tuple[Path, list[tuple[float, float, float, float]] | None]]:
    for path in sorted((folder / "images").iterdir()):
        label = folder / "labels" / f"{path.stem}.txt"
        if path.suffix.lower() not in _IMAGE_SUFFIXES or not label.exists():
            continue
        image = cv2.imread(str(path))
        if image is None:
            continue
        h, w = image.shape[:2]
        boxes = []
        for row in label.read_text().split("\n"):
            parts = row.split()
            if len(parts) == 5:
                cx, cy, bw, bh = (float(v) for v in parts[1:])
                boxes.append(((cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h))
        yield path, boxes


def _voc_items(folder: Path) -> Iterator[tuple[Path, list[tuple[float, float, float, float]] | None]]:
    for path in sorted((folder / "images").iterdir()):
        annot = folder / "annots" / f"{path.stem}.xml"
        if path.suffix.lower() not in _IMAGE_SUFFIXES or not annot.exists():
            continue
        boxes = []
        for box in ET.parse(annot).getroot().iter("bndbox"):
            boxes.append(tuple(float(box.findtext(k) or 0) for k in ("xmin", "ymin", "xmax", "ymax")))
        yield path, boxes  # type: ignore[misc]


def _negative_items(folder: Path) -> Iterator[tuple[str, None]]:
    for path in sorted(folder.iterdir()):
        suffix = path.suffix.lower()
        if suffix in _IMAGE_SUFFIXES:
            yield str(path), None
        elif suffix in _CLIP_SUFFIXES:
            cap = cv2.VideoCapture(str(path))
            n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
            cap.release()
            for k in range(FRAMES_PER_CLIP):
                yield f"{path}#f{(2 * k + 1) * n // (2 * FRAMES_PER_CLIP)}", None


def review_labels(folder: Path) -> dict[str, str]:
    """Image name → confirmed text of a review export's ``labels.csv``."""
    with (folder / "labels.csv").open(newline="") as fh:
        return {row["image"]: normalize(row["plate_text"]) for row in csv.DictReader(fh)}


def parse_source(spec: str) -> tuple[str, str, Path]:
    """``kind:DIR`` or ``kind:DIR=name`` → (kind, name, folder).

    Raises:
        ValueError: The kind is unknown or the folder missing.
    """
    kind, _, rest = spec.partition(":")
    folder, _, name = rest.partition("=")
    if kind not in ("yolo", "voc", "negatives", "synthetic", "drawn", "review"):
        raise ValueError(
            f"source {spec!r}: expected yolo:DIR, voc:DIR, negatives:DIR, synthetic:DIR, drawn:DIR or review:DIR"
        )
    path = Path(folder)
    if not path.is_dir():
        raise ValueError(f"source {spec!r}: {path} is not a folder")
    return kind, name or path.name, path


def collect(
    spec: str, locator: PlateLocator | None, cache: Path, limit: int = 0, log: bool = True
) -> list[Candidate]:
    """The candidates of one source (``parse_source``), read from and added to ``cache`` (JSONL).

    Args:
        spec: ``kind:DIR[=name]``.
        locator: Proposes the lines (its ``text_lines``); ``None``: only pictures already cached.
        cache: JSON lines, one per picture read (``{"image", "source", "candidates"}``); pictures of
            this source already in any ``*.jsonl`` beside it are not read again.
        limit: Read at most this many pictures of the source, evenly spaced (0: all).
        log: Print progress every 50 pictures.
    """
    kind, name, folder = parse_source(spec)
    done: dict[str, list[dict]] = {}
    for path in sorted(cache.parent.glob("*.jsonl")) if cache.parent.exists() else []:
        for row in path.read_text().splitlines():
            item = json.loads(row)
            if item["source"] == name:
                done[item["image"]] = item["candidates"]
    items: list[tuple[str, list | None]]
    if kind == "yolo":
        items = [(str(p), b) for p, b in _yolo_items(folder)]
    elif kind == "voc":
        items = [(str(p), b) for p, b in _voc_items(folder)]
    elif kind == "negatives":
        items = list(_negative_items(folder))
    elif kind in ("synthetic", "drawn"):
        backgrounds = [
            str(p) for p, _ in _negative_items(folder) if Path(p).suffix.lower() in _IMAGE_SUFFIXES
        ]
        out_dir = cache.parent / kind / name
        count = limit or (SYNTHETIC_COUNT if kind == "synthetic" else DRAWN_COUNT)
        items = [
            (str(out_dir / f"{i:05d}.jpg"), [backgrounds[i % len(backgrounds)], i]) for i in range(count)
        ]
        limit = 0
    else:
        labels = review_labels(folder)
        items = [(str(folder / image), [text]) for image, text in labels.items()]
    if limit and len(items) > limit:
        items = [items[i * len(items) // limit] for i in range(limit)]
    out: list[Candidate] = []
    with cache.open("a") as fh:
        for n, (ref, boxes) in enumerate(items):
            if ref not in done:
                if locator is None and kind != "drawn":
                    continue
                found = _read(ref, kind, boxes, locator, name)
                done[ref] = [asdict(c) for c in found]
                fh.write(json.dumps({"image": ref, "source": name, "candidates": done[ref]}) + "\n")
                fh.flush()
                if log and n % 50 == 0:
                    print(f"  {name}: {n}/{len(items)} pictures read", flush=True)
            out += [_candidate(c) for c in done[ref]]
    return out


def _candidate(row: dict) -> Candidate:
    plate = row.get("plate")
    return Candidate(
        row["source"],
        row["image"],
        tuple(row["line"]),
        row["text"],
        float(row["conf"]),  # type: ignore[arg-type]
        int(row["label"]),
        tuple(plate) if plate else None,  # type: ignore[arg-type]
    )


def _read(
    ref: str, kind: str, boxes: list | None, locator: PlateLocator | None, name: str
) -> list[Candidate]:
    if kind == "drawn":
        return _read_drawn(ref, boxes, name)
    if locator is None:
        return []
    if kind == "synthetic":
        return _read_synthetic(ref, boxes, locator, name)
    image = load_picture(ref)
    if image is None:
        return []
    lines = [
        (tuple(round(v, 1) for v in ln.xyxy), ln.text, round(float(ln.confidence), 4))
        for ln in locator.text_lines(image)
        if len(normalize(ln.text)) >= 2
    ]
    if kind == "review":
        truth = str(boxes[0]) if boxes else ""
        return [
            Candidate(name, ref, box, text, conf, 1, None)  # type: ignore[arg-type]
            for box, text, conf in lines
            if similarity(normalize(text), truth) >= REVIEW_SIMILARITY
        ]
    near: list[tuple[tuple[float, float, float, float], str, float]] = []
    for plate in boxes or []:
        near += _around_plate(image, plate, locator)
    lines = [ln for ln in lines if not any(_iou(ln[0], other[0]) >= 0.3 for other in near)] + near
    return label_lines(lines, list(boxes or []), name, ref)  # type: ignore[arg-type]


def _read_synthetic(ref: str, spec: list | None, locator: PlateLocator, name: str) -> list[Candidate]:
    """Make synthetic picture ``ref`` (background, seed in ``spec``) and its candidates: the lines
    found around what was pasted (the rest of the picture is a real one's, read elsewhere)."""
    from issc.train.synth import synthesise

    background = cv2.imread(str(spec[0])) if spec else None
    if background is None:
        return []
    pasted = synthesise(background, int(spec[1]))  # type: ignore[index]
    Path(ref).parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(ref, pasted.image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    lines: list = []
    for box in [*pasted.plates, *pasted.signs]:
        found = _around_plate(pasted.image, box, locator)
        lines += [ln for ln in found if not any(_iou(ln[0], other[0]) >= 0.5 for other in lines)]
    return label_lines(lines, [tuple(map(float, b)) for b in pasted.plates], name, ref)


def _read_drawn(ref: str, spec: list | None, name: str) -> list[Candidate]:
    """Make drawn picture ``ref`` (background, seed in ``spec``) and its lines, without OCR."""
    from issc.train.synth import synthesise

    background = cv2.imread(str(spec[0])) if spec else None
    if background is None:
        return []
    seed = int(spec[1])  # type: ignore[index]
    pasted = synthesise(background, seed)
    Path(ref).parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(ref, pasted.image, [cv2.IMWRITE_JPEG_QUALITY, 92])
    rng = np.random.default_rng(seed + 1_000_003)
    out = []
    for (x0, y0, x1, y1), text, label in pasted.lines:
        h = y1 - y0
        if h < 4 or len(normalize(text)) < 2:
            continue
        my, mx = rng.uniform(0.05, 0.3, 2) * h, rng.uniform(0.0, 0.35, 2) * h
        box = (round(x0 - mx[0], 1), round(y0 - my[0], 1), round(x1 + mx[1], 1), round(y1 + my[1], 1))
        plate = None
        if label:
            plate = max(pasted.plates, key=lambda p: _iou(p, (x0, y0, x1, y1)))
        out.append(Candidate(name, ref, box, text, round(float(rng.uniform(0.55, 1.0)), 4), label, plate))
    return out


#: Around a labelled plate, text is detected again in a window scaled so the plate is this tall.
PLATE_HEIGHT = 48


def _around_plate(
    image: np.ndarray, plate: tuple[float, float, float, float], locator: PlateLocator
) -> list[tuple[tuple[float, float, float, float], str, float]]:
    """The text lines in a window around a labelled plate, detected with the plate scaled to
    ``PLATE_HEIGHT`` pixels (small plates in small pictures are missed at the search's scale),
    in the picture's pixels."""
    h, w = image.shape[:2]
    px0, py0, px1, py1 = plate
    ph, pw = max(1.0, py1 - py0), max(1.0, px1 - px0)
    x0, y0 = int(max(0, px0 - 0.3 * pw - ph)), int(max(0, py0 - ph))
    x1, y1 = int(min(w, px1 + 0.3 * pw + ph)), int(min(h, py1 + ph))
    if x1 - x0 < 8 or y1 - y0 < 8:
        return []
    scale = float(np.clip(PLATE_HEIGHT / ph, 1.0, 4.0))
    crop = cv2.resize(image[y0:y1, x0:x1], None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    polygons = [p for p in locator.engine.detect(crop) if locator._plate_shaped(p)]
    out = []
    for ln in locator.engine.read_lines(crop, polygons):
        if len(normalize(ln.text)) < 2:
            continue
        bx0, by0, bx1, by1 = ln.xyxy
        box = (bx0 / scale + x0, by0 / scale + y0, bx1 / scale + x0, by1 / scale + y0)
        out.append((tuple(round(v, 1) for v in box), ln.text, round(float(ln.confidence), 4)))
    return out  # type: ignore[return-value]


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0
