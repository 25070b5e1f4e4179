"""``python -m issc.review export``: reviewed crops out of a real SQLite history, into a labelled
set that ``python -m issc.eval plates --crops`` reads; and the refusals (bad --since, unreadable
database, a folder that is not an earlier export)."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from issc.review.__main__ import LABELS, export_crops, main, parse_since, state_name
from issc.store import PlateFilter, Store
from issc.types import PlateEvent

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
_WAITS = "waits for Store.labelled_crops"
needs_review_store = pytest.mark.skipif(
    not (hasattr(Store, "labelled_crops") and hasattr(Store, "correct_plate")), reason=_WAITS
)


@dataclass(frozen=True)
class Crop:
    """Stands in for ``issc.store.records.LabelledCrop`` where no database is needed."""

    event_id: int
    camera: str
    text: str
    original_text: str
    confirmed: bool
    reviewed_at: datetime
    crop_jpeg: bytes


def crop(event_id: int, text: str, original: str | None = None, jpeg: bytes = b"\xff\xd8jpeg") -> Crop:
    return Crop(event_id, "Gate Cam #1", text, original or text, original is None, T0, jpeg)


def read_labels(folder: Path) -> list[dict[str, str]]:
    with (folder / LABELS).open(newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize(
    ("camera", "state"),
    [
        ("gate", "gate"),
        ("Gate Cam #1", "gatecam1"),
        ("yard_2-north", "yard_2-north"),
        ("Čáp!", "cap"),
        ("***", "camera"),
    ],
)
def test_state_name(camera: str, state: str) -> None:
    assert state_name(camera) == state


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-01", T0 - timedelta(hours=12)),
        ("2024-05-01T12:00:00Z", T0),
        ("2024-05-01T14:00:00+02:00", T0),
    ],
)
def test_since_is_iso_8601_and_naive_means_utc(value: str, expected: datetime) -> None:
    assert parse_since(value) == expected


def test_export_writes_images_and_a_crops_manifest(tmp_path: Path) -> None:
    out = tmp_path / "set"
    crops = [crop(7, "LS15EBC", "LS15E8C"), crop(9, "ABC1D23"), crop(11, "AB12CDE", "AB12CD", jpeg=b"")]
    summary = export_crops(crops, out)
    assert (summary.written, summary.corrected, summary.confirmed, summary.no_crop) == (2, 1, 1, 1)
    assert (
        summary.line(out) == f"wrote 2 images to {out} (1 corrected, 1 confirmed); skipped 1 without a crop"
    )
    assert read_labels(out) == [
        {"image": "7.jpg", "state": "gatecam1", "plate_text": "LS15EBC"},
        {"image": "9.jpg", "state": "gatecam1", "plate_text": "ABC1D23"},
    ]
    assert (out / "7.jpg").read_bytes() == b"\xff\xd8jpeg"
    assert sorted(p.name for p in out.iterdir()) == ["7.jpg", "9.jpg", LABELS]


def test_exporting_again_replaces_the_earlier_set(tmp_path: Path) -> None:
    export_crops([crop(7, "LS15EBC"), crop(9, "ABC1D23")], tmp_path)
    (tmp_path / "notes.txt").write_text("an analyst's own file")
    summary = export_crops([crop(9, "ABC1D23"), crop(12, "BA123XY")], tmp_path)
    assert summary.removed == ["7.jpg"]
    assert [r["image"] for r in read_labels(tmp_path)] == ["9.jpg", "12.jpg"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["12.jpg", "9.jpg", LABELS, "notes.txt"]


@pytest.mark.parametrize(
    "labels", [None, "set,image,plate_text,x,y,w,h\n", "not,a,manifest\n"], ids=["none", "boxes", "other"]
)
def test_export_refuses_a_folder_that_is_not_an_earlier_export(
    tmp_path: Path, labels: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "holiday.jpg").write_bytes(b"x")
    if labels is not None:
        (tmp_path / LABELS).write_text(labels)
    code = main(["export", "--out", str(tmp_path), "--database-url", "sqlite:///never-opened.db"])
    assert code == 2
    assert "is not empty and holds no labels.csv of an earlier export" in capsys.readouterr().err
    assert (tmp_path / "holiday.jpg").read_bytes() == b"x"
    assert not Path("never-opened.db").exists()


def test_a_bad_since_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["export", "--out", str(tmp_path / "o"), "--since", "yesterday", "--database-url", "sqlite://"]
    )
    assert code == 2
    assert "--since 'yesterday' is not an ISO 8601 time" in capsys.readouterr().err


def test_a_missing_database_is_refused_not_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "missing.db"
    assert main(["export", "--out", str(tmp_path / "o"), "--database-url", f"sqlite:///{db}"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not db.exists() and not (tmp_path / "o").exists()


def test_an_unreadable_database_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "garbage.db"
    db.write_bytes(b"this is not a SQLite database, just text " * 100)
    assert main(["export", "--out", str(tmp_path / "o"), "--database-url", f"sqlite:///{db}"]) == 2
    assert "cannot be opened" in capsys.readouterr().err


# --- through a real store and issc.eval ------------------------------------------------------


def crop_jpegs(data_dir: Path, n: int) -> list[tuple[str, str, bytes]]:
    """``n`` plate crops of the shared test data as ``(state, text, jpeg)``."""
    import cv2

    folder = data_dir / "plates" / "crops"
    if not (folder / LABELS).is_file():
        pytest.skip(f"no plate crops in {folder}")
    out = []
    for row in read_labels(folder)[:n]:
        ok, jpeg = cv2.imencode(
            ".jpg", cv2.imread(str(folder / row["image"])), [cv2.IMWRITE_JPEG_QUALITY, 95]
        )
        assert ok
        out.append((row["state"], row["plate_text"], jpeg.tobytes()))
    return out


def event(minute: int, camera: str, text: str, jpeg: bytes) -> PlateEvent:
    last = T0 + timedelta(minutes=minute)
    return PlateEvent(camera, last - timedelta(seconds=3), last, text, 0.5, 3, (0, 0, 10, 10), crop_jpeg=jpeg)


@needs_review_store
@pytest.mark.slow
def test_reviewed_crops_export_to_a_set_that_eval_reads(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from issc.eval.cli import main as eval_main

    (s1, t1, j1), (s2, t2, j2), (s3, t3, j3) = crop_jpegs(data_dir, 3)
    url = f"sqlite:///{tmp_path / 'history.db'}"
    with Store(url) as store:
        for minute, (camera, text, jpeg) in enumerate(
            [
                (f"{s1.upper()} Gate", t1[:-1] + "X", j1),  # misread: corrected
                (s2, t2[1:], j2),  # a character lost: corrected and confirmed
                (s3, t3, j3),  # read right: confirmed
                ("yard", "AB12CDE", b""),  # corrected, but no crop stored: skipped
                ("yard", "LS15EBC", j1),  # never reviewed: not exported
            ]
        ):
            store.add_plate_event(event(minute, camera, text, jpeg))
        assert store.flush()
        ids = {row.text: row.id for row in store.search_plates(PlateFilter(), limit=10)}
        store.correct_plate(ids[t1[:-1] + "X"], text=t1, confirmed=False, user="ana")
        store.correct_plate(ids[t2[1:]], text=t2, confirmed=True, user="ana")
        store.correct_plate(ids[t3], text=t3, confirmed=True, user="ana")
        store.correct_plate(ids["AB12CDE"], text="AB12CDF", confirmed=True, user="ana")

    out = tmp_path / "reviewed"
    assert main(["export", "--out", str(out), "--database-url", url]) == 0
    assert capsys.readouterr().out.strip() == (
        f"wrote 3 images to {out} (2 corrected, 1 confirmed); skipped 1 without a crop"
    )
    rows = read_labels(out)
    assert sorted((r["state"], r["plate_text"]) for r in rows) == sorted(
        [(f"{s1}gate", t1), (s2, t2), (s3, t3)]
    )
    assert all((out / r["image"]).read_bytes()[:2] == b"\xff\xd8" for r in rows)

    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert main(["export", "--out", str(tmp_path / "none"), "--since", later, "--database-url", url]) == 0
    assert capsys.readouterr().out.startswith("wrote 0 images")

    manifest = str(out / LABELS)
    assert eval_main(["plates", "--manifest", manifest, "--root", str(out), "--crops", "--json"]) == 0
    totals = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert totals["images"] == len(rows) == 3
    assert totals["box_recall"] is None  # read as crops
