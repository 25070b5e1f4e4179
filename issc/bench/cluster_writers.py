"""The history writer's capacity on PostgreSQL: K writer processes, each a :class:`issc.store.Store`
fed realistic vehicle passes as fast as it commits them.

A pass is what a camera worker's sink receives for one vehicle: a provisional event while the plate
is in view (``save_provisional``, with a watchlist lookup) and the final event that replaces it (same
``pass_key``, ``add_plate_event``), each with a plate crop, a full-frame snapshot and three reads.
Each process keeps at most ``in_flight`` records waiting for its writer thread (a closed loop), so
the figure is what the database commits, not how deep a queue grows. The flush latency of a record
is the time from handing it to the store until its transaction committed.

The JPEGs come from the shared data's plate clip (one frame and its plate area) when it is there,
else from the generated demo scene, so their sizes are the ones workers store.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import random
import string
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import cv2
import numpy as np

from issc.bench.common import data_dir, percentile
from issc.store import Store
from issc.types import PlateEvent, PlateRead

PLATE_CLIP = "aiguy_license_plate_uk_LS15EBC.mp4"
#: Records a writer process may have waiting for its writer thread.
IN_FLIGHT = 64


@dataclass(frozen=True)
class Images:
    """A plate crop and a full-frame snapshot, JPEG-encoded, and where they came from."""

    crop: bytes
    snapshot: bytes
    origin: str


def sample_images() -> Images:
    """A crop and snapshot as a worker stores them: from the plate clip, else from the demo scene."""
    clip = data_dir() / "videos" / PLATE_CLIP
    frame = None
    if clip.is_file():
        capture = cv2.VideoCapture(str(clip))
        capture.set(cv2.CAP_PROP_POS_FRAMES, 30)
        ok, frame = capture.read()
        capture.release()
        frame = frame if ok else None
    origin = f"{PLATE_CLIP} frame 30"
    if frame is None:
        from issc.sources.demo import DemoSource

        source = DemoSource(threading.Event())
        source.open()
        frame = source.read()
        source.close()
        origin = "demo scene"
    h, w = frame.shape[:2]
    crop = frame[
        int(h * 0.6) : int(h * 0.6) + max(24, h // 14), int(w * 0.4) : int(w * 0.4) + max(96, w // 6)
    ]
    encode = lambda image: cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes()  # noqa: E731
    return Images(encode(np.ascontiguousarray(crop)), encode(frame), f"{origin} ({w}x{h})")


def _plate(rng: random.Random) -> str:
    layout = rng.choice(("AA99AAA", "AAA9999", "AAA9A99"))
    return "".join(rng.choice(string.ascii_uppercase if s == "A" else string.digits) for s in layout)


def passes(camera_names: list[str], images: Images, seed: int) -> Any:
    """Endless (provisional, final) event pairs of vehicle passes on the given cameras."""
    rng = random.Random(seed)
    n = 0
    while True:
        n += 1
        text = _plate(rng)
        now = datetime.now(UTC)
        first = now - timedelta(seconds=rng.uniform(1, 6))
        conf = rng.uniform(0.6, 0.99)
        reads = tuple(
            PlateRead(
                text, min(1.0, conf + rng.uniform(-0.1, 0.05)), at=first.timestamp() + i * 0.2, source="ocr"
            )
            for i in range(3)
        )
        final = PlateEvent(
            camera=camera_names[n % len(camera_names)],
            first_seen=first,
            last_seen=now,
            text=text,
            confidence=conf,
            reads=len(reads),
            box=(400, 500, 520, 530),
            crop_jpeg=images.crop,
            snapshot_jpeg=images.snapshot,
            ocr_calls=len(reads) + 1,
            pass_key=f"bench-{seed}-{n}",
            votes=reads,
        )
        provisional = dataclasses.replace(final, last_seen=first, votes=reads[:1], reads=1)
        yield provisional, final


class TimedStore(Store):
    """A :class:`Store` that records each record's flush latency and frees a slot per committed record.

    It overrides the writer's private ``_done`` hook (called once a batch is committed): a benchmark
    concern kept out of the store itself.
    """

    def __init__(self, url: str, in_flight: int) -> None:
        super().__init__(url, purge_first_after_s=3600.0)
        self.slots = threading.Semaphore(in_flight)
        self.handed: dict[int, float] = {}
        self.latencies_ms: list[float] = []

    def _done(self, records: list[Any], *, written: int) -> None:
        now = time.perf_counter()
        super()._done(records, written=written)
        for record in records:
            t0 = self.handed.pop(id(record), None)
            if t0 is not None:
                self.latencies_ms.append((now - t0) * 1000)
            self.slots.release()


def write_for(
    url: str,
    seconds: float,
    camera_names: list[str],
    seed: int,
    in_flight: int = IN_FLIGHT,
    on_start: Callable[[], None] | None = None,
) -> dict:
    """One writer: hand passes to a :class:`TimedStore` for ``seconds``; what it committed and how fast.

    ``on_start`` is called once the store is connected, as the ``seconds`` begin.
    """
    images = sample_images()
    store = TimedStore(url, in_flight).start()
    handed = 0
    source = passes(camera_names, images, seed)
    keep: list[PlateEvent] = []  # the store keys latencies by id(): keep records alive until committed
    if on_start is not None:
        on_start()
    t0 = time.perf_counter()
    deadline = t0 + seconds
    try:
        while time.perf_counter() < deadline:
            provisional, final = next(source)
            for record, hand in ((provisional, store.save_provisional), (final, store.add_plate_event)):
                if not store.slots.acquire(timeout=max(0.0, deadline - time.perf_counter())):
                    break
                store.handed[id(record)] = time.perf_counter()
                keep.append(record)
                hand(record)
                handed += 1
            if len(keep) > 4 * in_flight:
                del keep[: len(keep) - 2 * in_flight]
        store.flush(timeout=30)
        elapsed = time.perf_counter() - t0
        status = store.status()
    finally:
        store.close()
    return {
        "records_written": status.written,
        "records_dropped": status.dropped,
        "passes": status.written // 2,
        "seconds": elapsed,
        "latencies_ms": store.latencies_ms,
        "crop_bytes": len(images.crop),
        "snapshot_bytes": len(images.snapshot),
        "images": images.origin,
    }


def _child(
    url: str, seconds: float, names: list[str], seed: int, in_flight: int, results: Any, started: Any
) -> None:
    results.put(write_for(url, seconds, names, seed, in_flight, on_start=lambda: started.put(seed)))


def measure_capacity(
    url: str,
    writers: int,
    seconds: float,
    tag: str,
    in_flight: int = IN_FLIGHT,
    meanwhile: Callable[[], dict] | None = None,
) -> dict:
    """``writers`` processes writing passes for ``seconds``: passes/s, records/s, flush p50/p95.

    At saturation a record's flush latency is about ``in_flight`` / (records/s per writer): the
    closed loop's depth, as a worker with many passes at once would see it. ``meanwhile`` runs in
    this process once every writer has started writing (e.g. page views); its result is under
    ``"meanwhile"``.

    Raises:
        RuntimeError: a writer process failed (its exit code is named).
    """
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no inherited engine
    results, started = context.Queue(), context.Queue()
    procs = [
        context.Process(
            target=_child,
            args=(url, seconds, _cameras(tag, i), 1000 + i, in_flight, results, started),
            name=f"bench-writer-{i}",
        )
        for i in range(writers)
    ]
    for proc in procs:
        proc.start()
    outcomes = []
    try:
        during = None
        if meanwhile is not None:
            for _ in procs:  # each writer imports, connects and reads its images first
                started.get(timeout=120)
            during = meanwhile()
        for _ in procs:
            outcomes.append(results.get(timeout=seconds + 120))
    except Exception as exc:
        codes = [p.exitcode for p in procs]
        raise RuntimeError(f"a writer process did not report (exit codes {codes}): {exc}") from exc
    finally:
        for proc in procs:
            proc.join(30)
            if proc.is_alive():
                proc.kill()
    latencies = [ms for o in outcomes for ms in o["latencies_ms"]]
    elapsed = max(o["seconds"] for o in outcomes)
    passes_total = sum(o["passes"] for o in outcomes)
    return {
        "writers": writers,
        "in_flight": in_flight,
        "seconds": round(elapsed, 1),
        "passes": passes_total,
        "passes_per_s": round(passes_total / elapsed, 1),
        "records_per_s": round(sum(o["records_written"] for o in outcomes) / elapsed, 1),
        "dropped": sum(o["records_dropped"] for o in outcomes),
        "flush_p50_ms": percentile(latencies, 50),
        "flush_p95_ms": percentile(latencies, 95),
        "crop_bytes": outcomes[0]["crop_bytes"],
        "snapshot_bytes": outcomes[0]["snapshot_bytes"],
        "images": outcomes[0]["images"],
        **({"meanwhile": during} if during is not None else {}),
    }


def _cameras(tag: str, writer: int) -> list[str]:
    return [f"{tag}-writer{writer}-cam{j}" for j in range(4)]


def writer_cameras(tag: str, writers: int) -> list[str]:
    """The camera names :func:`measure_capacity` writes under (to tell its rows from the workers')."""
    return [name for i in range(writers) for name in _cameras(tag, i)]


__all__ = [
    "Images",
    "TimedStore",
    "measure_capacity",
    "passes",
    "sample_images",
    "write_for",
    "writer_cameras",
]
