"""Lines, zones and visits (issue 21): the shapes of each camera, crossings, visits, hourly totals.

* ``camera_zones``: per camera name, its lines and zones as JSON (``{"zones": [...]}``) with the
  frame size their pixels refer to.
* ``line_crossings``: one row per person crossing a line (``direction`` ``in``/``out``).
* ``zone_visits``: one row per visit of a zone, entry to exit (``start_ms``, ``end_ms``).
* ``analytics_hours``: the counter's totals per camera, UTC hour, kind and name: crossings in and
  out, zone entries, visits and summed dwell, max occupancy, distinct people (kind ``people``).
* ``plate_directions``: per plate pass (``pass_key``), the direction of travel from the plate box's
  growth (``towards``/``away``/``unknown``).

Revision ID: 0014
Revises: 0013
Create Date: analytics (issue 21)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "camera_zones",
        sa.Column("camera", sa.String(64), primary_key=True),
        sa.Column("shapes", sa.Text, nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "line_crossings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("camera", sa.String(64), nullable=False),
        sa.Column("line", sa.String(64), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("at_ms", sa.BigInteger, nullable=False),
        sa.Column("person", sa.Integer, nullable=False),
    )
    op.create_index("ix_line_crossings_camera_at", "line_crossings", ["camera", "at_ms"])
    op.create_index("ix_line_crossings_at", "line_crossings", ["at_ms"])
    op.create_table(
        "zone_visits",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("camera", sa.String(64), nullable=False),
        sa.Column("zone", sa.String(64), nullable=False),
        sa.Column("person", sa.Integer, nullable=False),
        sa.Column("start_ms", sa.BigInteger, nullable=False),
        sa.Column("end_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_zone_visits_camera_start", "zone_visits", ["camera", "start_ms"])
    op.create_index("ix_zone_visits_end", "zone_visits", ["end_ms"])
    op.create_table(
        "analytics_hours",
        sa.Column("camera", sa.String(64), primary_key=True),
        sa.Column("hour_ms", sa.BigInteger, primary_key=True),
        sa.Column("kind", sa.String(8), primary_key=True),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("in_count", sa.Integer, nullable=False),
        sa.Column("out_count", sa.Integer, nullable=False),
        sa.Column("entries", sa.Integer, nullable=False),
        sa.Column("visits", sa.Integer, nullable=False),
        sa.Column("dwell_ms", sa.BigInteger, nullable=False),
        sa.Column("max_occupancy", sa.Integer, nullable=False),
        sa.Column("distinct_people", sa.Integer, nullable=False),
    )
    op.create_index("ix_analytics_hours_hour", "analytics_hours", ["hour_ms"])
    op.create_table(
        "plate_directions",
        sa.Column("pass_key", sa.String(40), primary_key=True),
        sa.Column("camera", sa.String(64), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("growth", sa.Float, nullable=False),
        sa.Column("at_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_plate_directions_at", "plate_directions", ["at_ms"])


def downgrade() -> None:
    op.drop_index("ix_plate_directions_at", "plate_directions")
    op.drop_table("plate_directions")
    op.drop_index("ix_analytics_hours_hour", "analytics_hours")
    op.drop_table("analytics_hours")
    op.drop_index("ix_zone_visits_end", "zone_visits")
    op.drop_index("ix_zone_visits_camera_start", "zone_visits")
    op.drop_table("zone_visits")
    op.drop_index("ix_line_crossings_at", "line_crossings")
    op.drop_index("ix_line_crossings_camera_at", "line_crossings")
    op.drop_table("line_crossings")
    op.drop_table("camera_zones")
