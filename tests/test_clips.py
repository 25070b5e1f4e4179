"""Event clips (issue 20): a camera named in ``CLIPS`` keeps a ring of encoded frames and files an
MP4 of ``CLIP_PRE_S`` + ``CLIP_POST_S`` seconds around each plate event beside it; the clip plays
(PyAV decodes it), goes into evidence packs with its SHA-256, and is deleted with its event."""

from __future__ import annotations

import hashlib
import io
import json
import threading
import time
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import numpy as np
import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from issc import evidence, metrics
from issc.analysis import Analysis, NullAnalyzer
from issc.config import load_settings
from issc.engine import Engine
from issc.engine.clips import ClipOptions, ClipRecorder, NullClips, clip_codec
from issc.service import Service
from issc.sources import make_source
from issc.sources.file import FileSource
from issc.store import PlateFilter, Store, schema
from issc.store.retention import RetentionPolicy
from issc.tuning import Tuning
from issc.types import EventClip, Frame, PlateEvent

PLATE_CLIP = "aiguy_license_plate_uk_LS15EBC.mp4"
PRE_S, POST_S, FPS = 2.0, 2.0, 10.0


def decode(mp4: bytes) -> tuple[int, float, tuple[int, int]]:
    """Frames, seconds from the first frame to the end of the last, and size of an MP4."""
    with av.open(io.BytesIO(mp4)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
    assert frames, "the clip decodes to no frame"
    span = float(frames[-1].time - frames[0].time) + 1 / FPS
    return len(frames), span, (frames[0].width, frames[0].height)


class Saver:
    """Keeps the clips it is given (the store's part of the protocol)."""

    def __init__(self) -> None:
        self.clips: list[EventClip] = []

    def save_clip(self, clip: EventClip) -> bool:
        self.clips.append(clip)
        return True


def frame_at(i: int, t0: float, fps: float) -> Frame:
    image = np.zeros((360, 640, 3), np.uint8)
    image[:, (i * 7) % 640 :] = (40, 120, 200)
    return Frame(
        image=image, frame_id=i, camera_id="0", captured_at=t0 + i / fps, captured_mono=100 + i / fps
    )


def test_a_recorder_cuts_pre_plus_post_seconds_around_the_event_from_its_ring() -> None:
    saver = Saver()
    recorder = ClipRecorder("gate", saver, ClipOptions(PRE_S, POST_S, FPS, 480))
    thread = threading.Thread(target=recorder.run, name="issc-clips-test", daemon=True)
    thread.start()
    t0, fps = time.time() - 20, 25.0
    try:
        for i in range(int(12 * fps)):  # 12 s of a 25 fps camera, offered as capture would
            recorder.offer(frame_at(i, t0, fps))
            if i == int(6 * fps):  # the pass's plate was last seen at 4 s, its event comes at 6 s
                seen = datetime.fromtimestamp(t0 + 4, UTC)
                recorder.request(
                    PlateEvent("gate", seen, seen, "LS15EBC", 0.9, 3, (0, 0, 1, 1), pass_key="p1")
                )
            time.sleep(0.004)
        deadline = time.monotonic() + 20
        while not saver.clips and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        recorder.close()
        thread.join(10)
    assert not thread.is_alive()
    [clip] = saver.clips
    assert (clip.camera, clip.pass_key, clip.codec) == (
        "gate",
        "p1",
        "h264" if clip_codec() == "libx264" else "mpeg4",
    )
    frames, span, size = decode(clip.mp4)
    assert size == (480, 270)  # scaled to CLIP_WIDTH, even sides
    # it starts at the keyframe at or before 2 s (keyframes every second) and ends at 6 s
    assert PRE_S + POST_S - 0.2 <= span <= PRE_S + POST_S + 1.2, span
    assert abs(frames - span * FPS) <= 2
    assert clip.started_at.timestamp() <= t0 + 4 - PRE_S + 0.05
    assert recorder.saved == 1 and recorder.failed == 0


def test_a_full_queue_drops_frames_and_counts_them_without_waiting() -> None:
    recorder = ClipRecorder("gate", Saver(), ClipOptions(PRE_S, POST_S, FPS, 480))  # its thread never runs
    t0 = time.time()
    started = time.perf_counter()
    for i in range(100):  # 10 s at 10 fps: every frame is due
        recorder.offer(frame_at(i, t0, FPS))
    assert time.perf_counter() - started < 1.0
    assert recorder.dropped == 100 - recorder._queue.maxsize


# --- the engine on the UK clip, with and without clips, into a real history ------------------------


class OnePass(FileSource):
    """Grey for ``LEAD_S``, the clip once, then grey: a camera that was on before one car came and
    stays on after it (the clip's end is not reported as a loop)."""

    LEAD_S = 3.0

    def __init__(self, path: str, stop: threading.Event) -> None:
        super().__init__(path, stop, loop=True, gap_s=600.0)
        self._lead = -1

    def open(self) -> None:
        super().open()
        self.fps /= 2  # a slow car: on a busy 2-core machine the detector still gets enough looks at it

    def read(self) -> np.ndarray:
        if self._lead < 0:
            self._lead = round(self.LEAD_S * self.fps)
        if self._lead > 0:
            self._lead -= 1
            self._stop.wait(1 / self.fps)
            if self._lead == 0:
                self._restart_clock()  # the clip plays at its own pace from here
            return np.full((720, 1280, 3), self.GAP_GREY, np.uint8)
        return super().read()

    @property
    def plays(self) -> int:
        return 0

    @plays.setter
    def plays(self, value: int) -> None:
        pass


@pytest.fixture(scope="module")
def clip_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, int]]:
    """One run of the UK clip on camera ``gate``, named in ``CLIPS``, into a SQLite history."""
    from conftest import DATA_DIR

    path = DATA_DIR / "videos" / PLATE_CLIP
    if not path.is_file():
        pytest.skip(f"{PLATE_CLIP} is not in {DATA_DIR / 'videos'}")
    url = f"sqlite:///{tmp_path_factory.mktemp('clips')}/issc.db"
    settings = load_settings(
        cameras=f"gate={path}",
        database_url=url,
        detector="local",
        clips="gate",
        clip_pre_s=PRE_S,
        clip_post_s=POST_S,
        clip_fps=FPS,
    )

    def source_factory(camera, stop):
        return OnePass(camera.source, stop) if camera.kind == "file" else make_source(camera, stop)

    service = Service.build(settings, source_factory=source_factory).start()
    try:
        gate = service.engine.camera("0")
        assert gate.clips.enabled
        deadline = time.monotonic() + 60  # the pass ends in the grey after the clip; stopping ends it too
        while gate.clips.saved == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        service.stop()  # the last events still get their clips, cut from what the ring holds
    return url, {"saved": gate.clips.saved, "dropped": gate.clips.dropped, "failed": gate.clips.failed}


