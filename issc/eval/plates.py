"""``python -m issc.eval plates``: score plate finding and reading on a manifest and print the table."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace

from issc.eval.confusions import confusion_line, confusions
from issc.eval.manifest import load_manifest
from issc.eval.metrics import by_height, miss_counts, summarise
from issc.eval.sample import SampleResult, evaluate_sample
from issc.plates.locate import LocatorOptions, PlateLocator
from issc.plates.ocr import get_engine
from issc.plates.ocr.reader import PlateReader
from issc.plates.ocr.second import second_opinion_for
from issc.plates.regions import region_preset
from issc.progress import progress


def _fmt(value: float | int | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def cmd_plates(args: argparse.Namespace) -> int:
    samples = load_manifest(args.manifest, args.root)
    if args.limit:
        samples = samples[:: max(1, len(samples) // args.limit)][: args.limit]
    region = region_preset(args.region)
    rules = region.rules(o_is_zero=True if args.o_is_zero else None)
    second = second_opinion_for(args.engine) if args.second_opinion else None
    reader = PlateReader(get_engine(args.engine), args.preprocess, args.min_conf, rules, second=second)
    options = replace(
        LocatorOptions(), grow_y=region.plate_grow_y, fast_detection=args.detect_model == "fast"
    )
    if args.live_short_side:
        options = replace(options, short_side=args.live_short_side, upscale=False)
    locator = PlateLocator(reader.engine, rules, options, second=second)
    crops = args.crops or any(s.box is None for s in samples)
    results = []
    for sample in progress(samples, desc="plates", unit="image", json_output=args.json):
        result = evaluate_sample(sample, locator, reader, crops)
        results.append(result)
        if args.verbose and result.reason is not None:
            ranked = ""
            if not result.first and result.first_read and result.first_read != result.read:
                ranked = f" (ranked first: {result.first_read})"
            print(
                f"  miss {sample.image.name}: want {sample.text} got {result.read or '-'} "
                f"found={result.found} reason={result.reason}{ranked}"
            )
    groups: dict[str, list[SampleResult]] = {}
    for r in results:
        groups.setdefault(r.sample.set if not crops else "crops", []).append(r)
    header = f"{'set':<8}{'images':>8}{'box_recall':>12}{'exact':>8}{'exact_o0':>10}{'char_acc':>10}{'ms_median':>11}"
    print(f"engine={reader.name} region={args.region} mode={'crops' if crops else 'whole images'}")
    print(header)
    rows = [*sorted(groups.items()), ("all", results)] if len(groups) > 1 else [("all", results)]
    for name, group in rows:
        m = summarise(group, crops)
        print(
            f"{name:<8}{m['images']:>8}{_fmt(m['box_recall']):>12}{_fmt(m['exact']):>8}{_fmt(m['exact_o0']):>10}"
            f"{_fmt(m['char_acc']):>10}{_fmt(m['ms_median']):>11}"
        )
    misses = miss_counts(results)
    print("misses: " + ", ".join(f"{reason} {n}" for reason, n in misses.items()))
    table = confusions((r.sample.text, r.read) for r in results)
    print("confusions (truth→read): " + confusion_line(table))
    if args.json:
        totals = {
            **summarise(results, crops),
            "by_height": by_height(results, crops),
            "misses": misses,
            "confusions": table,
        }
        print(json.dumps(totals))
    return 0
