"""The process's health as JSON (``/api/health``): the history store's writer and each camera's state.

:func:`health_json` reads what the service already tracks (``Store.status()``, the engine's camera
statuses); it opens no connection and blocks on nothing, so a monitor may poll it often, and it
answers while the database is down, which is when it matters. Every string in it goes through
:func:`issc.redact.redact` here, whatever its source already did.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from issc.redact import redact

if TYPE_CHECKING:
    from issc.service import Service


def camera_json(status: Any) -> dict[str, Any]:
    """A camera's status as JSON, its error and detector state redacted (a worker's error may quote
    a URL it was handed)."""
    body = status.as_json()
    for key in ("last_error", "detector"):
        if isinstance(body.get(key), str):
            body[key] = redact(body[key])
    return body


def health_json(service: Service) -> dict[str, Any]:
    """Health of ``service`` (an :class:`issc.service.Service`) as a JSON-ready dict.

    Returns:
        ``{"ok", "store", "cameras", "webhook"}``: ``ok`` is false when the store cannot write or no camera is
        online; ``store`` is ``None`` when the history is off, else its state (``ok``, ``message``,
        ``queue_depth``, ``queue_bytes``, ``dropped``, ``poisoned``, ``written``, ``retention``);
        ``cameras`` lists each camera's status (as ``/api/cameras`` does); ``webhook`` is ``None``
        without ``WEBHOOK_URL``, else what :func:`webhook_json` says.
    """
    store = service.store
    store_json: dict[str, Any] | None = None
    if store is not None:
        s = store.status()
        store_json = {
            "ok": s.ok,
            "message": redact(s.message),
            "queue_depth": s.buffered,
            "queue_bytes": s.queued_bytes,
            "dropped": s.dropped,
            "poisoned": s.poisoned,
            "written": s.written,
            "retention": redact(s.retention),
        }
    cameras = [camera_json(status) for status in service.engine.status()]
    any_online = any(c["state"] == "online" for c in cameras)
    ok = (store_json is None or store_json["ok"]) and (any_online or not cameras)
    return {"ok": ok, "store": store_json, "cameras": cameras, "webhook": webhook_json(service)}


def webhook_json(service: Service) -> dict[str, Any] | None:
    """The webhook's counts (``sent``, ``failed``, ``dropped``, ``pending``, ``last_error``), or None
    without ``WEBHOOK_URL``."""
    alerts = getattr(service, "alerts", None)
    sender = getattr(alerts, "webhook", None)
    if sender is None:
        return None
    body = sender.status()
    if body.get("last_error"):
        body["last_error"] = redact(body["last_error"])
    return body
