"""The ``store`` settings section: the history database, its retention, and the watchlist webhook.

Kept in its own file (like :mod:`issc.config.auth`); it is registered in ``issc/config/__init__.py``
with the other sections and keeps flat env keys (``DATABASE_URL``, ``RETENTION_DAYS`` ...).
``WEBHOOK_SECRET`` is registered with :mod:`issc.redact` when the settings are loaded.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class StoreSettings(BaseModel):
    """Where the history lives, how long it keeps what, and where watchlist hits go."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    database_url: str = Field("sqlite:///data/issc.db", description="SQLAlchemy URL of the history store.")
    webhook_url: str | None = Field(None, description="POST watchlist hits here as JSON.")
    webhook_secret: SecretStr | None = Field(
        None,
        description="Key of the HMAC-SHA256 signature in each webhook POST's X-ISSC-Signature header "
        "(never shown); unset: payloads are not signed.",
    )
    retention_days: int = Field(
        30, ge=0, le=36_500, description="Delete events and their images after this many days (0: keep)."
    )
    retention_max_gb: float = Field(
        0.0,
        ge=0,
        le=100_000,
        description="Delete the oldest events while the events and their images take more (0: no cap).",
    )
    retention_min_keep_h: float = Field(
        24.0,
        ge=0,
        le=24 * 36_500,
        description="RETENTION_MAX_GB never deletes events last seen within this many hours.",
    )
    snapshot_retention_days: int = Field(
        7, ge=0, le=36_500, description="Drop snapshots (crops stay) after this many days (0: keep)."
    )
