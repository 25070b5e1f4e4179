"""Signed session cookies (itsdangerous), the login rate limit and the bounded argon2 pool.

The cookie holds a random session token, signed and time-stamped; the session itself is a row of
``auth_sessions`` (only the token's SHA-256 is stored), so logging out, a password or role change,
a user's removal or an admin ends it at once, a copied cookie included.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from itsdangerous import BadData, URLSafeTimedSerializer

COOKIE = "issc_session"
#: The login form's double-submit cookie (its value is also a hidden field of the form).
CSRF_COOKIE = "issc_csrf"

T = TypeVar("T")


class SessionSigner:
    """Makes and reads the session cookie's value, and the CSRF token of a session's forms.

    Args:
        secret: The signing key (``AUTH_SECRET`` or the generated one).
        max_age_s: How long a session lasts.
    """

    def __init__(self, secret: bytes, max_age_s: float) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="issc-session")
        self._secret = secret
        self.max_age_s = max_age_s

    def issue(self, token: str) -> str:
        """The cookie value for a session token."""
        return self._serializer.dumps({"s": token})

    def read(self, value: str) -> str | None:
        """The session token of a valid, unexpired cookie value, else None."""
        if not value or len(value) > 4096:
            return None
        try:
            data = self._serializer.loads(value, max_age=self.max_age_s)
        except BadData:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("s"), str):
            return None
        return data["s"]

    def form_token(self, purpose: str, value: str) -> str:
        """A CSRF token bound to ``value`` (a session cookie, or the login form's cookie)."""
        digest = hmac.new(self._secret, f"{purpose}\0{value}".encode(), hashlib.sha256)
        return digest.hexdigest()[:32]

    def form_token_ok(self, purpose: str, value: str, token: str) -> bool:
        return bool(value and token) and hmac.compare_digest(self.form_token(purpose, value), token)


@dataclass(frozen=True)
class Attempt:
    """A login attempt that passed the limit; it counts as a failure until :meth:`RateLimit.succeeded`."""

    keys: tuple[tuple[str, str], ...]
    at: float


class RateLimit:
    """Failed logins, counted per (client, name), per client and per account.

    ``begin`` checks the limits and counts the attempt as a failure in one step under a lock, so
    parallel attempts cannot all pass the check before any of them fails; a good password takes the
    attempt back (:meth:`succeeded`).

    Args:
        per_user: failures of one client on one name within ``window_s``.
        per_client: failures of one client on any names within ``window_s``.
        per_account: failures on one name from any clients within ``account_window_s`` (the account
            is then locked for the rest of that window, whoever tries).
    """

    def __init__(
        self,
        per_user: int = 5,
        per_client: int = 20,
        window_s: float = 60.0,
        per_account: int = 10,
        account_window_s: float = 900.0,
    ) -> None:
        self.per_user, self.per_client, self.window_s = per_user, per_client, window_s
        self.per_account, self.account_window_s = per_account, account_window_s
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _limits(self, client: str, name: str) -> tuple[tuple[tuple[str, str], int, float], ...]:
        account = name.lower()[:64]
        return (
            (("u", f"{client}|{account}"), self.per_user, self.window_s),
            (("c", client), self.per_client, self.window_s),
            (("a", account), self.per_account, self.account_window_s),
        )

    def begin(self, client: str, name: str) -> tuple[Attempt | None, float, str]:
        """``(attempt, 0, "")`` when this attempt may go on (counted as a failure already), else
        ``(None, seconds to wait, "account" | "client")``."""
        now = time.monotonic()
        limits = self._limits(client, name)
        with self._lock:
            waits = [(self._wait(key, limit, window, now), key[0]) for key, limit, window in limits]
            wait, kind = max(waits)
            if wait > 0:
                return None, wait, "account" if kind == "a" else "client"
            if len(self._failures) > 10_000:  # a flood of names: forget the oldest half
                for key in list(self._failures)[:5_000]:
                    del self._failures[key]
            for key, _, _ in limits:
                self._failures.setdefault(key, deque()).append(now)
        return Attempt(tuple(key for key, _, _ in limits), now), 0.0, ""

    def succeeded(self, attempt: Attempt) -> None:
        """The attempt was right: it is no failure (the client's earlier failures on this name go too)."""
        with self._lock:
            for key in attempt.keys:
                times = self._failures.get(key)
                if times and attempt.at in times:
                    times.remove(attempt.at)
            self._failures.pop(attempt.keys[0], None)

    def retry_after(self, client: str, name: str) -> float:
        """Seconds until this client may try this name again (0: now)."""
        now = time.monotonic()
        with self._lock:
            return max(
                self._wait(key, limit, window, now) for key, limit, window in self._limits(client, name)
            )

    def failed(self, client: str, name: str) -> None:
        """Count one failure (an attempt made without :meth:`begin`)."""
        now = time.monotonic()
        with self._lock:
            for key, _, _ in self._limits(client, name):
                self._failures.setdefault(key, deque()).append(now)

    def _wait(self, key: tuple[str, str], limit: int, window: float, now: float) -> float:
        times = self._failures.get(key)
        if not times:
            return 0.0
        while times and now - times[0] > window:
            times.popleft()
        if len(times) < limit:
            return 0.0
        return window - (now - times[-limit])


class Busy(Exception):
    """The argon2 pool's queue is full: too many logins at once."""


class HashPool:
    """At most ``workers`` argon2 verifications at once (64 MiB each); up to ``queue`` more wait.

    A burst of logins queues here instead of allocating 64 MiB per request; beyond the queue a login
    is refused at once (:class:`Busy`). ``peak`` is the most that ever ran at the same time.
    """

    def __init__(self, workers: int = 2, queue: int = 32) -> None:
        self._running = threading.BoundedSemaphore(workers)
        self._admitted = threading.BoundedSemaphore(workers + queue)
        self._lock = threading.Lock()
        self._now = 0
        self.peak = 0

    def run(self, work: Callable[[], T]) -> T:
        if not self._admitted.acquire(blocking=False):
            raise Busy
        try:
            with self._running:
                with self._lock:
                    self._now += 1
                    self.peak = max(self.peak, self._now)
                try:
                    return work()
                finally:
                    with self._lock:
                        self._now -= 1
        finally:
            self._admitted.release()
