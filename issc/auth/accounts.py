"""Users and API tokens in the history database: add, list, remove, and check a password or a token.

Passwords are kept as argon2id hashes (argon2-cffi), tokens as the SHA-256 of 32 random bytes (a
token is as strong as a key, so a slow hash adds nothing); neither is ever stored, logged or shown
in the clear. The session-cookie key is not here: it lives in ``SECRET_KEY_FILE`` (:mod:`issc.auth.keyfile`),
out of the database every camera worker writes to.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from issc.auth import tables
from issc.errors import ISSCError

#: Roles, weakest first: a role may do everything the ones before it may (an analyst also reviews
#: plate reads; an admin also tunes, edits the watchlist, pushes webcam frames and manages users).
ROLES = ("viewer", "analyst", "admin")
TOKEN_PREFIX = "issc_"
MIN_PASSWORD = 8
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
#: Open sessions kept per user: a new login beyond it ends their oldest (no unbounded rows).
MAX_SESSIONS_PER_USER = 20
_LAST_USED_EVERY_MS = 60_000  # a token's "last used" is written at most once a minute


class AuthError(ISSCError):
    """A user or token request cannot be done; the message says why in one sentence."""


@dataclass(frozen=True)
class Principal:
    """Who a request comes from: a name, a role and how it proved it (session, token, proxy, open)."""

    name: str
    role: str
    via: str

    def can(self, role: str) -> bool:
        """Whether this principal has ``role`` or a stronger one."""
        return ROLES.index(self.role) >= ROLES.index(role)


@dataclass(frozen=True)
class UserRow:
    name: str
    role: str
    created_ms: int
    last_login_ms: int | None = None  # the last successful sign-in (None: never)


@dataclass(frozen=True)
class SessionRow:
    """One open login (``python -m issc.auth sessions list``); the token itself is never kept."""

    id: int
    user: str
    created_ms: int
    expires_ms: int
    last_seen_ms: int
    client: str


@dataclass(frozen=True)
class TokenRow:
    name: str
    role: str
    created_ms: int
    last_used_ms: int | None


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AuthError(f"role {role!r} is not known: expected one of {', '.join(ROLES)}.")
    return role


def check_name(name: str) -> str:
    if not _NAME.match(name or ""):
        raise AuthError(
            f"name {name!r} is not valid: use 1 to 64 letters, digits, '.', '_', '@' or '-', starting "
            "with a letter or digit."
        )
    return name


def _now_ms() -> int:
    return int(time.time() * 1000)


def _end_sessions(conn: sa.Connection, name: str) -> int:
    return conn.execute(tables.sessions.delete().where(tables.sessions.c.user_name == name)).rowcount


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Accounts:
    """Users, tokens and sessions of one history database (migrated to revision 0009 or later).

    Args:
        engine: The store's SQLAlchemy engine (``service.current().store.engine``).
        hasher: The argon2id hasher of new passwords. The default is argon2-cffi's RFC 9106
            low-memory profile (64 MiB, 3 passes, 4 lanes), which the dashboard and the command
            line use; cheaper parameters suit only places where the hashes guard nothing (a test's
            throwaway database). Hashes made with other parameters still verify: each carries its
            own.
    """

    def __init__(self, engine: sa.Engine, hasher: PasswordHasher | None = None) -> None:
        self.engine = engine
        self._hasher = hasher or PasswordHasher()
        #: What an unknown name's password is checked against, so that it costs the same time; made
        #: at the first password check, not here (listing users or making a token needs no hash).
        self._dummy: str | None = None

    # --- users ---------------------------------------------------------------------------

    def add_user(self, name: str, role: str, password: str) -> None:
        """Add a user; raises :class:`AuthError` when the name is taken or the password too short."""
        check_name(name)
        check_role(role)
        if len(password) < MIN_PASSWORD:
            raise AuthError(f"the password is too short: use at least {MIN_PASSWORD} characters.")
        row = {"name": name, "role": role, "password_hash": self._hasher.hash(password)}
        try:
            with self.engine.begin() as conn:
                conn.execute(tables.users.insert().values(**row, created_ms=_now_ms()))
        except sa.exc.IntegrityError:
            raise AuthError(f"user {name!r} exists already: remove it first, or pick another name.") from None

    def set_password(self, name: str, password: str) -> None:
        """Replace a user's password (their open sessions end)."""
        if len(password) < MIN_PASSWORD:
            raise AuthError(f"the password is too short: use at least {MIN_PASSWORD} characters.")
        with self.engine.begin() as conn:
            update = tables.users.update().where(tables.users.c.name == name)
            if conn.execute(update.values(password_hash=self._hasher.hash(password))).rowcount == 0:
                raise AuthError(f"user {name!r} does not exist.")
            _end_sessions(conn, name)

    def set_role(self, name: str, role: str) -> None:
        """Give a user another role (their open sessions end: they sign in again with the new one)."""
        check_role(role)
        with self.engine.begin() as conn:
            update = tables.users.update().where(tables.users.c.name == name)
            if conn.execute(update.values(role=role)).rowcount == 0:
                raise AuthError(f"user {name!r} does not exist.")
            _end_sessions(conn, name)

    def note_sign_in(self, name: str) -> None:
        """Remember that ``name`` signed in now (the Users page shows it)."""
        with self.engine.begin() as conn:
            conn.execute(
                tables.users.update().where(tables.users.c.name == name).values(last_login_ms=_now_ms())
            )

    def remove_user(self, name: str) -> bool:
        """Remove a user and end their sessions; False when there was no such user."""
        with self.engine.begin() as conn:
            _end_sessions(conn, name)
            return conn.execute(tables.users.delete().where(tables.users.c.name == name)).rowcount > 0

    def users(self) -> list[UserRow]:
        u = tables.users
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(u.c.name, u.c.role, u.c.created_ms, u.c.last_login_ms).order_by(u.c.name)
            ).all()
        return [UserRow(*row) for row in rows]

    def has_users(self) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(tables.users)).scalar_one() > 0

    def user(self, name: str) -> tuple[str, str] | None:
        """``(role, password_hash)`` of a user, or None."""
        u = tables.users
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(u.c.role, u.c.password_hash).where(u.c.name == name)).first()
        return None if row is None else (row[0], row[1])

    def check_password(self, name: str, password: str) -> Principal | None:
        """The user, when ``password`` is theirs (an unknown name takes as long as a wrong password).

        Costs one argon2 verification (64 MiB, ~50 ms): the gate runs it through a bounded pool."""
        if self._dummy is None:  # at the first check whatever the name, so it tells nothing about it
            self._dummy = self._hasher.hash(secrets.token_hex(16))
        found = self.user(name) if _NAME.match(name or "") else None
        try:
            self._hasher.verify(found[1] if found else self._dummy, password)
        except (VerificationError, InvalidHashError):
            return None
        return Principal(name, found[0], "session") if found else None

    def ensure_admin(self) -> str | None:
        """With no user at all, create ``admin`` with a random password and return it (once)."""
        if self.has_users():
            return None
        password = secrets.token_urlsafe(15)
        try:
            self.add_user("admin", "admin", password)
        except AuthError:  # another process made it first
            return None
        return password

    # --- tokens --------------------------------------------------------------------------

    def create_token(self, name: str, role: str = "viewer") -> str:
        """A new API token (returned once; only its hash is kept)."""
        check_name(name)
        check_role(role)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        t = tables.tokens
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    t.insert().values(name=name, role=role, token_sha256=_digest(token), created_ms=_now_ms())
                )
        except sa.exc.IntegrityError:
            raise AuthError(
                f"a token named {name!r} exists already: revoke it first, or pick another name."
            ) from None
        return token

    def tokens(self) -> list[TokenRow]:
        t = tables.tokens
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(t.c.name, t.c.role, t.c.created_ms, t.c.last_used_ms).order_by(t.c.name)
            ).all()
        return [TokenRow(*row) for row in rows]

    def revoke_token(self, name: str) -> bool:
        with self.engine.begin() as conn:
            return conn.execute(tables.tokens.delete().where(tables.tokens.c.name == name)).rowcount > 0

    def check_token(self, token: str) -> Principal | None:
        """The token's principal, when it is a live token; notes when it was last used."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 256:
            return None
        t = tables.tokens
        digest = _digest(token)
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(t.c.id, t.c.name, t.c.role, t.c.last_used_ms).where(t.c.token_sha256 == digest)
            ).first()
        if row is None:
            return None
        now = _now_ms()
        if row.last_used_ms is None or now - row.last_used_ms > _LAST_USED_EVERY_MS:
            with self.engine.begin() as conn:
                conn.execute(t.update().where(t.c.id == row.id).values(last_used_ms=now))
        return Principal(row.name, row.role, "token")

    # --- sessions ------------------------------------------------------------------------

    def open_session(self, name: str, max_age_s: float, client: str = "") -> str:
        """Record a new login of ``name`` and return its token (only its SHA-256 is kept)."""
        token = secrets.token_urlsafe(32)
        now = _now_ms()
        with self.engine.begin() as conn:
            conn.execute(
                tables.sessions.insert().values(
                    token_sha256=_digest(token),
                    user_name=name,
                    created_ms=now,
                    expires_ms=now + int(max_age_s * 1000),
                    last_seen_ms=now,
                    client=client[:64],
                )
            )
            # a good moment to drop the expired ones of everybody, and this user's oldest beyond the cap
            s = tables.sessions
            conn.execute(s.delete().where(s.c.expires_ms < now))
            kept = (
                sa.select(s.c.id)
                .where(s.c.user_name == name)
                .order_by(s.c.id.desc())
                .limit(MAX_SESSIONS_PER_USER)
            )
            conn.execute(s.delete().where(s.c.user_name == name, s.c.id.not_in(kept.scalar_subquery())))
        return token

    def session_user(self, token: str) -> Principal | None:
        """The user of a live session (their role as it is now), else None; notes when it was last seen."""
        if not token or len(token) > 128:
            return None
        s, u = tables.sessions, tables.users
        now = _now_ms()
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(s.c.id, s.c.user_name, s.c.last_seen_ms, u.c.role)
                .join(u, u.c.name == s.c.user_name)
                .where(s.c.token_sha256 == _digest(token), s.c.expires_ms > now)
            ).first()
        if row is None:
            return None
        if now - row.last_seen_ms > _LAST_USED_EVERY_MS:
            with self.engine.begin() as conn:
                conn.execute(s.update().where(s.c.id == row.id).values(last_seen_ms=now))
        return Principal(row.user_name, row.role, "session")

    def end_session(self, token: str) -> bool:
        """End the session of this token (logging out)."""
        with self.engine.begin() as conn:
            gone = tables.sessions.delete().where(tables.sessions.c.token_sha256 == _digest(token))
            return conn.execute(gone).rowcount > 0

    def sessions(self) -> list[SessionRow]:
        """Every unexpired session, oldest first."""
        s = tables.sessions
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(s.c.id, s.c.user_name, s.c.created_ms, s.c.expires_ms, s.c.last_seen_ms, s.c.client)
                .where(s.c.expires_ms > _now_ms())
                .order_by(s.c.id)
            ).all()
        return [SessionRow(*row) for row in rows]

    def end_sessions(self, *, session_id: int | None = None, user: str | None = None) -> int:
        """End one session by its id, or every session of a user; returns how many ended."""
        with self.engine.begin() as conn:
            if session_id is not None:
                return conn.execute(
                    tables.sessions.delete().where(tables.sessions.c.id == session_id)
                ).rowcount
            return _end_sessions(conn, user or "")
