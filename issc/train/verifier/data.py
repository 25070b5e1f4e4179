"""The verifier's data: the held-out split by picture, and candidates cut into model inputs.

Each candidate (a text line the locator found, marked plate or not; :mod:`issc.train.candidates`)
becomes a grey window around its line, the read's features and, for plates, the plate box as its
reach beyond the line; training candidates are repeated with jittered line boxes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from issc.plates.verifier import (
    MAX_REACH_X,
    MAX_REACH_Y,
    N_FEATURES,
    WINDOW_H,
    WINDOW_W,
    box_targets,
    text_features,
    window,
    window_crop,
)
from issc.train.candidates import Candidate, load_picture


@dataclass
class Arrays:
    """Model inputs and targets of a set of candidates (one row per candidate and jitter copy)."""

    crops: np.ndarray  # (n, H, W) uint8
    feats: np.ndarray  # (n, N_FEATURES) float32
    label: np.ndarray  # (n,) float32
    box: np.ndarray  # (n, 4) float32: the plate's reach beyond the line (box_targets); nan when unknown
    lines: np.ndarray  # (n, 4) float64: the (jittered) line boxes, pixels
    wins: np.ndarray  # (n, 4) float64: the windows, pixels
    source: list[str]
    candidate: list[Candidate]


def split_of(image: str, source: str, val_share: float) -> str:
    """``"val"`` or ``"train"`` for a picture: by a fixed hash of its name (a clip's frames go
    together); every picture of a source named ``*-val`` is held out."""
    if source.endswith("-val"):
        return "val"
    key = image.split("#f")[0].rsplit("/", 1)[-1]
    digest = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16)
    return "val" if digest / 0xFFFFFFFF < val_share else "train"


def jittered(line: Sequence[float], rng: np.random.Generator, amount: float) -> tuple[float, ...]:
    """``line`` with each edge moved at random (``amount`` × the line's height, a third of that
    sideways in widths): the detector's boxes vary that much from frame to frame."""
    x0, y0, x1, y1 = (float(v) for v in line)
    h, w = y1 - y0, x1 - x0
    dy = rng.normal(0.0, amount * h, 2)
    dx = rng.normal(0.0, amount * h, 2) + rng.normal(0.0, amount / 3 * w, 2)
    out = (x0 + dx[0], y0 + dy[0], x1 + dx[1], y1 + dy[1])
    return out if out[2] - out[0] > 2 and out[3] - out[1] > 2 else (x0, y0, x1, y1)


def build_arrays(
    candidates: list[Candidate], copies: int, rng: np.random.Generator, jitter: float = 0.08
) -> Arrays:
    """Cut each candidate's window from its picture (``copies`` times, jittered after the first)."""
    by_image: dict[str, list[Candidate]] = {}
    for c in candidates:
        by_image.setdefault(c.image, []).append(c)
    crops, feats, labels, boxes, wins, lines, sources, kept = [], [], [], [], [], [], [], []
    for ref, group in by_image.items():
        image = load_picture(ref)
        if image is None:
            continue
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        for c in group:
            for k in range(copies):
                line = c.line if k == 0 else jittered(c.line, rng, jitter)
                win = window(line)
                crops.append(window_crop(grey, win))
                feats.append(text_features(c.text, c.conf, line, grey))
                labels.append(float(c.label))
                wins.append(win)
                lines.append(line)
                if c.plate is not None:
                    reach = box_targets(np.array([line]), np.array([c.plate]))[0]
                    reach[[0, 2]] = reach[[0, 2]].clip(-MAX_REACH_X, MAX_REACH_X)
                    reach[[1, 3]] = reach[[1, 3]].clip(-0.3, MAX_REACH_Y)
                    boxes.append(reach.tolist())
                else:
                    boxes.append([np.nan] * 4)
                sources.append(c.source.removesuffix("-val"))
                kept.append(c)
    return Arrays(
        crops=np.array(crops, dtype=np.uint8).reshape(-1, WINDOW_H, WINDOW_W),
        feats=np.array(feats, dtype=np.float32).reshape(-1, N_FEATURES),
        label=np.array(labels, dtype=np.float32),
        box=np.array(boxes, dtype=np.float32).reshape(-1, 4),
        lines=np.array(lines, dtype=np.float64).reshape(-1, 4),
        wins=np.array(wins, dtype=np.float64).reshape(-1, 4),
        source=sources,
        candidate=kept,
    )
