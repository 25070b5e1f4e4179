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
from pathlib import Path
from typing import Any

from issc.auth.accounts import Accounts, Principal
from issc.auth.keyfile import (
    SecretFileError,
    default_secret_key_file,
    read_or_create_key,
    write_admin_password,
)
from issc.auth.sessions import COOKIE, Busy, HashPool, RateLimit, SessionSigner
from issc.config import AuthSettings, is_loopback
from issc.config.auth import check_exposure
from issc.errors import ConfigError

logger = logging.getLogger(__name__)

_CACHE_S = 5.0  # a revoked token, ended session or removed user is refused within this many seconds
#: Re-checks of an open page or stream look at least this fresh (revocation reaches open tabs within it).
RECHECK_S = 2.0
OPEN = Principal("local", "admin", "open")
#: Headers a proxy adds: with ``AUTH=auto`` on loopback, a request carrying one comes from beyond
#: this machine (through a proxy or tunnel) and must sign in.
FORWARDED_HEADERS = (
    "forwarded",
    "x-forwarded-for",
    "x-real-ip",
    "x-forwarded-host",
    "x-forwarded-proto",
    "via",
    "cf-connecting-ip",  # Cloudflare Tunnel
    "true-client-ip",
)
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


def forwarded(headers: Mapping[str, str]) -> bool:
    """Whether a request came through a proxy (:data:`FORWARDED_HEADERS`) or names a Host beyond
    this machine (``headers`` with lower-case names)."""
    host = headers.get("host")
    return any(h in headers for h in FORWARDED_HEADERS) or (
        host is not None and not is_loopback(host_name(host))
    )


