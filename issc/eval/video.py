"""``python -m issc.eval video``: run the live analyzer on every frame of a clip and list the plate events."""

from __future__ import annotations

import argparse
import json
import sys

import cv2

from issc.progress import progress
from issc.types import Frame


def cmd_video(args: argparse.Namespace) -> int:
    from issc.analysis import PlateAnalyzer
    from issc.detect.local_plates import LocalPlateDetector
    from issc.tuning import Tuning

    cap = cv2.VideoCapture(str(args.path))
    if not cap.isOpened():
        print(f"cannot open video {args.path}", file=sys.stderr)
        return 2
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    tuning = Tuning(ocr_engine=args.engine, ocr_preprocess=args.preprocess)
    analyzer = PlateAnalyzer(
        LocalPlateDetector(args.engine), camera=args.path.stem, tuning=tuning, frame_rate=fps
    )
    t0 = 1_000_000_000.0  # any epoch: seconds into the clip are what is reported
    events = []
    frame_id = 0
    calls = 0
    frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    for _ in progress(iter(int, 1), total=frames, desc=args.path.name, unit="frame", json_output=args.json):
        ok, image = cap.read()
        if not ok:
            break
        t = t0 + frame_id / fps
        result = analyzer.analyze(Frame(image, frame_id, "0", t, t))
        calls += result.ocr_calls
        events.extend(result.events)
        frame_id += 1
    cap.release()
    events.extend(analyzer.flush())
    rows = [
        {
            "text": e.text,
            "confidence": round(e.confidence, 4),
            "reads": e.reads,
            "ocr_calls": e.ocr_calls,
            "first_seen_s": round(e.first_seen.timestamp() - t0, 3),
            "last_seen_s": round(e.last_seen.timestamp() - t0, 3),
        }
        for e in events
    ]
    print(f"{frame_id} frames, {len(events)} plate events, {calls} OCR calls")
    for r in rows:
        print(
            f"  {r['text']:<10} conf={r['confidence']:.2f} reads={r['reads']} ocr_calls={r['ocr_calls']}"
            f" {r['first_seen_s']:.2f}s-{r['last_seen_s']:.2f}s"
        )
    if args.json:
        print(json.dumps(rows))
    return 0
