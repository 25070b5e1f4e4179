"""Cameras managed on the dashboard (:mod:`issc.store.cameras`): the part of the service that adds,
changes, tests and removes them at run time, the other cameras never stopping.

With ``ENGINE=local`` a change is applied to this process's engine at once; with ``ENGINE=remote``
only the record is written (the workers are to follow the change feed).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from issc.config import Settings
    from issc.engine import Engine
    from issc.sources.probe import ProbeResult
    from issc.store import Store
    from issc.store.cameras import CameraRecord

logger = logging.getLogger(__name__)


class CameraAdmin:
    """Mixed into :class:`issc.service.Service`, whose ``settings``, ``engine`` and ``store`` it uses."""

    settings: Settings
    engine: Engine
    store: Store | None

    def camera_records(self) -> list[CameraRecord]:
        """The stored cameras (none without a history)."""
        return self.store.list_cameras() if self.store is not None else []

    def configured_names(self) -> set[str]:
        """Names of the cameras of ``CAMERAS`` (editable only in the configuration)."""
        return {c.name for c in self.settings.cameras.cameras}

    def add_camera(self, fields: dict[str, Any], user: str) -> CameraRecord:
        """Store a camera and start it now when enabled (the others keep running).

        Raises:
            ValueError: a field is wrong or the name is taken (one sentence).
            LookupError: there is no history to keep it in.
        """
        store = self._camera_store()
        name = fields.get("name")
        if isinstance(name, str) and name.strip() in self.configured_names() | {"webcam"}:
            raise ValueError(
                f"A camera named {name.strip()!r} comes from the configuration: pick another name."
            )
        record = store.add_camera(fields, user)
        self._apply_camera(None, record)
        return record

    def update_camera(self, name: str, fields: dict[str, Any], user: str) -> CameraRecord | None:
        """Change a stored camera and apply it now (it restarts only when what it runs changed);
        ``None`` when there is none of that name.

        Raises:
            ValueError: a field is wrong (one sentence).
        """
        store = self._camera_store()
        before = store.get_camera(name)
        record = store.update_camera(name, fields, user)
        if record is not None:
            self._apply_camera(before, record)
        return record

    def remove_camera(self, name: str) -> bool:
        """Stop a stored camera and forget it; whether there was one."""
        store = self._camera_store()
        gone = store.remove_camera(name)
        if gone:
            self._apply_camera(None, None, stop=name)
        return gone

    def test_camera(self, fields: dict[str, Any]) -> ProbeResult:
        """Open a source with the engine's own code and report what it sends (or why it failed).

        ``fields``: ``source`` (with ``password``; a shown ``rtsp://***@…`` of the stored camera
        ``name`` keeps its credentials), or only ``name`` of a stored camera.

        Raises:
            ValueError: no usable source (one sentence).
            LookupError: an unknown stored camera.
        """
        from issc.sources.probe import probe_source
        from issc.store.cameras import CameraRecord, camera_changes

        name = fields.get("name")
        current = self.store.get_camera(name) if isinstance(name, str) and self.store is not None else None
        if "source" in fields:
            given = {k: v for k, v in fields.items() if k in ("source", "password")}
            values = camera_changes(given, current or CameraRecord(name="test", source=""))
            record = CameraRecord(name="test", source=values["source"], credentials=values.get("credentials"))
            config = record.config()
        elif current is not None:
            config = current.config()
        elif isinstance(name, str):
            raise LookupError(f"No stored camera is named {name!r}.")
        else:
            raise ValueError('Give the source to test, e.g. {"source": "rtsp://host/stream"}.')
        return probe_source(config)

    def _camera_store(self) -> Store:
        if self.store is None:
            raise LookupError("the plate history is off in this process, so cameras cannot be stored")
        return self.store

    def _apply_camera(
        self, before: CameraRecord | None, after: CameraRecord | None, stop: str | None = None
    ) -> None:
        """Run what the record says on this process's engine (with ``ENGINE=remote`` the workers
        follow the change feed instead)."""
        add, remove = getattr(self.engine, "add_camera", None), getattr(self.engine, "remove_camera", None)
        if add is None or remove is None:
            return
        if after is None:
            remove(stop)
            return
        running = after.name in {c.id for c in self.engine.configs()}
        wanted = after.config() if after.enabled else None
        unchanged = before is not None and before.enabled and before.full_source == after.full_source
        if running and wanted is not None and unchanged and before.config() == wanted:
            return  # notes, worker: nothing the engine runs changed
        if running:
            remove(after.name)
        if wanted is not None:
            add(wanted)
            self._give_shapes(after.name)

    def _start_stored_cameras(self) -> None:
        """Add the enabled stored cameras to the engine (a broken one is logged and left out)."""
        taken = self.configured_names()
        for record in self.camera_records():
            if not record.enabled:
                continue
            if record.name in taken:
                logger.warning("stored camera %s is also in CAMERAS: the configuration's runs", record.name)
                continue
            try:
                self.engine.add_camera(record.config())  # type: ignore[attr-defined]
            except ValueError as exc:
                logger.warning("stored camera %s is not started: %s", record.name, exc)
                continue
            self._give_shapes(record.name)

    def reload_shapes(self) -> None:
        """Read every camera's stored lines and zones again and give them to the cameras running
        here (a worker, when the dashboard saved them). Raises when the database cannot be read."""
        set_shapes = getattr(self.engine, "set_shapes", None)
        if self.store is None or set_shapes is None:
            return
        for name, item in self.store.all_camera_shapes().items():
            set_shapes(name, item.shapes)

    def _give_shapes(self, name: str) -> None:
        """Give a stored camera just added to the engine its stored lines and zones (if any)."""
        set_shapes = getattr(self.engine, "set_shapes", None)
        if self.store is None or set_shapes is None:
            return
        try:
            stored = self.store.camera_shapes(name)
        except Exception:  # the database is away: the camera runs, counting nothing
            logger.exception("camera %s: its lines and zones were not read", name)
            return
        if stored is not None:
            set_shapes(name, stored.shapes)
