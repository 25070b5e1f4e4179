"""Held-out measurement of an exported verifier: its operating threshold, and at it precision,
recall, false positive rate, AUC and box recall per source, run with onnxruntime as the live path
runs it; and the table the command prints of them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from issc.detections import box_iou
from issc.plates.locate import LocatorOptions
from issc.plates.verifier import chosen_plate_boxes, plate_boxes, standardise
from issc.train.verifier.data import Arrays

#: The operating threshold is the highest plate probability that keeps at least this share of the
#: held-out plates (a plate refused is a read lost; a sign let through still meets the text rules).
MIN_RECALL = 0.97
#: Thresholds tried for it.
THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.05, 0.96, 0.05))


def operating_threshold(label: np.ndarray, prob: np.ndarray) -> float:
    """The highest of ``THRESHOLDS`` keeping ``MIN_RECALL`` of the plates (the lowest if none)."""
    plates = prob[label > 0.5]
    ok = [t for t in THRESHOLDS if len(plates) and (plates >= t).mean() >= MIN_RECALL]
    return max(ok) if ok else THRESHOLDS[0]


def evaluate(model: Path, val: Arrays) -> tuple[float, dict[str, dict[str, float | int | None]]]:
    """The operating threshold (``operating_threshold``) and, at it, precision and recall per
    source, and box recall of plates, with the exported model run as the live path runs it
    (onnxruntime)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    probs, rel = [], []
    for i in range(0, len(val.label), 256):
        logit, box = session.run(
            None, {"window": standardise(val.crops[i : i + 256]), "features": val.feats[i : i + 256]}
        )
        probs.append(1 / (1 + np.exp(-logit.reshape(-1))))
        rel.append(box.reshape(-1, 4))
    prob = np.concatenate(probs) if probs else np.zeros(0)
    boxes = plate_boxes(val.lines, np.concatenate(rel), (1 << 20, 1 << 20)) if rel else np.zeros((0, 4))
    # what the locator reports: the line grown by its margins unless the plate clearly reaches beyond
    opts = LocatorOptions()
    size = val.lines[:, 2:] - val.lines[:, :2]
    margin = np.concatenate([size * [opts.grow_x, opts.grow_y]] * 2, axis=1) * [-1, -1, 1, 1]
    grown = val.lines + margin
    chosen = chosen_plate_boxes(val.lines, boxes, grown)
    threshold = operating_threshold(val.label, prob)
    out: dict[str, dict[str, float | int | None]] = {}
    for name in [*sorted(set(val.source)), "all"]:
        sel = np.array([name in ("all", s) for s in val.source], dtype=bool)
        y, p = val.label[sel] > 0.5, prob[sel] >= threshold
        tp, fp, fn = int((y & p).sum()), int((~y & p).sum()), int((y & ~p).sum())
        boxed = [i for i in np.flatnonzero(sel) if val.candidate[i].plate is not None]
        line_hits = sum(box_iou(val.candidate[i].line, val.candidate[i].plate) >= 0.5 for i in boxed)
        box_hits = sum(box_iou(boxes[i], val.candidate[i].plate) >= 0.5 for i in boxed)
        grown_hits = sum(box_iou(grown[i], val.candidate[i].plate) >= 0.5 for i in boxed)
        chosen_hits = sum(box_iou(chosen[i], val.candidate[i].plate) >= 0.5 for i in boxed)
        out[name] = {
            "plates": int(y.sum()),
            "others": int((~y).sum()),
            "precision": round(tp / (tp + fp), 4) if tp + fp else None,
            "recall": round(tp / (tp + fn), 4) if tp + fn else None,
            "false_positive_rate": round(fp / int((~y).sum()), 4) if (~y).sum() else None,
            "box_recall_line": round(line_hits / len(boxed), 4) if boxed else None,
            "box_recall_regressed": round(box_hits / len(boxed), 4) if boxed else None,
            "box_recall_grown": round(grown_hits / len(boxed), 4) if boxed else None,
            "box_recall_chosen": round(chosen_hits / len(boxed), 4) if boxed else None,
            "auc": _auc(y, prob[sel]),
        }
    return threshold, out


def _auc(label: np.ndarray, prob: np.ndarray) -> float | None:
    """Area under the ROC curve: the chance a plate scores above a line that is none."""
    pos, neg = prob[label], prob[~label]
    if not len(pos) or not len(neg):
        return None
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return round(float(wins) / (len(pos) * len(neg)), 4)


def print_metrics(threshold: float, metrics: dict[str, dict[str, float | int | None]]) -> None:
    """Print ``evaluate``'s figures as a table, one row per source."""
    print(f"held out, at the operating threshold {threshold} (keeps >= {MIN_RECALL:.0%} of the plates):")
    keys = (
        "precision",
        "recall",
        "false_positive_rate",
        "auc",
        "box_recall_line",
        "box_recall_regressed",
        "box_recall_grown",
        "box_recall_chosen",
    )
    print(
        f"{'source':<14}{'plates':>8}{'others':>8}{'precision':>11}{'recall':>8}{'fpr':>8}{'auc':>8}{'box_line':>10}{'box_reg':>9}{'box_grown':>11}{'box_chosen':>12}"
    )
    for name, m in metrics.items():
        cells = [m[k] for k in keys]
        widths = (11, 8, 8, 8, 10, 9, 11, 12)
        print(
            f"{name:<14}{m['plates']:>8}{m['others']:>8}"
            + "".join(f"{'-' if v is None else f'{v:.3f}':>{w}}" for v, w in zip(cells, widths, strict=True))
        )