class Gate:
    """Decides who a request comes from, for one process.

    Args:
        settings: The ``auth`` section.
        accounts: Users and tokens (None when the process has no history database: nobody can log in).
        bind_address: The address the server really listens on (decides ``AUTH=auto``).
        hostname: This machine's name, allowed as a Host by default.
        secret_file: Where the session-cookie key lives (``SECRET_KEY_FILE`` or its default); None
            (and no ``AUTH_SECRET``): a random key for this process only.
    """

    def __init__(
        self,
        settings: AuthSettings,
        accounts: Accounts | None,
        *,
        bind_address: str | None,
        hostname: str = "",
        secret_file: Path | None = None,
    ) -> None:
        self.settings = settings
        self.accounts = accounts
        self.enforced = settings.enforced(bind_address)
        #: ``AUTH=auto`` on loopback: open to this machine, but a forwarded request must sign in.
        self.local_only = settings.auth == "auto" and not self.enforced
        self.hosts = settings.hosts(hostname)
        if settings.auth_secret is not None:
            secret = settings.auth_secret.get_secret_value().encode("utf-8")
        elif secret_file is not None and settings.auth != "off":
            secret = read_or_create_key(secret_file)
        else:
            secret = secrets.token_bytes(32)
        self.signer = SessionSigner(secret, settings.auth_session_hours * 3600)
        self.limit = RateLimit()
        self.hashes = HashPool()
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._proxy_header = (settings.trusted_proxy_header or "").lower()

    def host_allowed(self, host: str | None) -> bool:
        """Whether the Host header names this server (a foreign name: a DNS-rebinding page)."""
        return host is None or host_name(host) in self.hosts

    def required(self, headers: Mapping[str, str]) -> bool:
        """Whether this request must carry credentials (``headers`` with lower-case names).

        Always when auth is enforced; never with ``AUTH=off``; with ``AUTH=auto`` on loopback, when the
        request was forwarded (``Forwarded``, ``X-Forwarded-For``, ``X-Real-IP``, ``X-Forwarded-Host``)
        or names a Host that is not loopback: a proxy or tunnel in front never opens the door.
        """
        if self.enforced:
            return True
        return self.local_only and forwarded(headers)

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
        if not self.required(headers):
            return OPEN
        return self._credentials(headers, cookies, is_loopback(peer), cached_only, _CACHE_S)

    def recheck(
        self, passed: Principal, headers: Mapping[str, str], cookies: Mapping[str, str]
    ) -> Principal | None:
        """The principal of an open page or stream again, as it is now (at most :data:`RECHECK_S` old).

        ``passed`` is what the middleware let in at the handshake (it checked the peer then): None
        when the session ended, the token was revoked or the user was removed; a new role when it
        changed.
        """
        if passed.via == "open":
            return OPEN if not self.required(headers) else None
        found = self._credentials(headers, cookies, passed.via == "proxy", False, RECHECK_S)
        return found if isinstance(found, Principal) else None

    def _credentials(
        self,
        headers: Mapping[str, str],
        cookies: Mapping[str, str],
        peer_is_loopback: bool,
        cached_only: bool,
        max_age: float,
    ) -> Principal | object | None:
        if self.accounts is None:
            return None
        accounts = self.accounts
        authorization = headers.get("authorization", "")
        if authorization[:7].lower() == "bearer ":
            token = authorization[7:].strip()
            return self._cached("t", token, lambda: accounts.check_token(token), cached_only, max_age)
        if self._proxy_header and peer_is_loopback and headers.get(self._proxy_header):
            name = headers[self._proxy_header].strip()
            return self._cached("p", name, lambda: self._proxy_user(name), cached_only, max_age)
        cookie = cookies.get(COOKIE)
        if cookie:
            return self._cached("s", cookie, lambda: self._session_user(cookie), cached_only, max_age)
        return None

    def forget(self, cookie: str) -> None:
        """Drop a session cookie from the cache (it was just ended here)."""
        self._cache.pop(f"s:{cookie}", None)

    def login(self, name: str, password: str, client: str) -> tuple[Principal, str]:
        """Check a name and password; returns the principal and the session cookie's value.

        The attempt is counted against the client, the (client, name) pair and the account before the
        password is checked (one step, so parallel attempts cannot slip past the limit), and the
        argon2 verification waits its turn in :attr:`hashes`.

        Raises:
            LoginRefused: wrong credentials (401), too many failures (429, saying for how long), too
                many logins at once (503) or no user store (503).
        """
        if self.accounts is None:
            raise LoginRefused(503, "Logging in needs the history database (DATABASE_URL), which is off.")
        accounts = self.accounts
        if not accounts.has_users():
            raise LoginRefused(
                401, "No user exists yet: create one with `python -m issc.auth user add NAME --role admin`."
            )
        attempt, wait, kind = self.limit.begin(client, name)
        if attempt is None:
            seconds = int(wait) + 1
            if kind == "account":
                message = (
                    f"This account is locked for {seconds} s after too many failed logins; try again then "
                    "or ask an admin."
                )
            else:
                message = f"Too many failed logins from here: try again in {seconds} s."
            raise LoginRefused(429, message, wait)
        try:
            principal = self.hashes.run(lambda: accounts.check_password(name, password))
        except Busy:
            self.limit.succeeded(attempt)  # not the user's fault: it does not count
            raise LoginRefused(503, "Too many logins at once: try again in a few seconds.", 2.0) from None
        if principal is None:
            raise LoginRefused(401, "Wrong name or password.")
        self.limit.succeeded(attempt)
        try:
            accounts.note_sign_in(principal.name)
        except Exception:  # a failed note never refuses a sign-in
            logger.warning("could not note the sign-in of %s", name, exc_info=True)
        token = accounts.open_session(principal.name, self.signer.max_age_s, client)
        return principal, self.signer.issue(token)

    def logout(self, cookie: str) -> bool:
        """End the session of this cookie (server-side: a copy of the cookie stops working too)."""
        token = self.signer.read(cookie)
        self.forget(cookie)
        return bool(token and self.accounts is not None and self.accounts.end_session(token))

    def _session_user(self, cookie: str) -> Principal | None:
        token = self.signer.read(cookie)
        return self.accounts.session_user(token) if token and self.accounts else None

    def _proxy_user(self, name: str) -> Principal | None:
        """The proxy's user with their role; a name nobody created gets nothing."""
        found = self.accounts.user(name) if self.accounts and 0 < len(name) <= 64 else None
        return Principal(name, found[0], "proxy") if found else None

    def _cached(
        self,
        kind: str,
        key: str,
        look_up: Callable[[], Principal | None],
        cached_only: bool,
        max_age: float = _CACHE_S,
    ) -> Principal | object | None:
        now = time.monotonic()
        slot = f"{kind}:{key}"
        hit = self._cache.get(slot)
        if hit is not None and now - hit[0] < max_age:
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
    password, written to a 0600 file beside the signing key; stderr names the file, never the password.

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
        key_file = settings.secret_key_file or default_secret_key_file(service.settings.store.database_url)
        try:
            gate = Gate(
                settings, accounts, bind_address=bind, hostname=socket.gethostname(), secret_file=key_file
            )
        except SecretFileError as exc:
            raise ConfigError(str(exc)) from None
        if gate.enforced and accounts is not None:
            password = accounts.ensure_admin()
            if password is not None:
                written = write_admin_password(key_file.parent if key_file else None, password)
                print(
                    f"ISSC: no user yet, so user 'admin' was created; its password is in {written} (readable "
                    "by this user only): sign in, change it with `python -m issc.auth user passwd admin`, "
                    "then delete the file.",
                    file=sys.stderr,
                    flush=True,
                )
        _slot = (service, gate)
        return gate
