"""``python -m issc.train verifier``: train the plate verifier and export it to ONNX.

    python -m issc.train verifier --cache /work/data-train/verifier \\
        --source yolo:/work/data-train/uc3m-train=uc3m --source voc:/work/data-train/rl/train=robertlucian \\
        --source negatives:/work/data-train/neg=footage --source review:data/reviewed \\
        --out issc/plates/models/verifier.onnx

The command: read the options, collect the candidates of each ``--source`` (cached), split them,
train (:mod:`issc.train.verifier.fit`), export, measure the held-out split
(:mod:`issc.train.verifier.evaluate`) and write the figures with the model as ``<out>.json``; with
``--evaluate-only``, only measure the model at ``--out`` again. The package docstring
(:mod:`issc.train.verifier`) tells the whole method.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from issc.plates.locate import LocatorOptions, PlateLocator
from issc.train.candidates import Candidate, collect
from issc.train.verifier.data import build_arrays, split_of
from issc.train.verifier.evaluate import MIN_RECALL, evaluate, print_metrics
from issc.train.verifier.fit import train
from issc.train.verifier.net import export


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
        # the committed model's candidates were found with PP-OCRv6 small (its data card)
        options = LocatorOptions(
            short_side=args.short_side, upscale=False, verify=False, fast_detection=False
        )
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
        print_metrics(threshold, metrics)
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
    print_metrics(threshold, metrics)
    print(f"wrote {args.out} ({report['bytes']} bytes) and {args.out.with_suffix('.json')}")
    return 0
