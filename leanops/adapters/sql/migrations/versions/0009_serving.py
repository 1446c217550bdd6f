"""Serving: one row per server process and version served.

Revision ID: 0009_serving
Revises: 0001_foundation
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_serving"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "deployments",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("zone", sa.String(16), nullable=False),
        sa.Column("endpoint", sa.Text, nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started_at", ts, nullable=False),
        sa.Column("started_by", sa.String(128), nullable=False),
        sa.Column("stopped_at", ts, nullable=True),
        sa.Column("stop_reason", sa.Text, nullable=False),
        sa.Column("requests", sa.BigInteger, nullable=False),
        sa.Column("errors", sa.BigInteger, nullable=False),
        sa.Column("metered_at", ts, nullable=True),
    )
    op.create_index("ix_deployments_name_zone", "deployments", ["name", "zone"])


def downgrade() -> None:
    op.drop_index("ix_deployments_name_zone", "deployments")
    op.drop_table("deployments")