@pytest.mark.xdist_group("clip_run")  # one worker, so they share the module's run (pytest -n)
def test_a_plate_event_on_the_uk_clip_gets_a_decodable_clip_of_pre_plus_post_seconds(clip_run) -> None:
    url, counters = clip_run
    assert counters["saved"] >= 1, counters
    with Store(url) as store:
        rows = store.search_plates(PlateFilter(unsure="include"))
        clips = [c for r in rows if (c := store.plate_clip(r.id)) is not None]
        assert clips, [(r.camera, r.text) for r in rows]
        clip = clips[0]
        frames, span, (w, h) = decode(clip.mp4)
        assert (w, h) == (960, 540)  # 1280x720 scaled to CLIP_WIDTH
        assert PRE_S + POST_S - 1.0 <= span <= PRE_S + POST_S + 1.5, span
        # CLIP_FPS at most; fewer when a loaded machine captures fewer (the span above is the check)
        assert 0.4 * span * FPS <= frames <= span * FPS + 2, (frames, span)
        assert abs(clip.duration_s - span) < 0.5


class OnePlateAnalyzer(NullAnalyzer):
    """The demo camera's plate, one pass: its event on the 10th analysis."""

    def __init__(self, tuning: Tuning) -> None:
        super().__init__(tuning)
        self.calls = 0

    def analyze(self, frame: Frame) -> Analysis:
        self.calls += 1
        events: tuple[PlateEvent, ...] = ()
        if self.calls == 10:
            seen = datetime.fromtimestamp(frame.captured_at, UTC)
            events = (PlateEvent("demo", seen, seen, "LS15EBC", 0.9, 3, (0, 0, 9, 9), pass_key="demo-1"),)
        return Analysis(frame_id=frame.frame_id, events=events)


