"""``python -m issc.train verifier``: train the plate verifier and export it to ONNX.

    python -m issc.train verifier --cache /work/data-train/verifier \\
        --source yolo:/work/data-train/uc3m-train=uc3m --source voc:/work/data-train/rl/train=robertlucian \\
        --source negatives:/work/data-train/neg=footage --source review:data/reviewed \\
        --out issc/plates/models/verifier.onnx

Each ``--source`` is read by ``issc.train.candidates`` (the locator's text lines, marked plate or
not; cached in ``--cache``). Pictures are split by a fixed hash of their name (a clip's frames go
together): ``--val-share`` of them, and every picture of a source whose name ends in ``-val``, are
held out and only measured. The model (``VerifierNet``: four 3×3 conv blocks on the grey window,
the read's features joined before one hidden layer, two heads) learns plate / not plate (binary
cross-entropy, classes weighed equally) and the plate box as fractions of the window (smooth L1,
plates only). Training is seeded (``--seed``) and bounded (``--epochs``, ``--max-seconds``), on one
thread. It prints precision and recall per held-out source and the box recall (IoU ≥ 0.5 with the
labelled plate box) of the text line boxes, the regressed boxes, the line boxes grown by the
locator's margins and the box the locator reports (``chosen_plate_boxes``: regressed only where the
plate clearly reaches beyond the line), and writes them with the model as ``<out>.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from issc.detections import box_iou
from issc.plates.locate import LocatorOptions, PlateLocator
from issc.plates.verifier import (
    MAX_REACH_X,
    MAX_REACH_Y,
    N_FEATURES,
    WINDOW_H,
    WINDOW_W,
    box_targets,
    chosen_plate_boxes,
    plate_boxes,
    standardise,
    text_features,
    window,
    window_crop,
)
from issc.progress import progress
from issc.train.candidates import Candidate, collect, load_picture

#: The operating threshold is the highest plate probability that keeps at least this share of the
#: held-out plates (a plate refused is a read lost; a sign let through still meets the text rules).
MIN_RECALL = 0.97
#: Thresholds tried for it.
THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.05, 0.96, 0.05))


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


def augment(crops: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Photometric changes a camera makes: contrast and brightness, blur, noise, inversion."""
    x = crops.astype(np.float32)
    n = len(x)
    x = x * rng.uniform(0.5, 1.4, (n, 1, 1)) + rng.uniform(-40, 40, (n, 1, 1))
    blur = rng.random(n) < 0.3
    for i in np.flatnonzero(blur):
        x[i] = cv2.GaussianBlur(x[i], (0, 0), rng.uniform(0.5, 1.5))
    x += rng.normal(0, 1, (n, 1, 1)) * rng.uniform(0, 8, (n, 1, 1)) * rng.standard_normal(x.shape)
    invert = rng.random(n) < 0.15  # light print on dark plates and signs
    x[invert] = 255.0 - x[invert]
    return x.clip(0, 255).astype(np.uint8)


