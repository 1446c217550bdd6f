"""Training jobs: the job record (resolved spec, state, run) and its attempts with metering.

Revision ID: 0005_jobs
Revises: 0001_foundation
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_jobs"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("submitted_by", sa.String(128), nullable=False),
        sa.Column("zone", sa.String(16), nullable=False),
        sa.Column("executor", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("spec_path", sa.Text, nullable=False),
        sa.Column("spec_commit", sa.String(64), nullable=True),
        sa.Column("code_commit", sa.String(64), nullable=True),
        sa.Column("code_dirty", sa.Boolean, nullable=True),
        sa.Column("promotable", sa.Boolean, nullable=False),
        sa.Column("run_id", sa.String(32), nullable=True),
        sa.Column("sweep_id", sa.String(32), nullable=True),
        sa.Column("datasets", sa.JSON, nullable=False),
        sa.Column("data_class", sa.String(32), nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("resources", sa.JSON, nullable=False),
        sa.Column("deadline_seconds", sa.Float, nullable=False),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("started_at", ts, nullable=True),
        sa.Column("ended_at", ts, nullable=True),
        sa.Column("deadline_at", ts, nullable=True),
        sa.Column("cancel_requested_at", ts, nullable=True),
        sa.Column("warned_at", ts, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("metrics", sa.JSON, nullable=False),
        sa.Column("runner_host", sa.String(255), nullable=False),
        sa.Column("runner_pid", sa.Integer, nullable=True),
    )
    op.create_index("ix_jobs_status_zone", "jobs", ["status", "zone"])
    op.create_index("ix_jobs_owner", "jobs", ["owner"])
    op.create_index("ix_jobs_created_at", "jobs", ["created_at"])
    op.create_index("ix_jobs_sweep_id", "jobs", ["sweep_id"])
    op.create_table(
        "job_attempts",
        sa.Column("job_id", sa.String(32), primary_key=True),
        sa.Column("n", sa.Integer, primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("cause", sa.Text, nullable=False),
        sa.Column("exit_code", sa.Integer, nullable=True),
        sa.Column("signal", sa.Integer, nullable=True),
        sa.Column("exception", sa.String(128), nullable=True),
        sa.Column("started_at", ts, nullable=False),
        sa.Column("ended_at", ts, nullable=True),
        sa.Column("start_latency_seconds", sa.Float, nullable=True),
        sa.Column("wall_seconds", sa.Float, nullable=False),
        sa.Column("cpu_seconds", sa.Float, nullable=False),
        sa.Column("peak_rss_bytes", sa.BigInteger, nullable=False),
        sa.Column("log_digest", sa.String(64), nullable=True),
        sa.Column("log_size", sa.BigInteger, nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("job_attempts")
    for name in ("ix_jobs_sweep_id", "ix_jobs_created_at", "ix_jobs_owner", "ix_jobs_status_zone"):
        op.drop_index(name, table_name="jobs")
    op.drop_table("jobs")
