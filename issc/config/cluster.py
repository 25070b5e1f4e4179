"""The ``cluster`` settings section: how a camera worker (``python -m issc.worker``) joins a cluster.

Kept in its own file (like :mod:`issc.config.auth`); it is registered in ``issc/config/__init__.py``
with the other sections and keeps flat env keys (``WORKER_TOKEN``, ``WORKER_ID`` ...).

``WORKER_TOKEN`` is a secret: it is registered with :mod:`issc.redact` as soon as it is read (also
when it is refused), so that no log line or error message shows it.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from issc import redact

#: A shorter token is refused: it could be guessed.
MIN_TOKEN_CHARS = 16


class ClusterSettings(BaseModel):
    """Whether the dashboard runs cameras itself (``ENGINE``), and a camera worker's identity in the
    ``workers`` table, its token and its heartbeat."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    engine: Literal["local", "remote"] = Field(
        "local",
        description="local: this process runs the cameras of CAMERAS (one machine, no set-up); remote: the "
        "dashboard runs no camera and shows every camera of the live workers sharing DATABASE_URL.",
    )
    worker_token: SecretStr | None = Field(
        None,
        description="Bearer token every request to a worker must carry (never shown); required when the "
        "worker listens beyond loopback. The dashboard sends the same one.",
    )
    worker_id: str | None = Field(
        None, description="This worker's id in the workers table; unset: '<hostname>-<port>'."
    )
    worker_url: str | None = Field(
        None,
        description="Where the dashboard reaches this worker, e.g. http://10.0.0.5:8600; unset: "
        "http://<host>:<port> (this machine's name when it listens on every interface).",
    )
    worker_hosts: str = Field(
        "",
        description="Comma-separated hosts the dashboard may contact at a workers-table URL (and send "
        "WORKER_TOKEN to): names, IP addresses or networks such as 10.0.0.0/24, or * for any; empty: "
        "loopback and private-network IP addresses only.",
    )
    heartbeat_s: float = Field(2.0, ge=0.2, le=60, description="A worker's heartbeat period (seconds).")
    worker_dead_s: float = Field(
        10.0, ge=1, le=600, description="A worker without a heartbeat for this long counts as dead."
    )

    @field_validator("worker_token", mode="before")
    @classmethod
    def _check_token(cls, value: Any) -> Any:
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if isinstance(raw, str):
            redact.register(raw)  # before any message can quote it
            return raw.strip() or None
        return value

    @field_validator("worker_id")
    @classmethod
    def _check_id(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if len(value) > 128 or any(c.isspace() or c in "/?#" for c in value):
            raise ValueError("expected at most 128 characters without spaces, '/', '?' or '#'")
        return value

    @field_validator("worker_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not value.strip().startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL such as http://10.0.0.5:8600")
        return value.strip().rstrip("/")

    @field_validator("worker_hosts")
    @classmethod
    def _check_hosts(cls, value: str) -> str:
        for item in (i.strip() for i in value.split(",")):
            if not item or item == "*":
                continue
            if "/" in item:
                try:
                    ipaddress.ip_network(item, strict=False)
                except ValueError:
                    raise ValueError(f"{item!r} is not a network such as 10.0.0.0/24") from None
            elif any(c.isspace() or c in "@?#:" for c in item) and not _is_ip(item):
                raise ValueError(f"{item!r} is not a host name, IP address or network")
        return value.strip()

    @model_validator(mode="after")
    def _check_token_and_periods(self) -> ClusterSettings:
        token = self.token()
        # checked here, not on the field, so that the message never quotes the value
        if token is not None and (len(token) < MIN_TOKEN_CHARS or any(c.isspace() for c in token)):
            raise ValueError(
                f"WORKER_TOKEN must have at least {MIN_TOKEN_CHARS} characters without spaces, e.g. the "
                "output of python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        if self.worker_dead_s < 2 * self.heartbeat_s:
            raise ValueError(
                f"WORKER_DEAD_S={self.worker_dead_s:g} must be at least twice HEARTBEAT_S={self.heartbeat_s:g}, "
                "or one late heartbeat would count a live worker as dead"
            )
        return self

    def worker_url_refusal(self, url: str) -> str | None:
        """Why the dashboard must not contact a ``workers.url`` (None: it may, with the token).

        Only ``http``/``https`` URLs without credentials, to a host ``WORKER_HOSTS`` allows: a row
        anyone with write access to the database could insert must not send the token elsewhere.
        """
        try:
            parts = urlsplit(url)
            host = (parts.hostname or "").lower()
            parts.port  # noqa: B018 - raises on a malformed port
        except ValueError:
            return "its URL is malformed"
        if parts.scheme not in ("http", "https"):
            return "its URL is not http:// or https://"
        if parts.username is not None or parts.password is not None:
            return "its URL carries credentials"
        if not host:
            return "its URL has no host"
        listed = [i.strip().lower() for i in self.worker_hosts.split(",") if i.strip()]
        if not listed:
            return (
                None
                if _private_ip(host)
                else f"its host {host} is not a private address: list it in WORKER_HOSTS"
            )
        for item in listed:
            if item == "*" or item == host:
                return None
            if (
                "/" in item
                and _is_ip(host)
                and ipaddress.ip_address(host) in ipaddress.ip_network(item, strict=False)
            ):
                return None
        return f"its host {host} is not in WORKER_HOSTS"

    def token(self) -> str | None:
        """The token's text (None: unset); compare it with :func:`hmac.compare_digest`."""
        return self.worker_token.get_secret_value() if self.worker_token is not None else None


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True


def _private_ip(host: str) -> bool:
    """A loopback, private (RFC 1918, fc00::/7) or link-local IP address: not the open internet."""
    if not _is_ip(host):
        return host == "localhost"
    address = ipaddress.ip_address(host.strip("[]"))
    return address.is_loopback or address.is_private or address.is_link_local