def _net(torch):
    nn = torch.nn

    def block(cin: int, cout: int) -> nn.Module:
        return nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(), nn.MaxPool2d(2)
        )

    class VerifierNet(nn.Module):
        """Grey window (1, 32, 96) + read features → plate logit and plate box (window fractions)."""

        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Sequential(block(1, 12), block(12, 24), block(24, 32), block(32, 32))
            flat = 32 * (WINDOW_H // 16) * (WINDOW_W // 16)
            self.hidden = nn.Sequential(nn.Linear(flat + N_FEATURES, 64), nn.ReLU(), nn.Dropout(0.2))
            self.cls = nn.Linear(64, 1)
            self.box = nn.Linear(64, 4)

        def forward(self, window, features):
            h = self.hidden(torch.cat([self.conv(window).flatten(1), features], dim=1))
            return self.cls(h).squeeze(1), self.box(h)

    return VerifierNet()


def train(train_set: Arrays, epochs: int, seed: int, max_seconds: float, log: bool = True):
    """Fit ``VerifierNet`` on ``train_set``; stops after ``epochs`` or ``max_seconds``."""
    import torch

    torch.manual_seed(seed)
    torch.set_num_threads(1)
    rng = np.random.default_rng(seed)
    net = _net(torch)
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-4)
    n = len(train_set.label)
    batch = 128
    steps = max(1, epochs * ((n + batch - 1) // batch))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    pos = float(train_set.label.sum())
    pos_weight = torch.tensor((n - pos) / max(pos, 1.0))
    feats = torch.from_numpy(train_set.feats)
    labels = torch.from_numpy(train_set.label)
    boxes = torch.from_numpy(np.nan_to_num(train_set.box, nan=0.0))
    has_box = torch.from_numpy(~np.isnan(train_set.box[:, 0]))
    start = time.monotonic()
    step = 0
    net.train()
    for epoch in progress(range(epochs), total=epochs, desc="train verifier", unit="epoch"):
        order = rng.permutation(n)
        total = 0.0
        for i in range(0, n, batch):
            idx = order[i : i + batch]
            x = torch.from_numpy(standardise(augment(train_set.crops[idx], rng)))
            logit, box = net(x, feats[idx])
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                logit, labels[idx], pos_weight=pos_weight
            )
            mask = has_box[idx]
            if mask.any():
                loss = loss + 4.0 * torch.nn.functional.smooth_l1_loss(box[mask], boxes[idx][mask], beta=0.05)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step < steps - 1:
                sched.step()
            step += 1
            total += float(loss.detach()) * len(idx)
        if log:
            print(
                f"  epoch {epoch + 1}/{epochs}: loss {total / n:.4f} ({time.monotonic() - start:.0f} s)",
                flush=True,
            )
        if time.monotonic() - start > max_seconds:
            if log:
                print(f"  stopped after {max_seconds:.0f} s (--max-seconds)", flush=True)
            break
    net.eval()
    return net


def export(net, path: Path) -> None:
    """Write ``net`` as ONNX (inputs ``window`` (n, 1, H, W), ``features``; outputs logit, box)."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        net,
        (torch.zeros(1, 1, WINDOW_H, WINDOW_W), torch.zeros(1, N_FEATURES)),
        str(path),
        input_names=["window", "features"],
        output_names=["logit", "box"],
        dynamic_axes={"window": {0: "n"}, "features": {0: "n"}, "logit": {0: "n"}, "box": {0: "n"}},
        opset_version=17,
        dynamo=False,
    )


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m issc.train verifier", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--source",
        action="append",
        required=True,
        help="kind:DIR[=name], kind one of yolo, voc, negatives, review (issc.train.candidates); repeat",
    )
    parser.add_argument(
        "--cache", type=Path, required=True, help="folder for the candidate cache (JSON lines)"
    )
    parser.add_argument(
        "--out", type=Path, required=True, help="ONNX model to write (metrics go to <out>.json)"
    )
    parser.add_argument("--limit", type=int, default=0, help="read at most N pictures per source (0: all)")
    parser.add_argument(
        "--val-share", type=float, default=0.2, help="share of pictures held out by name hash"
    )
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--max-seconds", type=float, default=300.0, help="stop training after this long")
    parser.add_argument("--copies", type=int, default=4, help="jittered windows per training candidate")
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument(
        "--evaluate-only",
        action="store_true",
        help="measure the model at --out on the held-out split again (its threshold and <out>.json), no training",
    )
    parser.add_argument(
        "--cached-only",
        action="store_true",
        help="use only pictures already in --cache (no OCR: quick retraining)",
    )
    parser.add_argument(
        "--short-side", type=int, default=480, help="the locator's search scale (LocatorOptions)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m issc.train verifier``."""
    args = build_parser().parse_args(argv)
    random.seed(args.seed)
    rng = np.random.default_rng(args.seed)
    from issc.plates.ocr import get_engine

    locator = None
    if not args.cached_only:
        options = LocatorOptions(short_side=args.short_side, upscale=False, verify=False)
        locator = PlateLocator(get_engine("rapidocr"), options=options)
    args.cache.mkdir(parents=True, exist_ok=True)
    candidates: list[Candidate] = []
    for spec in args.source:
        name = spec.split("=", 1)[1] if "=" in spec else Path(spec.split(":", 1)[1]).name
        found = collect(spec, locator, args.cache / f"{name}.jsonl", args.limit)
        print(f"{spec}: {len(found)} lines, {sum(c.label for c in found)} plates", flush=True)
        candidates += found
    parts: dict[str, list[Candidate]] = {"train": [], "val": []}
    for c in candidates:
        parts[split_of(c.image, c.source, args.val_share)].append(c)
    val = build_arrays(parts["val"], 1, rng)
    if args.evaluate_only:
        threshold, metrics = evaluate(args.out, val)
        card = args.out.with_suffix(".json")
        report = json.loads(card.read_text()) if card.exists() else {}
        report |= {"threshold": threshold, "min_recall": MIN_RECALL, "held_out": metrics}
        card.write_text(json.dumps(report, indent=2) + "\n")
        _print_metrics(threshold, metrics)
        return 0
    train_set = build_arrays(parts["train"], args.copies, rng)
    print(
        f"train: {len(train_set.label)} windows ({int(train_set.label.sum())} plates); val: {len(val.label)}"
    )
    if not len(train_set.label) or train_set.label.min() == train_set.label.max():
        print("training needs plates and other lines; give more sources")
        return 2
    start = time.monotonic()
    net = train(train_set, args.epochs, args.seed, args.max_seconds)
    seconds = time.monotonic() - start
    export(net, args.out)
    threshold, metrics = evaluate(args.out, val) if len(val.label) else (0.5, {})
    report = {
        "command": "python -m issc.train verifier " + " ".join(argv if argv is not None else []),
        "seed": args.seed,
        "train_windows": len(train_set.label),
        "train_plates": int(train_set.label.sum()),
        "train_seconds": round(seconds, 1),
        "threshold": threshold,
        "min_recall": MIN_RECALL,
        "held_out": metrics,
        "bytes": args.out.stat().st_size,
    }
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    _print_metrics(threshold, metrics)
    print(f"wrote {args.out} ({report['bytes']} bytes) and {args.out.with_suffix('.json')}")
    return 0


def _print_metrics(threshold: float, metrics: dict[str, dict[str, float | int | None]]) -> None:
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
