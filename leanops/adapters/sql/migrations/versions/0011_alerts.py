"""Alerts: one row per tier of a check of a model in a zone, pending or firing to resolved.

Revision ID: 0011_alerts
Revises: 0001_foundation
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_alerts"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("zone", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("check", sa.String(64), nullable=False),
        sa.Column("tier", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("threshold", sa.Float, nullable=False),
        sa.Column("op", sa.String(4), nullable=False),
        sa.Column("window", sa.Text, nullable=False),
        sa.Column("why", sa.Text, nullable=False),
        sa.Column("next_steps", sa.Text, nullable=False),
        sa.Column("runbook", sa.Text, nullable=False),
        sa.Column("since", ts, nullable=False),
        sa.Column("fired_at", ts, nullable=True),
        sa.Column("resolved_at", ts, nullable=True),
        sa.Column("evaluated_at", ts, nullable=False),
        sa.Column("acked_by", sa.String(128), nullable=True),
        sa.Column("acked_at", ts, nullable=True),
        sa.Column("rollback", sa.JSON, nullable=True),
    )
    op.create_index("ix_alerts_model_zone_state", "alerts", ["model", "zone", "state"])


def downgrade() -> None:
    op.drop_index("ix_alerts_model_zone_state", "alerts")
    op.drop_table("alerts")
