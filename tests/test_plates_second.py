"""The plate-trained second opinion (``issc.plates.ocr.second``): per-character fusion with PP-OCR's
beliefs, the committed model on renders it never trained on, and the training command end to end
on a tiny exported review set. Its effect on the real evaluation sets is measured by
``python -m issc.eval plates --second-opinion`` (BENCHMARKS.md), not asserted here."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from issc.plates.ocr.lines import CharBelief, TextLine
from issc.plates.ocr.second import (
    ALPHABET,
    INPUT_H,
    INPUT_W,
    MODEL_PATH,
    PlateLineModel,
    ctc_decode,
    fuse,
    line_input,
)

POLY = np.array([[0, 0], [100, 0], [100, 20], [0, 20]], np.float32)


def pp_line(*chars: tuple[str, dict[str, float]]) -> TextLine:
    beliefs = tuple(CharBelief(c, alts[c], alts) for c, alts in chars)
    return TextLine(POLY, "".join(c for c, _ in chars), float(np.mean([b.prob for b in beliefs])), beliefs)


def second(*chars: tuple[str, dict[str, float]]) -> tuple[CharBelief, ...]:
    return tuple(CharBelief(c, alts[c], alts) for c, alts in chars)


def test_an_unsure_character_takes_the_more_confident_opinion() -> None:
    line = pp_line(("A", {"A": 0.99}), ("I", {"I": 0.55, "1": 0.4, "": 0.05}), ("7", {"7": 0.98}))
    other = second(("A", {"A": 0.97}), ("1", {"1": 0.95, "I": 0.04}), ("7", {"7": 0.99}))
    fused = fuse(line, other, weight=0.5)
    assert fused.text == "A17"
    mass = 0.95  # PP-OCR's plate-character share (its blank, 0.05, is kept as it is)
    assert fused.chars[1].prob == pytest.approx(0.5 * 0.4 + 0.5 * mass * 0.95 / 0.99)
    assert fused.chars[1].alternatives["I"] == pytest.approx(0.5 * 0.55 + 0.5 * mass * 0.04 / 0.99)
    assert fused.chars[1].alternatives[""] == pytest.approx(0.05)
    assert fused.polygon is line.polygon


def test_marks_are_kept_and_only_plate_characters_are_aligned() -> None:
    line = pp_line(("G", {"G": 0.6, "6": 0.3}), ("-", {"-": 0.9}), ("D", {"D": 0.7, "0": 0.2}))
    other = second(("6", {"6": 0.9, "G": 0.05}), ("D", {"D": 0.8, "0": 0.1}))
    fused = fuse(line, other, weight=0.5)
    assert fused.text == "6-D"


@pytest.mark.parametrize(
    "other",
    [
        second(("A", {"A": 0.9})),  # fewer characters: no one-to-one alignment
        second(("A", {"A": 0.9}), ("1", {"1": 0.9}), ("7", {"7": 0.9}), ("7", {"7": 0.9})),
    ],
)
def test_a_different_length_leaves_the_line_alone(other: tuple[CharBelief, ...]) -> None:
    line = pp_line(("A", {"A": 0.99}), ("I", {"I": 0.55, "1": 0.4}), ("7", {"7": 0.98}))
    assert fuse(line, other, weight=0.5) is line


def test_line_input_keeps_the_aspect_and_pads_right() -> None:
    line = np.zeros((40, 80, 3), np.uint8)
    line[:, :40] = 255
    x = line_input(line)
    assert x.shape == (1, INPUT_H, INPUT_W) and x.dtype == np.float32
    assert x.min() >= -1.0 and x.max() <= 1.0
    assert x[0, :, : INPUT_H - 1].mean() == pytest.approx(1.0)  # the white half, scaled to 24 px
    assert x[0, :, 2 * INPUT_H :].std() == 0  # the padding


def test_ctc_decode_collapses_repeats_and_keeps_alternatives() -> None:
    classes = 1 + len(ALPHABET)
    frames = np.full((6, classes), 0.01, np.float32)
    one, letter_i = 1 + ALPHABET.index("1"), 1 + ALPHABET.index("I")
    for t, k in enumerate([one, one, 0, letter_i, 0, 0]):
        frames[t, k] = 0.9
    frames[0, letter_i] = 0.3
    chars = ctc_decode(frames / frames.sum(axis=1, keepdims=True))
    assert "".join(c.char for c in chars) == "1I"
    assert chars[0].alternatives["I"] > 0.15 and chars[0].span == (0.0, 2 / 6)


needs_model = pytest.mark.skipif(not MODEL_PATH.is_file(), reason=f"{MODEL_PATH} not trained")


@needs_model
def test_the_committed_model_reads_renders_it_never_saw() -> None:
    from issc.train.plate_synth import render_line

    rng = np.random.default_rng(20260101)  # not the training seed (19) nor its validation seed (20)
    samples = [render_line(rng) for _ in range(60)]
    reads = PlateLineModel().read([g for g, _ in samples])
    exact = sum("".join(c.char for c in r) == t for r, (_, t) in zip(reads, samples, strict=True))
    assert exact >= 0.6 * len(samples)


@pytest.mark.slow
def test_training_runs_end_to_end_on_a_tiny_exported_review_set(tmp_path: Path) -> None:
    """An operator's reviewed reads, exported by ``python -m issc.review export``'s own writer,
    train a model with ``python -m issc.train reader`` in seconds; the model loads and reads."""
    from issc.review.__main__ import export_crops
    from issc.train.__main__ import main as train_main
    from issc.train.plate_synth import render_plate
    from tests.test_review_export import crop

    rng = np.random.default_rng(7)
    plates = [render_plate(rng) for _ in range(6)]
    reviewed = [
        crop(i + 1, text, jpeg=cv2.imencode(".jpg", image)[1].tobytes())
        for i, (image, text) in enumerate(plates)
    ]
    export_dir = tmp_path / "reviewed"
    summary = export_crops(reviewed, export_dir)
    assert summary.written == 6
    out = tmp_path / "reader.onnx"
    args = ["reader", "--work", str(tmp_path / "work"), "--crops", str(export_dir), "--out", str(out)]
    args += ["--synthetic", "32", "--synthetic-val", "8", "--steps", "3", "--batch", "8"]
    assert train_main(args) == 0
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["counts"]["real_crops"] == 6
    assert card["counts"]["real_train_lines"] + card["counts"]["real_val_lines"] >= 4  # lines found
    assert card["metrics"]["steps"] == 3 and card["seed"] == 19
    reads = PlateLineModel(out).read([image for image, _ in plates[:2]])
    assert len(reads) == 2


def test_the_train_command_lists_reader() -> None:
    from issc.train.__main__ import main as train_main

    assert train_main([]) == 2
    with pytest.raises(SystemExit) as exit_info:
        train_main(["reader", "--help"])
    assert exit_info.value.code == 0


def test_a_missing_crop_folder_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from issc.train.reader import main

    assert main(["--work", str(tmp_path), "--crops", str(tmp_path / "nope")]) == 2
    assert "is not a folder of plate crops" in capsys.readouterr().err


def test_o_and_0_count_together_against_a_third_character() -> None:
    """PP-OCR splits one glyph's belief between O and 0; the pair, not each, faces the other model."""
    line = pp_line(("0", {"0": 0.5, "O": 0.45}), ("J", {"J": 0.99}), ("T", {"T": 0.99}))
    other = second(("Q", {"Q": 0.9, "0": 0.05}), ("J", {"J": 0.99}), ("T", {"T": 0.99}))
    assert fuse(line, other, weight=0.5).text == "0JT"


