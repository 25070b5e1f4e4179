"""HTTP routes over the plate history: JSON list, CSV export and the stored images.

Built by :func:`plate_routes` for the Starlette app behind ``st.App``:

* ``GET /api/plates?q=&camera=&since=&until=&min_conf=&watchlist_only=&unsure=&limit=&offset=`` →
  ``{"items": [...], "total": N, "limit": L, "offset": O}``, newest first. Confident events only
  unless ``unsure=include`` (all) or ``unsure=only`` (events whose best vote stayed below the
  recognition threshold and nobody confirmed); each item says ``"unsure"``.
* ``GET /api/plates.csv`` (same filters, no paging) → every matching row, streamed, as an attachment.
* ``GET /api/plates/{id}`` → the event with the reads that voted for it and its audit trail.
* ``PATCH /api/plates/{id}`` with JSON ``{"text": "...", "confirmed": true}`` (either or both) corrects
  and/or confirms the event as the signed-in user (an analyst or admin: the middleware answers 403
  to a viewer); 400 for a text that normalises to nothing, 404 for an unknown id.
* ``GET /api/plates/evidence.zip?ids=1,2`` or with the filters above → the evidence pack of those
  events (:mod:`issc.evidence`: CSV, crops, snapshots, reads, audit trail, SHA-256 manifest), at most
  ``MAX_EVIDENCE_EVENTS`` events, streamed;
* ``GET /api/plates/{id}/crop.jpg`` and ``/api/plates/{id}/snapshot.jpg`` → ``image/jpeg`` or 404;
  any other ``/api/plates/...`` path → a 404 JSON error (not the dashboard's page).

Bad parameters get a 400 with ``{"error": "<sentence>", "parameter": "<name>"}``; a failing database
gets a 503. Database work runs in the thread pool, never on the event loop.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from issc.auth import PRINCIPAL_HEADER, acting_user, read_principal_header
from issc.auth.routes import read_body
from issc.evidence import MAX_EVIDENCE_EVENTS, pack_chunks
from issc.store import CorrectionResult, PlateDetail, PlateFilter, PlateRow, Store
from issc.store.records import UNSURE_CHOICES

logger = logging.getLogger(__name__)

MAX_LIMIT = 1000
DEFAULT_LIMIT = 50
MAX_OFFSET = 1_000_000_000  # far past any history; larger numbers would overflow the database's integers
MAX_EVENT_ID = 2**63 - 1  # the largest id a database integer holds
MAX_QUERY_CHARS = 64  # each 6-character piece of q is one more lookup
MAX_CAMERA_CHARS = 200
MAX_PATCH_BYTES = 64 * 1024  # a correction is a few dozen bytes
FILTER_PARAMS = ("q", "camera", "since", "until", "min_conf", "watchlist_only", "unsure")
PAGE_PARAMS = ("limit", "offset")


@dataclass(frozen=True)
class BadParameter(Exception):
    """A query parameter with a value the API cannot use."""

    name: str
    message: str

    def __str__(self) -> str:
        return f"{self.name}: {self.message}"


def _present(params: Mapping[str, str], name: str) -> str | None:
    value = params.get(name)
    return None if value is None or value.strip() == "" else value.strip()


def _text(params: Mapping[str, str], name: str, max_chars: int) -> str | None:
    value = _present(params, name)
    if value is None:
        return None
    if len(value) > max_chars:
        raise BadParameter(name, f"expected at most {max_chars} characters, got {len(value)}")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise BadParameter(name, "expected text without control characters")
    return value


def _ids(raw: str | None) -> list[int] | None:
    """``ids=1,2,3`` (at most :data:`MAX_EVIDENCE_EVENTS`), or None when absent."""
    if raw is None or not raw.strip():
        return None
    try:
        ids = [int(part) for part in raw.split(",") if part.strip()]
    except ValueError:
        raise BadParameter("ids", "expected plate event ids separated by commas, e.g. 12,15") from None
    if len(ids) > MAX_EVIDENCE_EVENTS or any(not 0 <= i <= MAX_EVENT_ID for i in ids):
        raise BadParameter("ids", f"expected at most {MAX_EVIDENCE_EVENTS} plate event ids")
    return ids


def _time(params: Mapping[str, str], name: str) -> datetime | None:
    raw = _present(params, name)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw)
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value  # naive times are UTC
        value.astimezone(UTC)  # a zone that moves the time out of years 1-9999 fails here
    except (ValueError, OverflowError):
        shown = raw if len(raw) <= 40 else raw[:40] + "…"
        raise BadParameter(
            name, f"expected an ISO-8601 time such as 2024-05-01T12:00:00Z, got {shown!r}"
        ) from None
    return value


def _int(params: Mapping[str, str], name: str, default: int, low: int, high: int | None) -> int:
    raw = _present(params, name)
    if raw is None:
        return default
    expected = f"an integer from {low} to {high}" if high is not None else f"an integer of at least {low}"
    shown = raw if len(raw) <= 24 else raw[:24] + "…"
    try:
        value = int(raw) if len(raw) <= 24 else None  # int() of a huge digit string is slow
    except ValueError:
        value = None
    if value is None:
        raise BadParameter(name, f"expected {expected}, got {shown!r}")
    if value < low or (high is not None and value > high):
        raise BadParameter(name, f"expected {expected}, got {shown}")
    return value


def parse_filter(params: Mapping[str, str], allowed: tuple[str, ...] = FILTER_PARAMS) -> PlateFilter:
    """Turn query parameters into a :class:`PlateFilter`.

    Empty values count as absent (HTML forms send ``q=``). Times are ISO-8601; times without a
    zone are taken as UTC.

    Raises:
        BadParameter: naming the first parameter that is unknown or has an unusable value.
    """
    for name in params:
        if name not in allowed:
            shown = name if len(name) <= 40 else name[:40] + "…"
            raise BadParameter(shown, f"unknown parameter; expected one of {', '.join(allowed)}")
    since, until = _time(params, "since"), _time(params, "until")
    if since is not None and until is not None and since >= until:
        raise BadParameter(
            "until", f"expected a time after since ({since.isoformat()}), got {until.isoformat()}"
        )
    min_conf = None
    raw_conf = _present(params, "min_conf")
    if raw_conf is not None:
        try:
            min_conf = float(raw_conf)
        except ValueError:
            min_conf = -1.0
        if not 0.0 <= min_conf <= 1.0:
            raise BadParameter("min_conf", f"expected a number from 0 to 1, got {raw_conf[:24]!r}")
    raw_watch = (_present(params, "watchlist_only") or "false").lower()
    if raw_watch not in ("1", "true", "yes", "0", "false", "no"):
        raise BadParameter("watchlist_only", f"expected true or false, got {raw_watch[:24]!r}")
    unsure = (_present(params, "unsure") or "exclude").lower()
    if unsure not in UNSURE_CHOICES:
        raise BadParameter("unsure", f"expected one of {', '.join(UNSURE_CHOICES)}, got {unsure[:24]!r}")
    return PlateFilter(
        q=_text(params, "q", MAX_QUERY_CHARS),
        camera=_text(params, "camera", MAX_CAMERA_CHARS),
        since=since,
        until=until,
        min_conf=min_conf,
        watchlist_only=raw_watch in ("1", "true", "yes"),
        unsure=unsure,  # type: ignore[arg-type]  # checked against UNSURE_CHOICES above
    )


def plate_json(row: PlateRow) -> dict[str, Any]:
    """The JSON form of one plate event in ``/api/plates``."""
    return {
        "id": row.id,
        "time": row.last_seen.isoformat(),
        "first_seen": row.first_seen.isoformat(),
        "camera": row.camera,
        "text": row.text,
        "confidence": round(row.confidence, 3),
        "reads": row.reads,
        "watchlist": row.watchlist,
        "crop_url": f"/api/plates/{row.id}/crop.jpg" if row.has_crop else None,
        "snapshot_url": f"/api/plates/{row.id}/snapshot.jpg" if row.has_snapshot else None,
        "original_text": row.machine_text,
        "confirmed": row.confirmed,
        "reviewed_by": row.reviewed_by,
        "reviewed_at": None if row.reviewed_at is None else row.reviewed_at.isoformat(),
        "probable": row.probable,
        "unsure": row.unsure,
    }


def detail_json(detail: PlateDetail) -> dict[str, Any]:
    """The JSON form of ``GET /api/plates/{id}``: the event, its votes and its audit trail."""
    row = detail.row
    return {
        **plate_json(row),
        "last_seen": row.last_seen.isoformat(),
        "box": list(row.box),
        "ocr_calls": row.ocr_calls,
        "char_conf": [round(c, 3) for c in row.char_conf],
        "votes": [
            {
                "text": v.text,
                "confidence": round(v.confidence, 3),
                "at": None if v.at is None else v.at.isoformat(),
                "source": v.source,
                "char_conf": [round(c, 3) for c in v.char_conf],
            }
            for v in detail.votes
        ],
        "audit": [a.as_json() for a in detail.audit],
    }


def parse_correction(body: Any) -> tuple[str | None, bool | None]:
    """``(text, confirmed)`` from a PATCH body; raises :class:`BadParameter` for anything else."""
    if not isinstance(body, dict):
        raise BadParameter("body", 'expected a JSON object such as {"text": "LS15EBC", "confirmed": true}')
    unknown = sorted(set(body) - {"text", "confirmed"})
    if unknown:
        raise BadParameter(unknown[0], "unknown field: expected only text and confirmed")
    text, confirmed = body.get("text"), body.get("confirmed")
    if text is not None and not isinstance(text, str):
        raise BadParameter("text", "expected a string")
    if text is not None and len(text) > MAX_QUERY_CHARS:
        raise BadParameter("text", f"expected at most {MAX_QUERY_CHARS} characters, got {len(text)}")
    if confirmed is not None and not isinstance(confirmed, bool):
        raise BadParameter("confirmed", "expected true or false")
    if text is None and confirmed is None:
        raise BadParameter("body", "expected text, confirmed, or both")
    return text, confirmed


def _error(status: int, message: str, parameter: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": message}
    if parameter is not None:
        body["parameter"] = parameter
    return JSONResponse(body, status_code=status)


def _unavailable(exc: Exception) -> JSONResponse:
    logger.exception("history query failed")
    return _error(
        503, f"the history database cannot be read right now ({type(exc).__name__}); try again later"
    )


def plate_routes(
    get_store: Callable[[], Store], on_correction: Callable[[CorrectionResult], None] | None = None
) -> list[Route]:
    """Routes for the plate history.

    Args:
        get_store: Returns the store to query; called per request (so it may be created lazily).
        on_correction: Called (in the thread pool) after each correction, e.g. to raise the
            watchlist alert that a corrected text now deserves.

    Returns:
        Starlette routes to add to the app.
    """

    async def list_plates(request: Request) -> Response:
        try:
            flt = parse_filter(request.query_params, FILTER_PARAMS + PAGE_PARAMS)
            limit = _int(request.query_params, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
            offset = _int(request.query_params, "offset", 0, 0, MAX_OFFSET)
        except BadParameter as exc:
            return _error(400, str(exc), exc.name)

        def query() -> tuple[list[PlateRow], int]:
            store = get_store()
            return store.search_plates(flt, limit=limit, offset=offset), store.count_plates(flt)

        try:
            rows, total = await run_in_threadpool(query)
        except sa.exc.SQLAlchemyError as exc:
            return _unavailable(exc)
        return JSONResponse(
            {"items": [plate_json(r) for r in rows], "total": total, "limit": limit, "offset": offset}
        )

    async def export_csv(request: Request) -> Response:
        try:
            flt = parse_filter(request.query_params)
        except BadParameter as exc:
            return _error(400, str(exc), exc.name)
        store = await run_in_threadpool(get_store)
        # StreamingResponse iterates a plain iterator in the thread pool, chunk by chunk; each chunk
        # is one page read on a short connection of its own, so a slow client holds none.
        chunks = store.iter_plates_csv(flt)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        return StreamingResponse(
            chunks,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="plates-{stamp}.csv"'},
        )

    def image_route(kind: str) -> Callable[[Request], Any]:
        async def image(request: Request) -> Response:
            event_id = request.path_params["event_id"]
            if event_id > MAX_EVENT_ID:
                return _error(400, f"expected a plate event id from 0 to {MAX_EVENT_ID}", "event_id")
            try:
                data = await run_in_threadpool(lambda: get_store().plate_image(event_id, kind))  # type: ignore[arg-type]
            except sa.exc.SQLAlchemyError as exc:
                return _unavailable(exc)
            if data is None:
                return _error(404, f"plate event {event_id} has no {kind} image (unknown id or none stored)")
            # Once auth is on, an image must not outlive the session in the browser's cache.
            principal = read_principal_header(request.headers.get(PRINCIPAL_HEADER))
            private = principal is not None and principal.via != "open"
            cache = "no-store" if private else "private, max-age=86400"
            return Response(data, media_type="image/jpeg", headers={"Cache-Control": cache})

        return image

    def checked_id(request: Request) -> int:
        event_id = request.path_params["event_id"]
        if event_id > MAX_EVENT_ID:
            raise BadParameter("event_id", f"expected a plate event id from 0 to {MAX_EVENT_ID}")
        return int(event_id)

    async def get_plate(request: Request) -> Response:
        try:
            event_id = checked_id(request)
            detail = await run_in_threadpool(lambda: get_store().plate_detail(event_id))
        except BadParameter as exc:
            return _error(400, str(exc), exc.name)
        except sa.exc.SQLAlchemyError as exc:
            return _unavailable(exc)
        if detail is None:
            return _error(404, f"no plate event with id {event_id}")
        return JSONResponse(detail_json(detail))

    async def patch_plate(request: Request) -> Response:
        user = acting_user(request.headers)
        try:
            event_id = checked_id(request)
            raw = await read_body(request, MAX_PATCH_BYTES)
            if raw is None:
                return _error(413, f"the body is larger than {MAX_PATCH_BYTES // 1024} KiB", "body")
            try:
                body = json.loads(raw)
            except (ValueError, RecursionError):
                raise BadParameter("body", "expected a JSON object") from None
            text, confirmed = parse_correction(body)
        except BadParameter as exc:
            return _error(400, str(exc), exc.name)

        def correct() -> PlateDetail | None:
            store = get_store()
            result = store.correct_plate(event_id, text=text, confirmed=confirmed, user=user)
            if on_correction is not None:
                try:
                    on_correction(result)
                except Exception:
                    logger.exception("after correcting plate event %d", event_id)
            return store.plate_detail(event_id)

        try:
            detail = await run_in_threadpool(correct)
        except ValueError as exc:
            return _error(400, str(exc), "text")
        except LookupError:
            return _error(404, f"no plate event with id {event_id}")
        except sa.exc.SQLAlchemyError as exc:
            return _unavailable(exc)
        if detail is None:  # deleted by the retention purge in between
            return _error(404, f"no plate event with id {event_id}")
        logger.info("plate event %d reviewed by %s: %s", event_id, user, detail.row.text)
        return JSONResponse(detail_json(detail))

    async def evidence(request: Request) -> Response:
        """``GET /api/plates/evidence.zip?ids=1,2`` or with the list's filters: the evidence pack."""
        try:
            flt = parse_filter(request.query_params, (*FILTER_PARAMS, "ids"))
            ids = _ids(request.query_params.get("ids"))
        except BadParameter as exc:
            return _error(400, str(exc), exc.name)
        store = await run_in_threadpool(get_store)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        made_by = acting_user(request.headers)
        return StreamingResponse(
            pack_chunks(store, flt=None if ids else flt, ids=ids, made_by=made_by),
            media_type="application/zip",
            headers={"Content-Disposition": f'attachment; filename="evidence-{stamp}.zip"'},
        )

    async def unknown(request: Request) -> Response:
        # Without this, Streamlit's catch-all would answer a mistyped URL with the dashboard's HTML.
        return _error(
            404,
            "no such route: expected /api/plates, /api/plates.csv, /api/plates/<numeric id> "
            "or /api/plates/<numeric id>/crop.jpg (or snapshot.jpg)",
        )

    return [
        Route("/api/plates", list_plates, methods=["GET"]),
        Route("/api/plates.csv", export_csv, methods=["GET"]),
        Route("/api/plates/{event_id:int}", get_plate, methods=["GET"]),
        Route("/api/plates/{event_id:int}", patch_plate, methods=["PATCH"]),
        Route("/api/plates/{event_id:int}/crop.jpg", image_route("crop"), methods=["GET"]),
        Route("/api/plates/{event_id:int}/snapshot.jpg", image_route("snapshot"), methods=["GET"]),
        Route("/api/plates/evidence.zip", evidence, methods=["GET"]),
        Route("/api/plates/{rest:path}", unknown),
    ]
