"""Webhook signatures: the ``X-ISSC-Signature`` HMAC-SHA256 a sender adds and a receiver checks."""

from __future__ import annotations

import hashlib
import hmac
import time

#: Header carrying the payload's signature: ``t=<unix seconds>,sha256=<hex HMAC>``.
SIGNATURE_HEADER = "X-ISSC-Signature"


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The ``X-ISSC-Signature`` value of ``body`` sent at ``timestamp`` (Unix seconds).

    The HMAC-SHA256, keyed with ``WEBHOOK_SECRET``, covers ``"<timestamp>." + body`` (the raw bytes
    of the POST), so a receiver can refuse a changed body and a replay of an old one.
    """
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},sha256={mac.hexdigest()}"


def verify(secret: str, body: bytes, header: str, max_age_s: float = 300.0, now: float | None = None) -> bool:
    """Whether ``header`` (an ``X-ISSC-Signature`` value) signs ``body`` with ``secret`` and is at
    most ``max_age_s`` old: what a receiver written in Python does (README, "Webhook")."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > max_age_s:
        return False
    expected = sign(secret, body, timestamp).split("sha256=", 1)[1]
    return hmac.compare_digest(expected, fields.get("sha256", ""))
