"""Evidence packs: a set of plate events handed over as one ZIP (``GET /api/plates/evidence.zip``).

The pack holds ``events.csv`` (the Plates page's CSV columns), and per event ``events/<id>/crop.jpg``,
``snapshot.jpg``, ``clip.mp4`` (when stored: ``issc.engine.clips``) and ``event.json`` (the event, the reads that voted for it and its
audit trail: who corrected or confirmed it, when). ``manifest.json`` comes last: when and by whom the
pack was made, the filter, and the SHA-256 and size of every other file, so that the receiver can
check that nothing was changed. At most :data:`MAX_EVIDENCE_EVENTS` events go into one pack
(``manifest.json`` says when more matched).

The ZIP is written to a spooled temporary file (memory up to 16 MiB, then disk) in a worker thread
and streamed from there in chunks.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

from issc.store import CSV_COLUMNS, PlateDetail, PlateFilter, Store
from issc.store.queries import csv_cells

#: The most events one pack holds.
MAX_EVIDENCE_EVENTS = 500
CHUNK_BYTES = 256 * 1024
MANIFEST = "manifest.json"


@dataclass
class EvidencePack:
    """What :func:`write_pack` wrote: each file's SHA-256 and size, and how many events matched."""

    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: int = 0
    matched: int = 0

    @property
    def truncated(self) -> bool:
        return self.matched > self.events


def _event_json(detail: PlateDetail) -> dict[str, Any]:
    row = detail.row
    return {
        "id": row.id,
        "camera": row.camera,
        "text": row.text,
        "original_text": row.original_text or row.text,
        "confidence": row.confidence,
        "first_seen": row.first_seen.isoformat(),
        "last_seen": row.last_seen.isoformat(),
        "box": list(row.box),
        "watchlist": row.watchlist,
        "confirmed": row.confirmed,
        "reads": [
            {
                "text": v.text,
                "confidence": v.confidence,
                "at": v.at.isoformat() if v.at else None,
                "source": v.source,
            }
            for v in detail.votes
        ],
        "audit": [a.as_json() for a in detail.audit],
    }


def write_pack(
    store: Store,
    out: IO[bytes],
    *,
    flt: PlateFilter | None = None,
    ids: list[int] | None = None,
    made_by: str = "",
    limit: int = MAX_EVIDENCE_EVENTS,
) -> EvidencePack:
    """Write the evidence pack of the events ``ids`` (or those matching ``flt``) into ``out``."""
    pack = EvidencePack()
    if ids is not None:
        rows = [d.row for i in ids[: limit + 1] if (d := store.plate_detail(i)) is not None]
        pack.matched = len([i for i in ids if i is not None])
    else:
        flt = flt or PlateFilter()
        rows = store.search_plates(flt, limit=limit + 1)
        pack.matched = store.count_plates(flt) if len(rows) > limit else len(rows)
    rows = rows[:limit]
    pack.events = len(rows)

    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:

        def add(name: str, data: bytes, compress: bool = True) -> None:
            kind = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
            archive.writestr(name, data, compress_type=kind)
            pack.files[name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}

        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for row in rows:
            writer.writerow(csv_cells(row))
        add("events.csv", text.getvalue().encode("utf-8"))
        for row in rows:
            detail = store.plate_detail(row.id)
            if detail is None:  # purged meanwhile
                continue
            folder = f"events/{row.id}"
            add(f"{folder}/event.json", json.dumps(_event_json(detail), indent=2).encode("utf-8"))
            for kind in ("crop", "snapshot"):
                image = store.plate_image(row.id, kind)  # type: ignore[arg-type]
                if image:
                    add(f"{folder}/{kind}.jpg", image, compress=False)
            clip = store.plate_clip(row.id)
            if clip is not None:
                add(f"{folder}/clip.mp4", clip.mp4, compress=False)
        manifest = {
            "made_at": datetime.now(UTC).isoformat(),
            "made_by": made_by,
            "filter": None if ids is not None else _filter_json(flt),
            "ids": ids,
            "events": pack.events,
            "matched": pack.matched,
            "truncated": pack.truncated,
            "max_events": limit,
            "hash": "sha256",
            "files": pack.files,
        }
        archive.writestr(MANIFEST, json.dumps(manifest, indent=2).encode("utf-8"))
    return pack


def _filter_json(flt: PlateFilter | None) -> dict[str, Any] | None:
    if flt is None:
        return None
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in vars(flt).items()}


def pack_chunks(
    store: Store, *, flt: PlateFilter | None, ids: list[int] | None, made_by: str
) -> Iterator[bytes]:
    """The pack as byte chunks (built into a spooled temporary file first, then read out)."""
    with tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024) as spool:
        write_pack(store, spool, flt=flt, ids=ids, made_by=made_by)
        spool.seek(0)
        while chunk := spool.read(CHUNK_BYTES):
            yield chunk
