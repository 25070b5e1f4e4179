"""The process's health as JSON (``/api/health``): the history store's writer and each camera's state.

:func:`health_json` reads what the service already tracks (``Store.status()``, the engine's camera
statuses); it opens no connection and blocks on nothing, so a monitor may poll it often, and it
answers while the database is down, which is when it matters. Strings in it are the same redacted
ones the pages show.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from issc.service import Service


def health_json(service: Service) -> dict[str, Any]:
    """Health of ``service`` (an :class:`issc.service.Service`) as a JSON-ready dict.

    Returns:
        ``{"ok", "store", "cameras"}``: ``ok`` is false when the store cannot write or no camera is
        online; ``store`` is ``None`` when the history is off, else its state (``ok``, ``message``,
        ``queue_depth``, ``queue_bytes``, ``dropped``, ``poisoned``, ``written``, ``retention``);
        ``cameras`` lists each camera's status (as ``/api/cameras`` does).
    """
    store = service.store
    store_json: dict[str, Any] | None = None
    if store is not None:
        s = store.status()
        store_json = {
            "ok": s.ok,
            "message": s.message,
            "queue_depth": s.buffered,
            "queue_bytes": s.queued_bytes,
            "dropped": s.dropped,
            "poisoned": s.poisoned,
            "written": s.written,
            "retention": s.retention,
        }
    cameras = [status.as_json() for status in service.engine.status()]
    any_online = any(c["state"] == "online" for c in cameras)
    ok = (store_json is None or store_json["ok"]) and (any_online or not cameras)
    return {"ok": ok, "store": store_json, "cameras": cameras}
