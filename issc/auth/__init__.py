"""Authentication of every page and route: users and API tokens (argon2 / SHA-256 hashes in the
history database), signed session cookies, the login page, and the ASGI middleware that guards the
whole server. ``python -m issc.auth`` manages users, tokens and sessions.

Sits above :mod:`issc.store` (its tables live in the history database) and below the routes: the
server hands the middleware the process's gate (:func:`gate_for`) built from the service.
"""

from issc.auth.accounts import ROLES, Accounts, AuthError, Principal, SessionRow, TokenRow, UserRow
from issc.auth.gate import Gate, LoginRefused, gate_for, set_bind_address
from issc.auth.middleware import (
    PRINCIPAL_HEADER,
    AuthMiddleware,
    Refused,
    acting_user,
    read_principal_header,
)
from issc.auth.routes import auth_routes, logout_form
from issc.auth.sessions import COOKIE

__all__ = [
    "COOKIE",
    "PRINCIPAL_HEADER",
    "ROLES",
    "Accounts",
    "AuthError",
    "AuthMiddleware",
    "Gate",
    "LoginRefused",
    "Principal",
    "Refused",
    "SessionRow",
    "TokenRow",
    "UserRow",
    "acting_user",
    "auth_routes",
    "gate_for",
    "logout_form",
    "read_principal_header",
    "set_bind_address",
]
