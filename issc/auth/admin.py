"""Managing users and API tokens from the dashboard (the Users page), every change audited.

:class:`UserAdmin` wraps :class:`~issc.auth.accounts.Accounts` for an acting admin: add a user (with a
generated password, shown once), change a role, reset a password (a new one, shown once), remove a
user, create and revoke tokens. Each change writes one row of ``auth_audit``: who, when, what (never
a password or a token). It refuses what would lock everyone out: removing or demoting the last admin.

Open sessions are the server-side sessions of :class:`~issc.auth.accounts.Accounts` (a browser's
login): the page lists them and ends one, or every session of a user, audited like the rest. A
role change, a password reset and a removal end the user's sessions too.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

import sqlalchemy as sa

from issc.auth import tables
from issc.auth.accounts import Accounts, AuthError, SessionRow, TokenRow, UserRow, check_name, check_role

#: Length of generated passwords (``secrets.token_urlsafe``'s bytes: about 1.3 characters each).
PASSWORD_BYTES = 12


@dataclass(frozen=True)
class AuditRow:
    """One audited change: who did what to whom, when (milliseconds since the epoch)."""

    at_ms: int
    actor: str
    action: str
    target: str
    detail: str


class UserAdmin:
    """User and token changes made by ``actor``, each audited.

    Args:
        accounts: The accounts of the history database.
        actor: The signed-in admin's name (written in the audit trail).
    """

    def __init__(self, accounts: Accounts, actor: str) -> None:
        self.accounts = accounts
        self.actor = actor

    # --- reads -------------------------------------------------------------------------------

    def users(self) -> list[UserRow]:
        return self.accounts.users()

    def tokens(self) -> list[TokenRow]:
        return self.accounts.tokens()

    def audit(self, limit: int = 200) -> list[AuditRow]:
        """The newest audited changes first."""
        a = tables.audit
        query = sa.select(a.c.at_ms, a.c.actor, a.c.action, a.c.target, a.c.detail)
        with self.accounts.engine.connect() as conn:
            rows = conn.execute(query.order_by(a.c.id.desc()).limit(limit)).all()
        return [AuditRow(*row) for row in rows]

    def sessions(self, user: str | None = None) -> list[SessionRow]:
        """Unexpired sessions (of ``user``; everybody's by default), oldest first."""
        return [s for s in self.accounts.sessions() if user is None or s.user == user]

    # --- changes ------------------------------------------------------------------------------

    def add_user(self, name: str, role: str) -> str:
        """Add a user with a generated password; returns it (shown once, never stored in clear)."""
        password = secrets.token_urlsafe(PASSWORD_BYTES)
        self.accounts.add_user(check_name(name), check_role(role), password)
        self._audit("user.add", name, f"role {role}")
        return password

    def set_role(self, name: str, role: str) -> None:
        before = self._role_of(name)
        if before == role:
            return
        self._keep_an_admin(name, before)
        self.accounts.set_role(name, role)
        self._audit("user.role", name, f"{before} -> {role}")

    def reset_password(self, name: str) -> str:
        """A new generated password for ``name`` (their sessions end); returns it, shown once."""
        self._role_of(name)
        password = secrets.token_urlsafe(PASSWORD_BYTES)
        self.accounts.set_password(name, password)
        self._audit("user.password", name, "reset")
        return password

    def remove_user(self, name: str) -> None:
        """Remove a user (their sessions end with them)."""
        role = self._role_of(name)
        if name == self.actor:
            raise AuthError("You cannot remove yourself: another admin can.")
        self._keep_an_admin(name, role)
        self.accounts.remove_user(name)
        self._audit("user.remove", name, f"was {role}")

    def create_token(self, name: str, role: str) -> str:
        """A new API token; returned once."""
        token = self.accounts.create_token(name, role)
        self._audit("token.create", name, f"role {role}")
        return token

    def revoke_token(self, name: str) -> None:
        if not self.accounts.revoke_token(name):
            raise AuthError(f"there is no token named {name!r}.")
        self._audit("token.revoke", name, "")

    def end_session(self, session_id: int) -> str:
        """End one open session (its browser must sign in again); returns whose it was."""
        found = next((s for s in self.accounts.sessions() if s.id == session_id), None)
        if found is None or not self.accounts.end_sessions(session_id=session_id):
            raise AuthError(f"session {session_id} is not open (it ended or expired).")
        self._audit("session.end", found.user, f"session {session_id}")
        return found.user

    def end_user_sessions(self, name: str) -> int:
        """End every open session of ``name``; returns how many ended."""
        self._role_of(name)
        ended = self.accounts.end_sessions(user=name)
        self._audit("session.end_all", name, f"{ended} session{'s' if ended != 1 else ''}")
        return ended

    # --- helpers ------------------------------------------------------------------------------

    def _role_of(self, name: str) -> str:
        found = self.accounts.user(name)
        if found is None:
            raise AuthError(f"user {name!r} does not exist.")
        return found[0]

    def _keep_an_admin(self, name: str, role: str) -> None:
        """Refuse to demote or remove ``name`` (now ``role``) when it is the last admin."""
        if role == "admin" and sum(u.role == "admin" for u in self.accounts.users()) == 1:
            raise AuthError(f"{name!r} is the last admin: make another user an admin first.")

    def _audit(self, action: str, target: str, detail: str) -> None:
        with self.accounts.engine.begin() as conn:
            conn.execute(
                tables.audit.insert().values(
                    at_ms=int(time.time() * 1000),
                    actor=self.actor,
                    action=action,
                    target=target,
                    detail=detail,
                )
            )
