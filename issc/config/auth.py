"""The ``auth`` settings section: who may reach the dashboard, and on which address it listens.

Kept in its own file (like :mod:`issc.config.cameras`) so that ``issc/config/__init__.py`` stays one
screenful per section; it is registered there with the other sections and keeps flat env keys.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator


def is_loopback(address: str | None) -> bool:
    """Whether a bind or peer address reaches only this machine (``localhost``, 127.0.0.0/8, ``::1``).

    An empty address means "every interface" (Streamlit's default), which is not loopback.
    """
    if not address:
        return False
    host = address.strip().strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class AuthSettings(BaseModel):
    """Authentication of every page and route, and the address the dashboard binds to."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    auth: Literal["on", "off", "auto"] = Field(
        "auto",
        description="on: every page and route needs a login or a token; auto: on whenever the server "
        "listens beyond loopback; off: nobody is asked (loopback only, see AUTH_INSECURE_I_KNOW).",
    )
    server_address: str = Field(
        "127.0.0.1",
        description="Address the dashboard listens on (`make run` passes it as --server.address); "
        "0.0.0.0 serves the whole network.",
    )
    auth_insecure_i_know: bool = Field(
        False, description="Allow AUTH=off on a non-loopback SERVER_ADDRESS (anyone on the network gets in)."
    )
    auth_secret: SecretStr | None = Field(
        None,
        description="Key that signs session cookies (never shown); unset: the key in SECRET_KEY_FILE.",
    )
    secret_key_file: Path | None = Field(
        None,
        description="File holding the session-cookie key, made (mode 0600) on the first start; unset: "
        "secret.key beside a SQLite database, data/secret.key for PostgreSQL. Never in the database "
        "the camera workers write to.",
    )
    auth_session_hours: float = Field(
        168.0, gt=0, le=24 * 366, description="A login stays valid this long (hours)."
    )
    trusted_proxy_header: str | None = Field(
        None,
        description="Header naming the signed-in user (e.g. X-Forwarded-User), set by a reverse proxy "
        "that authenticates; trusted only from loopback peers. Setting it turns auth on (a name nobody "
        "created gets no access).",
    )
    allowed_hosts: str = Field(
        "",
        description="Comma-separated Host names the server answers (DNS-rebinding guard); empty: "
        "localhost, 127.0.0.1, ::1, SERVER_ADDRESS and this machine's hostname.",
    )

    @field_validator("auth", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("secret_key_file", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None  # SECRET_KEY_FILE= in .env: the default, not the working directory
        return value

    @field_validator("secret_key_file")
    @classmethod
    def _not_a_folder(cls, value: Path | None) -> Path | None:
        if value is not None and value.is_dir():
            raise ValueError("expected a file path such as /var/lib/issc/secret.key, got a folder")
        return value

    @field_validator("server_address")
    @classmethod
    def _check_address(cls, value: str) -> str:
        value = value.strip()
        if not value or any(c.isspace() or c in "/@?#" for c in value):
            raise ValueError("expected an IP address or host name such as 127.0.0.1 or 0.0.0.0")
        return value

    @field_validator("trusted_proxy_header")
    @classmethod
    def _check_header(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not all(c.isalnum() or c == "-" for c in value.strip()):
            raise ValueError("expected an HTTP header name such as X-Forwarded-User")
        return value.strip()

    @model_validator(mode="after")
    def _refuse_open_network(self) -> AuthSettings:
        check_exposure(self, self.server_address)
        if self.auth == "off" and self.trusted_proxy_header:
            raise ValueError(
                "AUTH=off with TRUSTED_PROXY_HEADER set cannot both hold: a trusted proxy header turns "
                "auth on, so set AUTH=on (or auto) or unset TRUSTED_PROXY_HEADER"
            )
        return self

    def enforced(self, bind_address: str | None = None) -> bool:
        """Whether credentials are required when the server listens on ``bind_address``
        (default: ``SERVER_ADDRESS``). A trusted proxy header means on."""
        if self.trusted_proxy_header:
            return True
        if self.auth == "auto":
            return not is_loopback(bind_address if bind_address is not None else self.server_address)
        return self.auth == "on"

    def hosts(self, hostname: str = "") -> frozenset[str]:
        """The Host names (lower case, no port) that requests may carry."""
        listed = {h.strip().lower() for h in self.allowed_hosts.split(",") if h.strip()}
        if listed:
            return frozenset(listed)
        defaults = {"localhost", "127.0.0.1", "::1", self.server_address.lower()}
        if hostname:
            defaults |= {hostname.lower(), hostname.split(".")[0].lower()}
        return frozenset(defaults - {"0.0.0.0", "::"})


def check_exposure(settings: AuthSettings, bind_address: str | None) -> None:
    """Refuse ``AUTH=off`` on a non-loopback address unless ``AUTH_INSECURE_I_KNOW=true``.

    Raises:
        ValueError: one sentence naming the keys to change.
    """
    if settings.auth == "off" and not is_loopback(bind_address) and not settings.auth_insecure_i_know:
        shown = bind_address or "every interface"
        raise ValueError(
            f"AUTH=off while the server listens on {shown} would let anyone on the network in: set AUTH=on "
            "(or auto), bind to 127.0.0.1 with SERVER_ADDRESS, or set AUTH_INSECURE_I_KNOW=true"
        )
