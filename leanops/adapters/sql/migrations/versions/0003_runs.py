"""Tracked runs: the run record, its params, metric points, latest metrics, tags and datasets.

Revision ID: 0003_runs
Revises: 0001_foundation
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_runs"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("approval", sa.String(16), nullable=False),
        sa.Column("zone", sa.String(16), nullable=False),
        sa.Column("start_time", ts, nullable=False),
        sa.Column("end_time", ts, nullable=True),
        sa.Column("code_commit", sa.String(64), nullable=True),
        sa.Column("code_dirty", sa.Boolean, nullable=True),
        sa.Column("code_remote", sa.String(512), nullable=True),
        sa.Column("features", sa.JSON, nullable=False),
        sa.Column("environment", sa.JSON, nullable=False),
        sa.Column("data_class", sa.String(32), nullable=False),
        sa.Column("missing", sa.JSON, nullable=False),
        sa.Column("pid", sa.Integer, nullable=True),
        sa.Column("hostname", sa.String(255), nullable=True),
        sa.Column("heartbeat_at", ts, nullable=True),
    )
    op.create_index("ix_runs_status", "runs", ["status"])
    op.create_index("ix_runs_owner", "runs", ["owner"])
    op.create_index("ix_runs_start_time", "runs", ["start_time"])
    op.create_table(
        "run_params",
        sa.Column("run_id", sa.String(32), primary_key=True),
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("value_key", sa.String(200), nullable=False),
        sa.Column("value_num", sa.Float, nullable=True),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_run_params_key_value_key_run_id", "run_params", ["key", "value_key", "run_id"])
    op.create_index("ix_run_params_key_value_num_run_id", "run_params", ["key", "value_num", "run_id"])
    op.create_table(
        "run_metrics",
        sa.Column("run_id", sa.String(32), primary_key=True),
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("step", sa.BigInteger, primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("flag", sa.String(8), nullable=True),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "run_latest_metrics",
        sa.Column("run_id", sa.String(32), primary_key=True),
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("flag", sa.String(8), nullable=True),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_run_latest_metrics_key_value_run_id", "run_latest_metrics", ["key", "value", "run_id"])
    op.create_table(
        "run_tags",
        sa.Column("run_id", sa.String(32), primary_key=True),
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("value", sa.String(500), nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_run_tags_key_value_run_id", "run_tags", ["key", "value", "run_id"])
    op.create_table(
        "run_datasets",
        sa.Column("run_id", sa.String(32), primary_key=True),
        sa.Column("dataset_id", sa.String(128), primary_key=True),
        sa.Column("ref", sa.String(160), nullable=True),
        sa.Column("name", sa.String(128), nullable=True),
        sa.Column("data_class", sa.String(32), nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_run_datasets_dataset_id_run_id", "run_datasets", ["dataset_id", "run_id"])
    op.create_index("ix_run_datasets_ref_run_id", "run_datasets", ["ref", "run_id"])
    op.create_index("ix_run_datasets_name_run_id", "run_datasets", ["name", "run_id"])


def downgrade() -> None:
    for table in ("run_datasets", "run_tags", "run_latest_metrics", "run_metrics", "run_params", "runs"):
        op.drop_table(table)
