"""``python -m issc.bench scale``: 1, 2, 4, 8, 16 cameras of 640×360 clips with the default detector:
published fps per camera, detections per second, CPU% and RSS."""

from __future__ import annotations

import argparse

from issc.bench.common import print_json, print_table
from issc.bench.live import run
from issc.progress import progress

CLIPS_640x360 = [
    "o4n_intersection_cars_pedestrians.mp4",
    "aiguy_tokyo_street_pedestrians.mp4",
    "o4n_overhead_street_traffic.mp4",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--counts", default="1,2,4,8,16", help="camera counts to run")
    parser.add_argument("--seconds", type=float, default=15.0, help="measurement window per count")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds before measuring")
    parser.add_argument("--detector", default="local", help="DETECTOR setting")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")


def main(args: argparse.Namespace) -> int:
    results = []
    counts = [int(v) for v in args.counts.split(",") if v]
    for n in progress(counts, desc="scale", unit="run", json_output=args.json):
        r = run(n, args.seconds, args.warmup, args.detector, CLIPS_640x360)
        cams = r["per_camera"]
        ratio = [c["published_fps"] / c["source_fps"] for c in cams if c["source_fps"]]
        results.append(
            {
                "cameras": n,
                "published_fps_mean": round(sum(c["published_fps"] for c in cams) / n, 2),
                "published_over_source_min": round(min(ratio), 3) if ratio else None,
                "p95_latency_ms_max": max((c["p95_latency_ms"] or 0) for c in cams),
                "detect_fps_per_camera": round(sum(c["detect_fps"] for c in cams) / n, 2),
                "detect_fps_total": round(sum(c["detect_fps"] for c in cams), 2),
                "cpu_percent": r["cpu_percent"],
                "rss_mb": r["rss_mb"],
            }
        )
        print(f"  {n} camera(s) done", flush=True)
    print(f"scale: detector={args.detector}, clips 640x360 looped, {args.seconds:.0f} s per count")
    print_table(
        [
            "cameras",
            "published fps/cam",
            "min pub/src",
            "max p95 ms",
            "detect/s/cam",
            "detect/s total",
            "CPU %",
            "RSS MB",
        ],
        [
            [
                r["cameras"],
                r["published_fps_mean"],
                r["published_over_source_min"],
                r["p95_latency_ms_max"],
                r["detect_fps_per_camera"],
                r["detect_fps_total"],
                r["cpu_percent"],
                r["rss_mb"],
            ]
            for r in results
        ],
    )
    if args.json:
        print_json({"detector": args.detector, "runs": results})
    return 0