def test_a_character_pp_ocr_was_sure_of_is_kept_as_read() -> None:
    """The gate is per character: a confident Q stays a Q even where the other model reads 0 and
    another character of the line is unsure."""
    line = pp_line(("Q", {"Q": 0.97, "0": 0.02}), ("I", {"I": 0.55, "1": 0.4}), ("7", {"7": 0.98}))
    other = second(("0", {"0": 0.99}), ("1", {"1": 0.97}), ("7", {"7": 0.99}))
    assert fuse(line, other, weight=0.7).text == "017"  # the old, line-wide fusion
    fused = fuse(line, other, weight=0.7, unsure=0.95)
    assert fused.text == "Q17"
    assert fused.chars[0] is line.chars[0] and fused.chars[2] is line.chars[2]


def test_an_unsure_second_opinion_is_not_asked() -> None:
    line = pp_line(("A", {"A": 0.99}), ("I", {"I": 0.55, "1": 0.4}), ("7", {"7": 0.98}))
    other = second(("A", {"A": 0.97}), ("1", {"1": 0.7, "I": 0.2}), ("7", {"7": 0.99}))
    assert fuse(line, other, weight=0.7, unsure=0.95).text == "A17"
    assert fuse(line, other, weight=0.7, unsure=0.95, min_second=0.8) is line  # nothing fused


def test_the_second_opinion_only_chooses_among_pp_ocr_candidates() -> None:
    """A class PP-OCR gave (almost) no belief at a place is not brought in by the other model: an
    unsure Q stays a Q unless PP-OCR also saw a 0 there."""
    other = second(("0", {"0": 0.99}), ("J", {"J": 0.99}))
    unseen = pp_line(("Q", {"Q": 0.6, "C": 0.3, "0": 0.001}), ("J", {"J": 0.99}))
    seen = pp_line(("Q", {"Q": 0.6, "0": 0.3}), ("J", {"J": 0.99}))
    assert fuse(unseen, other, weight=0.7, unsure=0.95).text == "0J"  # without the gate
    assert fuse(unseen, other, weight=0.7, unsure=0.95, min_alt=0.01) is unseen
    assert fuse(seen, other, weight=0.7, unsure=0.95, min_alt=0.01).text == "0J"


@needs_model
def test_fine_tuning_starts_from_the_exported_model_exactly() -> None:
    """``--init``: the committed ONNX model loaded back into torch computes the same logits, and
    keeps doing so in training mode (batch norms frozen)."""
    import onnxruntime as ort
    import torch

    from issc.train.reader import build_model, freeze_batch_norm, load_onnx_weights

    model = build_model()
    load_onnx_weights(model, MODEL_PATH)
    freeze_batch_norm(model)
    model.train()
    x = np.random.default_rng(3).uniform(-1, 1, (3, 1, INPUT_H, INPUT_W)).astype(np.float32)
    with torch.no_grad():
        ours = model(torch.from_numpy(x)).numpy()
    (theirs,) = ort.InferenceSession(str(MODEL_PATH)).run(None, {"line": x})
    assert np.abs(ours - theirs).max() < 1e-4
