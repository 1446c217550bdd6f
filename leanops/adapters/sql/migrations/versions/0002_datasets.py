"""Datasets: content-addressed snapshots and their named versions.

Revision ID: 0002_datasets
Revises: 0001_foundation
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_datasets"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "dataset_snapshots",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=True),
        sa.Column("files", sa.JSON, nullable=False),
        sa.Column("profile", sa.JSON, nullable=True),
        sa.Column("data_class", sa.String(16), nullable=False),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("zone", sa.String(16), nullable=False),
    )
    op.create_table(
        "dataset_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("snapshot_id", sa.String(64), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("contract", sa.JSON, nullable=True),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("zone", sa.String(16), nullable=False),
        sa.UniqueConstraint("name", "version", name="uq_dataset_versions_name_version"),
        sa.UniqueConstraint("name", "snapshot_id", name="uq_dataset_versions_name_snapshot_id"),
    )
    op.create_index("ix_dataset_versions_snapshot_id", "dataset_versions", ["snapshot_id"])


def downgrade() -> None:
    op.drop_index("ix_dataset_versions_snapshot_id", table_name="dataset_versions")
    op.drop_table("dataset_versions")
    op.drop_table("dataset_snapshots")
