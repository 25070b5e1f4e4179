"""How much a clip's camera moves and how much each frame differs from the one before.

Evidence for the line-crossing targets of issue 21 (BENCHMARKS.md): a counting line is fixed in
the picture, so it measures people only while the camera holds still, and only when consecutive
frames show the same moment's people a frame apart (not a time-lapse).

    .venv/bin/python scripts/clip_motion.py ../shared/data/videos/aiguy_tokyo_street_pedestrians.mp4

prints, per second of the clip, the camera's image shift (phase correlation between consecutive
grey frames, summed over the second) and the mean absolute grey difference between consecutive
frames.
"""

from __future__ import annotations

import sys

import cv2
import numpy as np


def per_second(path: str) -> list[tuple[int, float, float]]:
    """(second, camera shift in px over that second, mean abs frame difference) for each second."""
    capture = cv2.VideoCapture(path)
    fps = round(capture.get(cv2.CAP_PROP_FPS)) or 30
    prev, shifts, diffs = None, [], []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY).astype(np.float32)
        if prev is not None:
            (dx, dy), _ = cv2.phaseCorrelate(prev, grey)
            shifts.append(float(np.hypot(dx, dy)))
            diffs.append(float(np.mean(np.abs(grey - prev))))
        prev = grey
    capture.release()
    return [
        (k // fps, sum(shifts[k : k + fps]), float(np.mean(diffs[k : k + fps])))
        for k in range(0, len(shifts), fps)
    ]


def main(paths: list[str]) -> None:
    for path in paths:
        print(path)
        print("| second | camera shift px | mean abs frame difference |\n|---|---|---|")
        for second, shift, diff in per_second(path):
            print(f"| {second} | {shift:.1f} | {diff:.1f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
