"""``python -m issc.review``: export what analysts corrected and confirmed as a labelled crop set.

    python -m issc.review export --out data/reviewed
    python -m issc.review export --out data/reviewed --since 2024-05-01T00:00:00Z
    python -m issc.eval plates --manifest data/reviewed/labels.csv --root data/reviewed --crops

The set is ``DIR/<event id>.jpg`` crops plus ``DIR/labels.csv`` in the crops manifest layout
(``image,state,plate_text``; ``state`` is the camera name, lower-cased, only ``[a-z0-9_-]`` kept).
Exporting again into the same folder replaces the set: images the old ``labels.csv`` listed and the
new one does not are removed. A non-empty folder without such a ``labels.csv`` is left alone.

The database is ``DATABASE_URL`` from the settings (``--database-url`` overrides it); like the other
tools, opening it brings it to the latest schema.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import sqlalchemy as sa

from issc.config import load_settings, redact_url
from issc.errors import ISSCError
from issc.plates.text import normalize
from issc.progress import progress
from issc.redact import error_line
from issc.store import Store

#: The manifest's name in the folder, and its columns (``issc.eval.manifest.load_manifest`` reads them).
LABELS = "labels.csv"
COLUMNS = ("image", "state", "plate_text")
#: Image names this tool writes: the event id.
_OUR_IMAGE = re.compile(r"^[0-9]+\.jpg$")
_NOT_STATE_CHAR = re.compile(r"[^a-z0-9_-]")
#: Exit status for bad input: a bad ``--since``, an unreadable database, a folder not ours.
EXIT_BAD_INPUT = 2


class ExportError(ISSCError):
    """The export cannot go ahead; the message says why and what to do."""


class ReviewedCrop(Protocol):
    """What the export needs of a ``LabelledCrop`` (``Store.labelled_crops``)."""

    @property
    def event_id(self) -> int: ...
    @property
    def camera(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def original_text(self) -> str: ...
    @property
    def crop_jpeg(self) -> bytes: ...


@dataclass
class ExportSummary:
    """What one export did.

    Attributes:
        written: Images written (rows in ``labels.csv``).
        corrected: Of those, reads whose text an analyst changed.
        confirmed: Of those, reads an analyst confirmed as read (text unchanged).
        no_crop: Reviewed events skipped because no crop is stored (purged or never saved).
        no_text: Reviewed events skipped because their text is empty.
        removed: Images of the previous export in the folder that this one no longer lists.
    """

    written: int = 0
    corrected: int = 0
    confirmed: int = 0
    no_crop: int = 0
    no_text: int = 0
    removed: list[str] = field(default_factory=list)

    def line(self, out: Path) -> str:
        """The one-line summary the command prints."""
        text = (
            f"wrote {self.written} images to {out} ({self.corrected} corrected, {self.confirmed} confirmed);"
            f" skipped {self.no_crop} without a crop"
        )
        if self.no_text:
            text += f", {self.no_text} without text"
        return text


def state_name(camera: str) -> str:
    """``camera`` as a manifest ``state``: accents dropped (``Č`` → ``c``), lower-cased, only
    ``[a-z0-9_-]`` kept; ``"camera"`` when nothing is left."""
    folded = unicodedata.normalize("NFKD", camera).encode("ascii", "ignore").decode("ascii")
    return _NOT_STATE_CHAR.sub("", folded.lower()) or "camera"


def parse_since(value: str) -> datetime:
    """An ISO 8601 time (``2024-05-01``, ``2024-05-01T12:00:00Z``, ``...+02:00``); naive means UTC.

    Raises:
        ExportError: ``value`` is no ISO 8601 time.
    """
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ExportError(
            f"--since {value!r} is not an ISO 8601 time; expected e.g. 2024-05-01 or 2024-05-01T12:00:00Z"
        ) from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def previous_export(out: Path) -> list[str]:
    """The images a previous export in ``out`` listed; ``[]`` for a missing or empty folder.

    Raises:
        ExportError: ``out`` is a file, or a non-empty folder without a ``labels.csv`` of ours.
    """
    if not out.exists():
        return []
    if not out.is_dir():
        raise ExportError(f"--out {out} is a file; give a folder (new, empty, or an earlier export)")
    if not any(out.iterdir()):
        return []
    labels = out / LABELS
    try:
        with labels.open(newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            rows = list(reader) if header is not None and tuple(header) == COLUMNS else None
    except (OSError, UnicodeDecodeError, csv.Error):
        rows = None
    if rows is None:
        raise ExportError(
            f"--out {out} is not empty and holds no {LABELS} of an earlier export "
            f"({','.join(COLUMNS)}); choose a new or empty folder"
        )
    return [row[0] for row in rows if row and _OUR_IMAGE.match(row[0])]


def export_crops(crops: Iterable[ReviewedCrop], out: Path) -> ExportSummary:
    """Write ``crops`` (``LabelledCrop``\\ s) into ``out`` as a labelled set.

    Images are written as they come; ``labels.csv`` last and atomically, so an export that fails
    midway leaves the previous manifest in place.

    Args:
        crops: Reviewed reads with their crop JPEGs.
        out: The folder: missing, empty, or an earlier export (:func:`previous_export`).

    Returns:
        What was written and skipped.

    Raises:
        ExportError: ``out`` cannot be used.
    """
    old = previous_export(out)
    out.mkdir(parents=True, exist_ok=True)
    summary = ExportSummary()
    rows: list[tuple[str, str, str]] = []
    for crop in crops:
        text = normalize(crop.text)
        if not crop.crop_jpeg:
            summary.no_crop += 1
            continue
        if not text:
            summary.no_text += 1
            continue
        name = f"{int(crop.event_id)}.jpg"
        (out / name).write_bytes(crop.crop_jpeg)
        rows.append((name, state_name(crop.camera), text))
        summary.written += 1
        if normalize(crop.original_text) == text:
            summary.confirmed += 1
        else:
            summary.corrected += 1
    tmp = out / f".{LABELS}.tmp"
    with tmp.open("w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(rows)
    os.replace(tmp, out / LABELS)
    kept = {name for name, _, _ in rows}
    for name in old:
        if name not in kept:
            (out / name).unlink(missing_ok=True)
            summary.removed.append(name)
    return summary


def _check_database(url: str) -> None:
    """Refuse a SQLite file that does not exist: opening it would create an empty history."""
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise ExportError(f"--database-url is not a database URL ({error_line(exc)})") from None
    path = parsed.database
    if parsed.get_backend_name() == "sqlite" and path and path != ":memory:" and not Path(path).is_file():
        raise ExportError(f"the history database {path} does not exist; check --database-url or DATABASE_URL")


def _open_store(database_url: str | None) -> Store:
    """The history store at ``database_url`` (default: the settings' ``DATABASE_URL``), not started."""
    url = database_url or load_settings().store.database_url
    _check_database(url)
    try:
        return Store(url)
    except Exception as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise ExportError(f"the history database {redact_url(url)!r} cannot be opened ({reason})") from None


def cmd_export(args: argparse.Namespace) -> int:
    """``export``: write the reviewed crops; see the module docstring."""
    since = parse_since(args.since) if args.since is not None else None
    previous_export(args.out)  # refuse a foreign folder before touching the database
    store = _open_store(args.database_url)
    try:
        try:
            crops = progress(store.labelled_crops(since=since), desc="export", unit="crop")
            summary = export_crops(crops, args.out)
        except ISSCError:
            raise
        except OSError as exc:
            raise ExportError(f"cannot write into {args.out} ({exc.strerror or exc})") from None
        except Exception as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise ExportError(
                f"cannot read the reviewed plates from the history database ({reason})"
            ) from None
    finally:
        store.close()
    print(summary.line(args.out))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m issc.review``."""
    parser = argparse.ArgumentParser(prog="python -m issc.review", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    export = sub.add_parser(
        "export",
        help="write corrected and confirmed plate crops as a labelled set (DIR/labels.csv)",
        description=(
            "Writes DIR/<event id>.jpg for every plate read an analyst corrected or confirmed, and "
            "DIR/labels.csv (image,state,plate_text; state = the camera) for python -m issc.eval plates --crops."
        ),
    )
    export.add_argument("--out", type=Path, required=True, help="folder: new, empty, or an earlier export")
    export.add_argument("--since", help="only reads reviewed at or after this ISO 8601 time (no offset: UTC)")
    export.add_argument("--database-url", help="history database (default: DATABASE_URL of the settings)")
    export.set_defaults(func=cmd_export)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m issc.review``; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ISSCError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
