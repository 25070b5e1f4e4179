"""The ``analytics`` settings section: which cameras see vehicles come and go, and the overstay limit.

Kept in its own file (like :mod:`issc.config.cluster`); registered in ``issc/config/__init__.py`` with
the other sections, with flat keys (``ENTRY_CAMERAS``, ``EXIT_CAMERAS``, ``OVERSTAY_MIN``).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class AnalyticsSettings(BaseModel):
    """Vehicle visits: which cameras see vehicles come and go, and how long a stay may last."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    entry_cameras: str = Field("", description="Comma-separated names of the cameras at the way in.")
    exit_cameras: str = Field(
        "", description="Comma-separated names of the cameras at the way out (a camera may be both)."
    )
    overstay_min: float = Field(
        0.0, ge=0, le=525_600, description="Alert when a vehicle stays on site longer (minutes; 0: off)."
    )

    @property
    def entries(self) -> tuple[str, ...]:
        return tuple(n.strip() for n in self.entry_cameras.split(",") if n.strip())

    @property
    def exits(self) -> tuple[str, ...]:
        return tuple(n.strip() for n in self.exit_cameras.split(",") if n.strip())
