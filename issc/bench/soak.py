"""``python -m issc.bench soak --cameras N --minutes M``: RSS, threads, fds and the history writer's
queue depth of the real service over a long run, sampled at a fixed interval.

The service is :meth:`issc.service.Service.build` with a temporary SQLite ``DATABASE_URL``, so plate
events and people counts are really written; the cameras are the clips of the shared data folder
(looped, cycled to make N cameras) plus one demo camera. ``rss_growth_mb`` is the RSS at the end
minus the RSS once the warm-up is over.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

from issc.bench.common import Viewers, clips, print_json, print_table
from issc.config import load_settings
from issc.memory import keep_defaults, tune_malloc
from issc.plates.ocr import rapid
from issc.service import Service
from issc.sources import base as sources_base


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cameras", type=int, default=8, help="number of clip cameras (clips are reused)")
    parser.add_argument("--minutes", type=float, default=30.0, help="length of the run")
    parser.add_argument("--warmup", type=float, default=3.0, help="minutes before the RSS baseline")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--detector", default="local", help="DETECTOR setting (none, local, ...)")
    parser.add_argument("--no-demo", action="store_true", help="leave out the demo camera")
    parser.add_argument(
        "--malloc-defaults", action="store_true", help="keep glibc's malloc defaults (no issc.memory tuning)"
    )
    parser.add_argument(
        "--allocate-per-call",
        action="store_true",
        help="text detection and decoding allocate afresh per call, as before they reused memory",
    )
    parser.add_argument("--png", type=Path, help="write the curves to this PNG")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")


def _sample(proc: psutil.Process, service: Service) -> tuple[float, int, int, int, float]:
    rss = proc.memory_info().rss / 2**20
    depth = service.store.status().buffered if service.store is not None else 0
    cpu = proc.cpu_times()
    return rss, proc.num_threads(), proc.num_fds(), depth, cpu.user + cpu.system


def run(
    cameras: int,
    minutes: float,
    warmup_min: float = 3.0,
    interval_s: float = 10.0,
    detector: str = "local",
    demo: bool = True,
    on_sample=None,
    malloc_defaults: bool = False,
    allocate_per_call: bool = False,
) -> dict:
    """Run the service for ``minutes`` and return the sampled curves and the growth figures.

    With ``malloc_defaults`` the process keeps glibc's malloc settings (:mod:`issc.memory` is off),
    to compare against.
    """
    if malloc_defaults:
        keep_defaults()
    malloc = tune_malloc()
    if allocate_per_call:
        rapid.allocate_per_call()
        sources_base.REUSE_FRAMES = False
    sources = [f"cam{i}={p}" for i, p in enumerate(itertools.islice(itertools.cycle(clips()), cameras))]
    if demo:
        sources.append("demo=demo")
    proc = psutil.Process()
    out: dict[str, list] = {"t_s": [], "rss_mb": [], "threads": [], "fds": [], "queue_depth": [], "cpu_s": []}
    with tempfile.TemporaryDirectory(prefix="issc-soak-") as tmp:
        settings = load_settings(
            cameras=",".join(sources),
            detector=detector,
            database_url=f"sqlite:///{tmp}/soak.db",
        )
        service = Service.build(settings).start()
        viewers = Viewers(service.engine).start()
        t0 = time.monotonic()
        end = t0 + minutes * 60
        try:
            while True:
                now = time.monotonic()
                rss, threads, fds, depth, cpu_s = _sample(proc, service)
                for key, value in zip(
                    out,
                    (round(now - t0, 1), round(rss, 1), threads, fds, depth, round(cpu_s, 1)),
                    strict=True,
                ):
                    out[key].append(value)
                if on_sample is not None:
                    on_sample(out)
                if now >= end:
                    break
                time.sleep(max(0.0, min(interval_s, end - time.monotonic())))
            status = service.store.status() if service.store is not None else None
        finally:
            viewers.stop()
            service.stop()
    warm_idx = next((i for i, t in enumerate(out["t_s"]) if t >= warmup_min * 60), len(out["t_s"]) - 1)
    after = slice(warm_idx, None)
    window = max(1, round(60 / interval_s))  # about one minute of samples: RSS moves with frame buffers
    first, last = out["rss_mb"][warm_idx : warm_idx + window], out["rss_mb"][-window:]
    return {
        "cameras": cameras + (1 if demo else 0),
        "minutes": minutes,
        "warmup_min": warmup_min,
        "interval_s": interval_s,
        "detector": detector,
        **out,
        "malloc_tuned": any(malloc.values()),
        "memory_reused": rapid.REUSE_MEMORY,
        "cpu_s_per_min_after_warmup": round(
            (out["cpu_s"][-1] - out["cpu_s"][warm_idx])
            / max(1e-9, (out["t_s"][-1] - out["t_s"][warm_idx]) / 60),
            1,
        ),
        "rss_warm_mb": out["rss_mb"][warm_idx],
        "rss_end_mb": out["rss_mb"][-1],
        "rss_growth_mb": round(out["rss_mb"][-1] - out["rss_mb"][warm_idx], 1),
        "rss_growth_median_mb": round(statistics.median(last) - statistics.median(first), 1),
        "threads_range_after_warmup": [min(out["threads"][after]), max(out["threads"][after])],
        "fds_range_after_warmup": [min(out["fds"][after]), max(out["fds"][after])],
        "queue_depth_max": max(out["queue_depth"]),
        "records_written": status.written if status else 0,
        "records_dropped": status.dropped if status else 0,
    }


def write_png(result: dict, path: Path) -> None:
    """Three small panels (RSS, threads and fds, queue depth) against minutes, 900×400 px."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    minutes = [t / 60 for t in result["t_s"]]
    fig, axes = plt.subplots(1, 3, figsize=(9, 4), dpi=100)
    axes[0].plot(minutes, result["rss_mb"])
    axes[0].set_title("RSS (MB)")
    axes[1].plot(minutes, result["threads"], label="threads")
    axes[1].plot(minutes, result["fds"], label="fds")
    axes[1].set_title("threads / fds")
    axes[1].legend(fontsize=8)
    axes[2].plot(minutes, result["queue_depth"])
    axes[2].set_title("writer queue depth")
    for ax in axes:
        ax.axvline(result["warmup_min"], color="grey", lw=0.8, ls="--")
        ax.set_xlabel("minutes")
    malloc = "malloc tuned" if result.get("malloc_tuned") else "glibc malloc defaults"
    fig.suptitle(f"soak: {result['cameras']} cameras, detector={result['detector']}, {malloc}", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def main(args: argparse.Namespace) -> int:
    def progress(out: dict) -> None:
        if not args.json:
            return
        # with --json stdout is for the final object: one line per sample on stderr to watch a long run
        print(
            f"t={out['t_s'][-1]:.0f}s rss={out['rss_mb'][-1]} threads={out['threads'][-1]} "
            f"fds={out['fds'][-1]} queue={out['queue_depth'][-1]}",
            file=sys.stderr,
            flush=True,
        )

    result = run(
        args.cameras,
        args.minutes,
        args.warmup,
        args.interval,
        args.detector,
        not args.no_demo,
        progress,
        malloc_defaults=args.malloc_defaults,
        allocate_per_call=args.allocate_per_call,
    )
    print(
        f"soak: {result['cameras']} camera(s), {result['minutes']} min, detector={result['detector']}, "
        f"malloc {'tuned' if result['malloc_tuned'] else 'glibc defaults'}, "
        f"CPU {result['cpu_s_per_min_after_warmup']} s/min, "
        f"RSS {result['rss_warm_mb']} MB after {result['warmup_min']} min warm-up -> {result['rss_end_mb']} MB "
        f"(growth {result['rss_growth_mb']} MB, minute medians {result['rss_growth_median_mb']} MB), "
        f"threads {result['threads_range_after_warmup']}, "
        f"fds {result['fds_range_after_warmup']}, written {result['records_written']}, "
        f"dropped {result['records_dropped']}"
    )
    print_table(
        ["t s", "RSS MB", "threads", "fds", "queue"],
        list(
            zip(
                result["t_s"],
                result["rss_mb"],
                result["threads"],
                result["fds"],
                result["queue_depth"],
                strict=True,
            )
        ),
    )
    if args.png:
        write_png(result, args.png)
    if args.json:
        print_json(result)
    return 0