@pytest.mark.parametrize("clips", ["", "demo"])
def test_clips_are_off_unless_clips_names_the_camera(clips: str, tmp_path: Path, no_thread_leak) -> None:
    settings = load_settings(
        cameras="demo", motion_gating=False, detect_fps=10.0, clips=clips, clip_post_s=1.0
    )
    with Store(f"sqlite:///{tmp_path}/h.db") as store:
        engine = Engine.from_settings(
            settings,
            analyzer_factory=lambda cam, tuning: OnePlateAnalyzer(tuning),
            sink=store,
            clip_saver=store,
        )
        camera = engine.camera("0")
        engine.start()
        try:
            assert any(t.name.startswith("issc-clips-") for t in camera.threads) == bool(clips)
            deadline = time.monotonic() + 20
            while camera.analysis.plate_events == 0 and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(2.0)  # CLIP_POST_S after the event, and the clip thread's turn
        finally:
            engine.stop()
        store.flush()
        [row] = store.search_plates(PlateFilter(unsure="include"))
        clip = store.plate_clip(row.id)
        with store.engine.connect() as conn:
            stored = conn.execute(sa.select(sa.func.count()).select_from(schema.plate_clips)).scalar()
    if not clips:
        assert clip is None and stored == 0 and isinstance(camera.clips, NullClips)
    else:
        assert clip is not None and stored == 1 and camera.clips.saved == 1
        assert decode(clip.mp4)[0] >= 5
    scraped = {
        (m.name, s.labels.get("camera")): s.value
        for m in text_string_to_metric_families(metrics.render([], [camera], None, None, 0).decode())
        for s in m.samples
    }
    assert (scraped.get(("issc_clips_saved", "demo")) == 1.0) == bool(clips)  # series only with clips on


@pytest.mark.xdist_group("clip_run")  # one worker, so they share the module's run (pytest -n)
def test_the_evidence_pack_holds_the_clip_with_its_hash(clip_run) -> None:
    url, _ = clip_run
    with Store(url) as store:
        rows = [r for r in store.search_plates(PlateFilter(unsure="include")) if store.plate_clip(r.id)]
        out = io.BytesIO()
        evidence.write_pack(store, out, ids=[r.id for r in rows], made_by="test")
        clip = store.plate_clip(rows[0].id)
    assert clip is not None
    with zipfile.ZipFile(out) as archive:
        manifest = json.loads(archive.read(evidence.MANIFEST))
        name = f"events/{rows[0].id}/clip.mp4"
        data = archive.read(name)
    assert data == clip.mp4
    assert manifest["files"][name] == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


@pytest.mark.xdist_group("clip_run")  # one worker, so they share the module's run (pytest -n)
def test_retention_deletes_the_clip_with_its_event(clip_run, tmp_path: Path) -> None:
    url, _ = clip_run
    with Store(url) as store:
        with store.engine.begin() as conn:  # every event of the run is three days old
            old = int((datetime.now(UTC) - timedelta(days=3)).timestamp() * 1000)
            conn.execute(schema.plate_events.update().values(first_seen_ms=old, last_seen_ms=old))
            assert conn.execute(sa.select(sa.func.count()).select_from(schema.plate_clips)).scalar() >= 1
        store.purger.policy = RetentionPolicy(days=1, snapshot_days=0)
        result = store.purger.purge()
        assert result.events >= 1
        with store.engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(schema.plate_clips)).scalar() == 0
        assert store.search_plates(PlateFilter(unsure="include")) == []
