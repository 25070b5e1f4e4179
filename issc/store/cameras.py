"""Cameras managed on the dashboard (the Cameras page and ``/api/cameras``), kept in the history
database beside the ``CAMERAS`` of the configuration.

A source URL's user and password are stored apart from it (``credentials``) and never shown again:
what is shown is ``rtsp://***@host/…`` (:attr:`CameraRecord.display_source`). Sending that shown form
back keeps the stored credentials; a ``password`` replaces the password alone.

Every change sends ``NOTIFY issc_changes, 'cameras'`` in its transaction on PostgreSQL
(:func:`issc.store.settings.notify_change`), for processes that follow the change feed.
"""

from __future__ import annotations

import time
import typing
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import sqlalchemy as sa

from issc.config import CAMERA_NAME_RE, CameraConfig, PlateSettings, classify_source
from issc.store import schema
from issc.store.settings import notify_change

#: Payload of a camera change on the change feed.
CAMERAS_CHANGED = "cameras"
#: The plate regions a camera may set (``PLATE_REGION``'s values).
PLATE_REGIONS: tuple[str, ...] = typing.get_args(PlateSettings.model_fields["plate_region"].annotation)
MAX_NOTES = 2000
HIDDEN_USERINFO = "***@"


@dataclass(frozen=True)
class CameraRecord:
    """One stored camera. ``source`` holds no credentials; ``credentials`` is ``user:password``
    (percent-encoded as in a URL) or ``None``."""

    name: str
    source: str
    credentials: str | None = None
    enabled: bool = True
    detect_fps: float | None = None
    plate_region: str | None = None
    people: bool = True
    worker: str | None = None
    notes: str = ""
    created_ms: int = 0
    updated_ms: int = 0
    updated_by: str = ""

    @property
    def display_source(self) -> str:
        """The source as shown: ``scheme://***@host/…`` when it has credentials."""
        if not self.credentials:
            return self.source
        return _with_userinfo(self.source, HIDDEN_USERINFO[:-1])

    @property
    def full_source(self) -> str:
        """The source the engine opens, with its credentials."""
        return _with_userinfo(self.source, self.credentials) if self.credentials else self.source

    def config(self) -> CameraConfig:
        """The engine's view of this camera (its id is its name)."""
        kind, source = classify_source(self.full_source, f"camera {self.name!r}")
        return CameraConfig(
            id=self.name,
            name=self.name,
            kind=kind,
            source=source,
            detect_fps=self.detect_fps,
            plate_region=self.plate_region,
            people=self.people,
            stored=True,
        )

    def as_json(self) -> dict[str, Any]:
        """The record for the API and pages: never the credentials."""
        return {
            "name": self.name,
            "source": self.display_source,
            "has_credentials": bool(self.credentials),
            "enabled": self.enabled,
            "detect_fps": self.detect_fps,
            "plate_region": self.plate_region,
            "people": self.people,
            "worker": self.worker,
            "notes": self.notes,
            "updated_ms": self.updated_ms,
            "updated_by": self.updated_by,
        }


def split_credentials(url: str) -> tuple[str, str | None]:
    """(the URL without user and password, ``user:password`` or ``None``)."""
    if "://" not in url:
        return url, None
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" not in netloc:
        return url, None
    userinfo, host = netloc.rsplit("@", 1)
    return urlunsplit(parts._replace(netloc=host)), userinfo or None


