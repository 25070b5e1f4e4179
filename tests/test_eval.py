"""``python -m issc.eval``: the CLI runs on a small manifest and prints one JSON object last."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from issc.detections import box_iou
from issc.eval.cli import build_parser
from issc.eval.confusions import confusions
from issc.eval.manifest import Sample, load_manifest
from issc.eval.metrics import by_height, miss_counts
from issc.eval.sample import MISREAD, NOT_FOUND, OTHER_LINE, SampleResult, char_accuracy, miss_reason
from issc.types import PlateRead

ROOT = Path(__file__).resolve().parent.parent
KEYS = {"images", "box_recall", "exact", "char_acc", "ms_median"}
HEIGHT_KEYS = {"lt20", "20to40", "gt40"}


def run_eval(*args: str, output: list[str] | None = None) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "issc.eval", *args, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=True,
    )
    if output is not None:
        output.extend(proc.stdout.splitlines())
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
    assert set(result["by_height"]) == HEIGHT_KEYS
    assert sum(band["images"] for band in result["by_height"].values()) == 2
    assert all(set(band) >= KEYS for band in result["by_height"].values())


@pytest.mark.slow
def test_an_image_without_any_candidate_is_a_miss_not_a_crash(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "blank.png"), np.full((240, 320, 3), 127, np.uint8))
    manifest = tmp_path / "m.csv"
    manifest.write_text("set,image,plate_text,x,y,w,h\nus,blank.png,ABC1234,100,100,80,30\n")
    lines: list[str] = []
    result = run_eval(
        "plates", "--manifest", str(manifest), "--root", str(tmp_path), "--region", "us", "-v", output=lines
    )
    assert result["images"] == 1 and result["box_recall"] == 0.0 and result["exact"] == 0.0
    assert result["misses"] == {NOT_FOUND: 1, OTHER_LINE: 0, MISREAD: 0}
    assert result["by_height"]["20to40"]["images"] == 1 and result["by_height"]["lt20"]["images"] == 0
    assert "miss blank.png: want ABC1234 got - found=False reason=not found" in [ln.strip() for ln in lines]
    assert any("region=us" in line for line in lines)


@pytest.mark.slow
def test_plates_json_on_crop_labels(data_dir: Path, tmp_path: Path) -> None:
    crops = data_dir / "plates" / "crops"
    manifest = tmp_path / "labels.csv"
    manifest.write_text("image,state,plate_text\nct83.png,ct,267WJE\naz589.png,az,W16627\n")
    result = run_eval("plates", "--manifest", str(manifest), "--root", str(crops))
    assert set(result) >= KEYS
    assert result["images"] == 2 and result["box_recall"] is None and result["exact"] == 1.0
    assert result["by_height"]["gt40"]["images"] == 2  # a crop's height is the plate's
    assert result["confusions"] == {}  # both read right


@pytest.mark.slow
def test_confusions_show_a_wrong_label_as_truth_to_read(data_dir: Path, tmp_path: Path) -> None:
    """A label with two characters changed (1→I, 6→G) shows up as exactly those confusions."""
    crops = data_dir / "plates" / "crops"
    manifest = tmp_path / "labels.csv"
    manifest.write_text("image,state,plate_text\naz589.png,az,WI6G27\n")  # the plate reads W16627
    lines: list[str] = []
    result = run_eval("plates", "--manifest", str(manifest), "--root", str(crops), output=lines)
    assert result["confusions"] == {"I": {"1": 1}, "G": {"6": 1}}
    assert any(line.startswith("confusions (truth→read): ") and "I→1 1" in line for line in lines)


@pytest.mark.parametrize(
    ("pairs", "table"),
    [
        ([("ABC123", "ABC123")], {}),
        ([("ABC123", "A8C123"), ("B8", "88")], {"B": {"8": 2}}),
        ([("1345D", "345D")], {"1": {"": 1}}),  # a dropped character
        ([("VJT338", "SVJT338")], {"": {"S": 1}}),  # an added one
        ([("ZZ", "")], {}),  # nothing read: no confusion to count
        ([("6G1", "GG1"), ("6", "G"), ("G1", "61")], {"6": {"G": 2}, "G": {"6": 1}}),
    ],
)
def test_confusion_table(pairs: list[tuple[str, str]], table: dict[str, dict[str, int]]) -> None:
    assert confusions(pairs) == table


@pytest.mark.slow
def test_region_us_reads_o_as_zero_on_crops(data_dir: Path, tmp_path: Path) -> None:
    crops = data_dir / "plates" / "crops"
    manifest = tmp_path / "labels.csv"
    manifest.write_text("image,state,plate_text\nco818.png,co,016FGM\n")
    assert (
        run_eval("plates", "--manifest", str(manifest), "--root", str(crops), "--region", "us")["exact"]
        == 1.0
    )


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


def test_box_iou() -> None:
    assert box_iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert box_iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(1 / 3)
    assert box_iou((0, 0, 1, 1), (2, 2, 3, 3)) == 0.0


def result(height: int, read: str = "AB123", truth: str = "AB123", reason: str | None = None) -> SampleResult:
    sample = Sample("eu", Path("x.jpg"), truth, (0, 0, 4 * height, height))
    return SampleResult(sample, read, True, 1.0, height=height, first=True, reason=reason)


def test_results_by_plate_height() -> None:
    results = [result(10), result(19), result(20), result(40, read="X", reason=MISREAD), result(41)]
    bands = by_height(results, crops=False)
    assert set(bands) == HEIGHT_KEYS
    assert [bands[k]["images"] for k in ("lt20", "20to40", "gt40")] == [2, 2, 1]
    assert bands["20to40"]["exact"] == 0.5 and bands["gt40"]["first_recall"] == 1.0
    assert miss_counts(results) == {NOT_FOUND: 0, OTHER_LINE: 0, MISREAD: 1}
    empty = by_height([], crops=False)["lt20"]
    assert empty["images"] == 0 and empty["exact"] is None


@pytest.mark.parametrize(
    ("read", "considered", "first", "reason"),
    [
        ("RK0Z9AN", ["RK0Z9AN", "RK029AN"], True, OTHER_LINE),  # a better read was at hand
        ("VIRGINIA", ["VIRGINIA"], True, OTHER_LINE),  # the state name, not the registration
        ("RK0Z9AN", ["RK0Z9AN"], False, OTHER_LINE),  # another box was ranked first
        ("RK0Z9AN", ["RK0Z9AN", "RKOZ9AN"], True, MISREAD),  # the plate's own line, read wrong
    ],
)
def test_miss_reasons(read: str, considered: list[str], first: bool, reason: str) -> None:
    reads = [PlateRead(t, 0.9) for t in considered]
    assert miss_reason("RK029AN", read, reads, first) == reason


def test_region_option() -> None:
    parser = build_parser()
    base = ["plates", "--manifest", "m.csv", "--root", "."]
    assert parser.parse_args(base).region == "mixed"
    assert parser.parse_args([*base, "--region", "us", "--o-is-zero"]).region == "us"
    with pytest.raises(SystemExit):
        parser.parse_args([*base, "--region", "mars"])
