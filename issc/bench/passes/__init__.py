"""``python -m issc.bench passes --clip PATH``: a clip played as a live camera, pass after pass.

The clip plays in a loop through the engine exactly as the server builds it
(``issc.service.build_engine``), with ``--gap-s`` seconds of a plain grey picture between two plays
so that every play is a separate vehicle pass (``PLATE_DEDUPE_S`` is set below the gap).
``--load N`` keeps N cores busy with other processes meanwhile. A viewer takes every published
frame and encodes its JPEG, as the MJPEG route does. The first ``--warmup-plays`` plays are not
measured (first calls of the models); the window starts with the next play and ends with the
play running when ``--seconds`` are up. Printed:

* ``passes``: plays of the clip in the measured window;
* ``events``, ``correct``, ``wrong``: plate events stored, those whose text is the clip's plate,
  and those with any other text;
* ``unsure``: events among them flagged unsure (best vote below ``PLATE_RECOGNITION_THRESHOLD``:
  kept out of the default history and of alerts);
* ``events_per_pass``: events that belong to a measured pass (first seen while it played) per
  pass, and ``split_passes``: passes that made more than one event (one pass, one event);

``--cameras N`` plays N copies of the clip at once, each as its own camera; the figures above are
then camera 0's, and ``per_camera`` gives passes, events, correct, wrong, events per pass and split
passes for every camera (each camera's passes are the plays it finished inside the window).
* ``box_frame_share``: among the published frames whose clip frame shows the plate, the share
  that carries a plate box on it (see ``shows_plate``);
* ``analysed_fps``: analyses per second; ``analysis_ms_p50``/``_p95``: time per
  ``analyzer.analyze`` call;
* ``overlay_ms_p50``/``_p95``: capture -> publish time of the frames that carry boxes (placing
  them by flow and drawing them, on the capture thread).
* ``cpu_ms_per_analysis``, ``minor_faults_per_analysis``: the whole process's CPU time (user +
  system: capture, analyses, the viewer's JPEGs) and minor page faults in the window, per analysis
  of any camera. They move far less with the machine's load than the times above: a fault is a
  page of freshly mapped memory touched for the first time (``--malloc-defaults``,
  ``--allocate-per-call`` compare).

Which clip frames show the plate, and where, is measured once per clip before the timed run: the
still-image plate locator at full resolution reads every frame, and the box whose text is most
like the plate (``similarity`` >= ``REFERENCE_MIN_SIMILARITY``) is the reference; frames without
one count as "car not in view". The result is cached in ``~/.cache/issc/``
(:mod:`issc.bench.reference`).

This module is the command line; the work is in ``clip`` (the clip as a live camera), ``measure``
(one measured run), ``accounting`` (per-pass figures) and ``report`` (the printed tables).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from issc.bench.common import clips, print_json
from issc.bench.passes.clip import plate_from_name
from issc.bench.passes.measure import run
from issc.bench.passes.report import print_report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--clip", required=True, help="video file (a path, or a name in the videos folder)")
    parser.add_argument("--plate", help="the clip's plate (default: the file name's last '_' part)")
    parser.add_argument("--gap-s", type=float, default=4.0, help="grey seconds between two plays")
    parser.add_argument("--seconds", type=float, default=120.0, help="measured window (rounded up to a play)")
    parser.add_argument("--load", type=int, default=0, help="cores kept busy by other processes")
    parser.add_argument("--cameras", type=int, default=1, help="copies of the clip played at once")
    parser.add_argument("--dedupe-s", type=float, help="PLATE_DEDUPE_S (default: below the gap)")
    parser.add_argument("--detector", help="DETECTOR setting (default: as configured)")
    parser.add_argument("--warmup-plays", type=int, default=1, help="plays before the measured window")
    parser.add_argument(
        "--malloc-defaults", action="store_true", help="keep glibc's malloc defaults (the service tunes them)"
    )
    parser.add_argument(
        "--allocate-per-call",
        action="store_true",
        help="text detection and decoding allocate afresh per call, as before they reused memory",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object last")


def _resolve_clip(name: str) -> Path:
    path = Path(name).expanduser()
    if path.is_file():
        return path
    found = clips([name])[0]
    if not found.is_file():
        raise SystemExit(f"no clip {name!r}: give a path or a file name in the videos folder")
    return found


def main(args: argparse.Namespace) -> int:
    clip = _resolve_clip(args.clip)
    plate = args.plate or plate_from_name(clip)
    if not plate:
        raise SystemExit(f"cannot tell the plate from {clip.name!r}: pass --plate")
    result = run(
        clip,
        plate.upper(),
        gap_s=args.gap_s,
        seconds=args.seconds,
        load=args.load,
        dedupe_s=args.dedupe_s,
        detector=args.detector,
        warmup_plays=args.warmup_plays,
        malloc_defaults=args.malloc_defaults,
        allocate_per_call=args.allocate_per_call,
        cameras=args.cameras,
    )
    print_report(clip, result)
    if args.json:
        print_json(result)
    return 0
