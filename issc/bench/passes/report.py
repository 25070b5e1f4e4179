"""The report of ``bench passes``: the figures printed as tables, one row per run and per camera."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from issc.bench.common import print_table


def print_report(clip: Path, result: dict) -> None:
    """The run's header line, its figures, the event texts and, for several cameras, one row each."""
    print(
        f"passes: {clip.name}, plate {result['plate']}, {result['gap_s']:g} s gaps, "
        f"PLATE_DEDUPE_S={result['dedupe_s']:g}, load {result['load']}, {result['seconds']:g} s, "
        f"{result['cameras']} camera(s)"
    )
    print_table(_HEADERS, [[result[k] for k in _KEYS]])
    print(f"event texts: {result['texts'] or 'none'}")
    if result["cameras"] > 1:
        print_table(
            ["camera", *_CAMERA_KEYS],
            [[name, *(figures[k] for k in _CAMERA_KEYS)] for name, figures in result["per_camera"].items()],
        )


_CAMERA_KEYS: Sequence[str] = ("passes", "events", "correct", "wrong", "events_per_pass", "split_passes")
_KEYS: Sequence[str] = (
    "passes",
    "events",
    "correct",
    "wrong",
    "unsure",
    "events_per_pass",
    "split_passes",
    "box_frame_share",
    "analysed_fps",
    "analysis_ms_p50",
    "analysis_ms_p95",
    "overlay_ms_p50",
    "overlay_ms_p95",
    "cpu_ms_per_analysis",
    "minor_faults_per_analysis",
)
_HEADERS = [
    "passes",
    "events",
    "correct",
    "wrong",
    "unsure",
    "events/pass",
    "split",
    "box frame share",
    "analysed fps",
    "analysis p50 ms",
    "p95 ms",
    "overlay p50 ms",
    "p95 ms",
    "cpu ms/analysis",
    "faults/analysis",
]
