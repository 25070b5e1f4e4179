"""``python -m issc.eval``: the CLI runs on a small manifest and prints one JSON object last."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from issc.eval import char_accuracy, iou, load_manifest

ROOT = Path(__file__).resolve().parent.parent
KEYS = {"images", "box_recall", "exact", "char_acc", "ms_median"}


def run_eval(*args: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "issc.eval", *args, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_plates_json_on_whole_images(data_dir: Path, tmp_path: Path) -> None:
    plates = data_dir / "plates"
    with (plates / "manifest.csv").open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["image"] in {"eu/eu1.jpg", "br/OUN4297.jpg"}]
    manifest = tmp_path / "small.csv"
    with manifest.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    result = run_eval("plates", "--manifest", str(manifest), "--root", str(plates))
    assert set(result) >= KEYS
    assert result["images"] == 2
    assert result["box_recall"] == 1.0 and result["exact"] == 1.0
    assert result["ms_median"] > 0


@pytest.mark.slow
def test_plates_json_on_crop_labels(data_dir: Path, tmp_path: Path) -> None:
    crops = data_dir / "plates" / "crops"
    manifest = tmp_path / "labels.csv"
    manifest.write_text("image,state,plate_text\nct83.png,ct,267WJE\naz589.png,az,W16627\n")
    result = run_eval("plates", "--manifest", str(manifest), "--root", str(crops))
    assert set(result) >= KEYS
    assert result["images"] == 2 and result["box_recall"] is None and result["exact"] == 1.0


def test_manifest_layouts_are_read(tmp_path: Path) -> None:
    whole = tmp_path / "m.csv"
    whole.write_text("set,image,plate_text,x,y,w,h\neu,a.jpg,ab-12 cd,-1,5,10,20\n")
    crops = tmp_path / "c.csv"
    crops.write_text("image,state,plate_text\nb.png,ct,267WJE\n")
    (sample,) = load_manifest(whole, tmp_path)
    assert (sample.set, sample.image, sample.text, sample.box) == (
        "eu",
        tmp_path / "a.jpg",
        "AB12CD",
        (-1, 5, 10, 20),
    )
    (crop,) = load_manifest(crops, tmp_path)
    assert (crop.set, crop.text, crop.box) == ("ct", "267WJE", None)
    bad = tmp_path / "bad.csv"
    bad.write_text("file,text\nx,y\n")
    with pytest.raises(ValueError, match="plate_text"):
        load_manifest(bad, tmp_path)


@pytest.mark.parametrize(
    ("truth", "read", "expected"),
    [
        ("LS15EBC", "LS15EBC", 1.0),
        ("LS15EBC", "LSI5EBC", 1 - 1 / 7),
        ("ABCD", "", 0.0),
        ("AB", "ABCDEF", 0.0),
    ],
)
def test_char_accuracy(truth: str, read: str, expected: float) -> None:
    assert char_accuracy(truth, read) == pytest.approx(expected)


def test_iou() -> None:
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(1 / 3)
    assert iou((0, 0, 1, 1), (2, 2, 3, 3)) == 0.0
