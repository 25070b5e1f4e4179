"""The process's gate: who a request comes from, whether it may pass, and logging in.

One :class:`Gate` per service (:func:`gate_for`), built from the ``auth`` settings and the store's
engine once, so no request re-reads the settings. The middleware (:mod:`issc.auth.middleware`), the
login routes and the pages all ask the same gate.
"""

from __future__ import annotations

import logging
import secrets
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from issc.auth.accounts import Accounts, Principal
from issc.auth.sessions import COOKIE, RateLimit, SessionSigner, fingerprint
from issc.config import AuthSettings, is_loopback
from issc.config.auth import check_exposure
from issc.errors import ConfigError

logger = logging.getLogger(__name__)

_CACHE_S = 5.0  # a revoked token or removed user is refused within this many seconds
OPEN = Principal("local", "admin", "open")
#: :meth:`Gate.identify` with ``cached_only``: the answer needs the database.
MISS = object()


class LoginRefused(Exception):
    """A login attempt failed: ``status`` 401 (wrong name or password), 429 (too many) or 503."""

    def __init__(self, status: int, message: str, retry_after: float = 0.0) -> None:
        super().__init__(message)
        self.status, self.retry_after = status, retry_after


def host_name(host: str) -> str:
    """The host of a Host header, lower case, without its port (``[::1]:8501`` -> ``::1``)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class Gate:
    """Decides who a request comes from, for one process.

    Args:
        settings: The ``auth`` section.
        accounts: Users and tokens (None when the process has no history database: nobody can log in).
        bind_address: The address the server really listens on (decides ``AUTH=auto``).
        hostname: This machine's name, allowed as a Host by default.
    """

    def __init__(
        self,
        settings: AuthSettings,
        accounts: Accounts | None,
        *,
        bind_address: str | None,
        hostname: str = "",
    ) -> None:
        self.settings = settings
        self.accounts = accounts
        self.enforced = settings.enforced(bind_address)
        self.hosts = settings.hosts(hostname)
        if settings.auth_secret is not None:
            secret = settings.auth_secret.get_secret_value().encode("utf-8")
        elif accounts is not None and self.enforced:
            secret = accounts.session_secret()
        else:
            secret = secrets.token_bytes(32)
        self.signer = SessionSigner(secret, settings.auth_session_hours * 3600)
        self.limit = RateLimit()
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._proxy_header = (settings.trusted_proxy_header or "").lower()

    def host_allowed(self, host: str | None) -> bool:
        """Whether the Host header names this server (a foreign name: a DNS-rebinding page)."""
        return host is None or host_name(host) in self.hosts

    def identify(
        self,
        headers: Mapping[str, str],
        cookies: Mapping[str, str],
        peer: str | None,
        *,
        cached_only: bool = False,
    ) -> Principal | object | None:
        """The principal of a request (``headers`` with lower-case names), or None without valid credentials.

        With ``cached_only``, answers :data:`MISS` instead of querying the database (the middleware then
        asks again from a worker thread, so the event loop never waits for the database).
        """
        if not self.enforced:
            return OPEN
        if self.accounts is None:
            return None
        authorization = headers.get("authorization", "")
        if authorization[:7].lower() == "bearer ":
            token = authorization[7:].strip()
            return self._cached("t", token, lambda: self.accounts.check_token(token), cached_only)  # type: ignore[union-attr]
        if self._proxy_header and is_loopback(peer) and headers.get(self._proxy_header):
            name = headers[self._proxy_header].strip()
            return self._cached("p", name, lambda: self._proxy_user(name), cached_only)
        cookie = cookies.get(COOKIE)
        if cookie:
            return self._cached("s", cookie, lambda: self._session_user(cookie), cached_only)
        return None

    def login(self, name: str, password: str, client: str) -> tuple[Principal, str]:
        """Check a name and password; returns the principal and the session cookie's value.

        Raises:
            LoginRefused: wrong credentials (401), too many failures (429), no user store (503).
        """
        if self.accounts is None:
            raise LoginRefused(503, "Logging in needs the history database (DATABASE_URL), which is off.")
        wait = self.limit.retry_after(client, name)
        if wait > 0:
            raise LoginRefused(429, f"Too many failed logins: try again in {int(wait) + 1} s.", wait)
        principal = self.accounts.check_password(name, password)
        found = self.accounts.user(name) if principal else None
        if principal is None or found is None:
            self.limit.failed(client, name)
            raise LoginRefused(401, "Wrong name or password.")
        try:
            self.accounts.note_sign_in(name)
        except Exception:  # a failed note never refuses a sign-in
            logger.warning("could not note the sign-in of %s", name, exc_info=True)
        return principal, self.signer.issue(name, found[1])

    def _session_user(self, cookie: str) -> Principal | None:
        read = self.signer.read(cookie)
        found = self.accounts.user(read[0]) if read and self.accounts else None
        if read is None or found is None or fingerprint(found[1]) != read[1]:
            return None
        return Principal(read[0], found[0], "session")

    def _proxy_user(self, name: str) -> Principal:
        found = self.accounts.user(name) if self.accounts else None
        return Principal(name, found[0] if found else "viewer", "proxy")

    def _cached(
        self, kind: str, key: str, look_up: Callable[[], Principal | None], cached_only: bool
    ) -> Principal | object | None:
        now = time.monotonic()
        slot = f"{kind}:{key}"
        hit = self._cache.get(slot)
        if hit is not None and now - hit[0] < _CACHE_S:
            return hit[1]
        if cached_only:
            return MISS
        principal = look_up()
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[slot] = (now, principal)
        return principal


# --- one gate per service --------------------------------------------------------------------

_lock = threading.Lock()
_slot: tuple[Any, Gate] | None = None
_bind_address: str | None = None
_bind_known = False


def set_bind_address(address: str | None) -> None:
    """The address the server really listens on (app.py reads it from Streamlit's ``server.address``)."""
    global _bind_address, _bind_known
    _bind_address, _bind_known = address, True


def gate_for(service: Any) -> Gate:
    """The gate of a service (anything with ``settings`` and ``store``), built once per service.

    At the first build with credentials required and no user yet, ``admin`` is created with a random
    password, printed once on stderr.

    Raises:
        ConfigError: ``AUTH=off`` on a non-loopback address without ``AUTH_INSECURE_I_KNOW=true``.
    """
    global _slot
    slot = _slot
    if slot is not None and slot[0] is service:
        return slot[1]
    with _lock:
        if _slot is not None and _slot[0] is service:
            return _slot[1]
        settings: AuthSettings = service.settings.auth
        bind = _bind_address if _bind_known else settings.server_address
        if _bind_known and (bind or "") != settings.server_address:
            logger.warning(
                "the server listens on %s but SERVER_ADDRESS is %s: AUTH=auto follows the real address; "
                "start it with `make run` so that both agree",
                bind or "every interface",
                settings.server_address,
            )
        try:
            check_exposure(settings, bind)
        except ValueError as exc:
            raise ConfigError(f"{exc}.") from None
        accounts = Accounts(service.store.engine) if service.store is not None else None
        gate = Gate(settings, accounts, bind_address=bind, hostname=socket.gethostname())
        if gate.enforced and accounts is not None:
            password = accounts.ensure_admin()
            if password is not None:
                print(
                    f"ISSC: no user yet, so user 'admin' was created with password {password} (shown this "
                    "once; change it with `python -m issc.auth user passwd admin`).",
                    file=sys.stderr,
                    flush=True,
                )
        _slot = (service, gate)
        return gate
