"""Signed session cookies (itsdangerous) and the login rate limit.

The cookie holds the user's name and a fingerprint of their password hash, signed and time-stamped:
changing a password or removing the user ends their sessions, and nothing secret is in the cookie.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import deque

from itsdangerous import BadData, URLSafeTimedSerializer

COOKIE = "issc_session"


def fingerprint(password_hash: str) -> str:
    """A short digest of a password hash: sessions made before a password change stop working."""
    return hashlib.sha256(password_hash.encode("utf-8")).hexdigest()[:16]


class SessionSigner:
    """Makes and reads the session cookie's value.

    Args:
        secret: The signing key (``AUTH_SECRET`` or the generated one).
        max_age_s: How long a session lasts.
    """

    def __init__(self, secret: bytes, max_age_s: float) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="issc-session")
        self.max_age_s = max_age_s

    def issue(self, name: str, password_hash: str) -> str:
        return self._serializer.dumps({"u": name, "p": fingerprint(password_hash)})

    def read(self, value: str) -> tuple[str, str] | None:
        """``(name, fingerprint)`` from a valid, unexpired cookie value, else None."""
        if not value or len(value) > 4096:
            return None
        try:
            data = self._serializer.loads(value, max_age=self.max_age_s)
        except BadData:
            return None
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("u"), str)
            or not isinstance(data.get("p"), str)
        ):
            return None
        return data["u"], data["p"]


class RateLimit:
    """At most ``per_user`` failed logins per (client, name) and ``per_client`` per client in ``window_s``."""

    def __init__(self, per_user: int = 5, per_client: int = 20, window_s: float = 60.0) -> None:
        self.per_user, self.per_client, self.window_s = per_user, per_client, window_s
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, client: str, name: str) -> float:
        """Seconds until this client may try this name again (0: now)."""
        now = time.monotonic()
        with self._lock:
            waits = [
                self._wait(("u", f"{client}|{name.lower()}"), self.per_user, now),
                self._wait(("c", client), self.per_client, now),
            ]
        return max(waits)

    def failed(self, client: str, name: str) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._failures) > 10_000:  # a flood of names: forget the oldest half
                for key in list(self._failures)[:5_000]:
                    del self._failures[key]
            for key in (("u", f"{client}|{name.lower()}"), ("c", client)):
                self._failures.setdefault(key, deque()).append(now)

    def _wait(self, key: tuple[str, str], limit: int, now: float) -> float:
        times = self._failures.get(key)
        if not times:
            return 0.0
        while times and now - times[0] > self.window_s:
            times.popleft()
        if len(times) < limit:
            return 0.0
        return self.window_s - (now - times[0])