def _with_userinfo(url: str, userinfo: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{parts.netloc}"))


def _replace_password(credentials: str | None, password: str) -> str:
    user = unquote(credentials.split(":", 1)[0]) if credentials else ""
    return f"{quote(user, safe='')}:{quote(password, safe='')}"


def _check(field: str, value: Any, expected: type | tuple[type, ...], what: str) -> Any:
    """``value`` when it has the ``expected`` JSON type (a boolean is not a number); else ValueError."""
    is_bool = isinstance(value, bool)
    ok = is_bool if expected is bool else isinstance(value, expected) and not is_bool
    if not ok:
        raise ValueError(f"{field} must be {what}.")
    return value


def camera_changes(fields: dict[str, Any], current: CameraRecord | None) -> dict[str, Any]:
    """The checked column values of a new camera (``current`` None) or of a change to one.

    ``fields`` is what a form or a JSON body gave: ``name``, ``source``, ``password``, ``enabled``,
    ``detect_fps`` (null: ``DETECT_FPS``), ``plate_region`` (null or "": ``PLATE_REGION``), ``people``,
    ``worker``, ``notes``. A source in its shown form (``rtsp://***@…``) keeps the stored credentials.

    Raises:
        ValueError: one sentence naming the field and what was expected.
    """
    known = {
        "name",
        "source",
        "password",
        "enabled",
        "detect_fps",
        "plate_region",
        "people",
        "worker",
        "notes",
    }
    unknown = sorted(set(fields) - known)
    if unknown:
        raise ValueError(f"Unknown field {unknown[0]!r}: expected some of {', '.join(sorted(known))}.")
    values: dict[str, Any] = {}
    if current is None:
        name = fields.get("name")
        if not isinstance(name, str) or not CAMERA_NAME_RE.match(name.strip()):
            raise ValueError(
                "name must be a letter followed by up to 39 letters, digits, '_' or '-', e.g. gate2."
            )
        values["name"] = name.strip()
        if "source" not in fields:
            raise ValueError("source is missing: give an rtsp:// or http(s):// URL, a video file or 'demo'.")
    elif "name" in fields and fields["name"] != current.name:
        raise ValueError("A camera cannot be renamed: remove it and add it under the new name.")
    credentials = current.credentials if current is not None else None
    if "source" in fields:
        source = _check("source", fields["source"], str, "text").strip()
        if len(source) > 2000:
            raise ValueError("source must be at most 2000 characters.")
        keep = f"://{HIDDEN_USERINFO}" in source
        if keep:
            source = source.replace(f"://{HIDDEN_USERINFO}", "://", 1)
        bare, given = split_credentials(source)
        if not keep:
            credentials = given
        values["source"] = bare
        values["credentials"] = credentials
        full = _with_userinfo(bare, credentials) if credentials else bare
        classify_source(full, "source")  # raises with the reason
    if fields.get("password") not in (None, ""):
        password = _check("password", fields["password"], str, "text")
        base = values.get("source", current.source if current is not None else "")
        if "://" not in base:
            raise ValueError("password applies only to a URL source (rtsp://, http://, …).")
        values["credentials"] = _replace_password(values.get("credentials", credentials), password)
    for flag in ("enabled", "people"):
        if flag in fields:
            values[flag] = _check(flag, fields[flag], bool, "true or false")
    if "detect_fps" in fields:
        fps = fields["detect_fps"]
        if fps is not None:
            fps = float(_check("detect_fps", fps, (int, float), "a number of detections per second"))
            if not 0 < fps <= 60:
                raise ValueError(f"detect_fps must be above 0 and at most 60, got {fps:g}.")
        values["detect_fps"] = fps
    if "plate_region" in fields:
        region = fields["plate_region"]
        if region in (None, ""):
            region = None
        else:
            region = _check("plate_region", region, str, "a region name").strip().lower()
            if region not in PLATE_REGIONS:
                raise ValueError(f"plate_region must be one of {', '.join(PLATE_REGIONS)}, got {region!r}.")
        values["plate_region"] = region
    if "worker" in fields:
        worker = fields["worker"]
        if worker is not None:
            worker = _check("worker", worker, str, "a worker id").strip() or None
            if worker is not None and len(worker) > 128:
                raise ValueError("worker must be at most 128 characters.")
        values["worker"] = worker
    if "notes" in fields:
        notes = _check("notes", fields["notes"], str, "text")
        if len(notes) > MAX_NOTES:
            raise ValueError(f"notes must be at most {MAX_NOTES} characters.")
        values["notes"] = notes
    return values


def _record(row: sa.Row) -> CameraRecord:
    m = row._mapping
    return CameraRecord(**{k: m[k] for k in CameraRecord.__dataclass_fields__})


class CameraTable:
    """Add, change, remove and list the stored cameras.

    Args:
        engine: Engine of a migrated history database.
    """

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def list_cameras(self) -> list[CameraRecord]:
        """Every stored camera, by name."""
        c = schema.cameras
        with self.engine.connect() as conn:
            return [_record(r) for r in conn.execute(sa.select(c).order_by(c.c.name))]

    def get_camera(self, name: str) -> CameraRecord | None:
        """The stored camera named ``name``, or ``None``."""
        c = schema.cameras
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(c).where(c.c.name == name)).first()
        return None if row is None else _record(row)

    def add_camera(self, fields: dict[str, Any], user: str) -> CameraRecord:
        """Store a new camera (see :func:`camera_changes` for ``fields``).

        Raises:
            ValueError: a field is wrong, or a camera of that name is stored already.
        """
        values = camera_changes(fields, None)
        if self.get_camera(values["name"]) is not None:
            raise ValueError(
                f"A camera named {values['name']!r} exists already: edit it or pick another name."
            )
        now = int(time.time() * 1000)
        record = replace(CameraRecord(name=values["name"], source=values["source"]), **values)
        record = replace(record, created_ms=now, updated_ms=now, updated_by=user)
        with self.engine.begin() as conn:
            conn.execute(schema.cameras.insert().values(**record.__dict__))
            notify_change(conn, CAMERAS_CHANGED)
        return record

    def update_camera(self, name: str, fields: dict[str, Any], user: str) -> CameraRecord | None:
        """Change a stored camera; ``None`` when there is none of that name.

        Raises:
            ValueError: a field is wrong.
        """
        current = self.get_camera(name)
        if current is None:
            return None
        values = camera_changes(fields, current)
        values.update(updated_ms=int(time.time() * 1000), updated_by=user)
        c = schema.cameras
        with self.engine.begin() as conn:
            conn.execute(c.update().where(c.c.name == name).values(**values))
            notify_change(conn, CAMERAS_CHANGED)
        return replace(current, **values)

    def remove_camera(self, name: str) -> bool:
        """Forget a stored camera; whether there was one."""
        c = schema.cameras
        with self.engine.begin() as conn:
            gone = conn.execute(c.delete().where(c.c.name == name)).rowcount > 0
            notify_change(conn, CAMERAS_CHANGED)
        return gone
