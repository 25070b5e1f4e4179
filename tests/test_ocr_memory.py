"""Text detection reuses its memory (issue 19 item 6): same input numbers, same boxes, one buffer."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rapidocr")

from issc.plates.ocr import rapid
from issc.sources import video_frames

UK_CLIP = "aiguy_license_plate_uk_LS15EBC.mp4"


@pytest.mark.parametrize(
    ("mean", "std"), [([0.5, 0.5, 0.5], [0.5, 0.5, 0.5]), ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])]
)
@pytest.mark.parametrize("shape", [(720, 1280, 3), (97, 333, 3)])
def test_the_reused_input_tensor_holds_rapidocrs_numbers(mean, std, shape) -> None:
    from rapidocr.ch_ppocr_det.utils import DetPreProcess

    image = np.random.default_rng(7).integers(0, 256, shape, dtype=np.uint8)
    theirs = DetPreProcess(4096, "max", mean, std)(image)
    ours = rapid._DetInput(4096, "max", mean, std)(image)
    assert ours.dtype == np.float32 and ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_each_thread_reuses_its_own_input_tensor_per_size() -> None:
    prep = rapid._DetInput(4096, "max", None, None)
    big = np.zeros((704, 1280, 3), np.uint8)
    small = np.full((96, 320, 3), 255, np.uint8)
    first = prep(big)
    assert prep(small) is not first
    again = prep(big)
    assert again is first  # the same tensor, refilled
    np.testing.assert_allclose(again, -1.0)
    other: list[np.ndarray] = []
    thread = threading.Thread(target=lambda: other.append(prep(big)))
    thread.start()
    thread.join()
    assert other[0] is not first  # another camera's thread never writes into this one's input
    for size in range(5):  # a few second-look sizes push the oldest out; the count stays bounded
        prep(np.zeros((64 + 32 * size, 320, 3), np.uint8))
    assert len(prep._local.buffers) == rapid._DET_BUFFERS_PER_THREAD


def test_reused_memory_finds_the_same_text_as_fresh_allocations(
    videos_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clip = videos_dir / UK_CLIP
    if not clip.is_file():
        pytest.skip(f"{clip} not found")
    frames = [f for i, f in enumerate(video_frames(clip)) if i in (20, 60, 100)]
    reusing = rapid.RapidOcrEngine()
    results_reusing = [reusing.detect(f) for f in frames for _ in range(2)]  # twice: a refilled tensor
    monkeypatch.setattr(rapid, "REUSE_MEMORY", False)
    fresh = rapid.RapidOcrEngine()
    results_fresh = [fresh.detect(f) for f in frames for _ in range(2)]
    assert any(results_fresh), "the clip's frames show text"
    for ours, theirs in zip(results_reusing, results_fresh, strict=True):
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(a, b, atol=1.0)


def test_a_file_source_reuses_only_the_frames_nobody_holds(videos_dir: Path) -> None:
    from issc.sources.file import FileSource

    clip = videos_dir / UK_CLIP
    if not clip.is_file():
        pytest.skip(f"{clip} not found")
    source = FileSource(str(clip), threading.Event(), loop=True)
    source.open()
    held = [source.read() for _ in range(3)]  # the buffer, the analysis and a viewer hold these
    before = [image.copy() for image in held]
    view = source.read()[100:200]  # a view holds its frame too
    view_before = view.copy()
    seen = {id(source.read()) for _ in range(30)}
    for image, copy in zip(held, before, strict=True):
        np.testing.assert_array_equal(image, copy)  # a held frame is never decoded into
    np.testing.assert_array_equal(view, view_before)
    assert len(seen) <= 2  # released frames come back: no fresh array per frame
    assert all(id(image) not in seen for image in held)
    source.close()
