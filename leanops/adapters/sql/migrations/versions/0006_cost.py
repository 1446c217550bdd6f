"""Cost: the ledger, budgets, fired threshold alerts and approved overspends.

Revision ID: 0006_cost
Revises: 0001_foundation
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_cost"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

ts = sa.DateTime(timezone=True)
big_id = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "ledger",
        sa.Column("id", big_id, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(255), nullable=False),
        sa.Column("at", ts, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("zone", sa.String(16), nullable=False),
        sa.Column("project", sa.String(128), nullable=False),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("job_id", sa.String(32), nullable=True),
        sa.Column("amount_micros", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(8), nullable=False),
        sa.Column("usage", sa.JSON, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("refs", sa.JSON, nullable=False),
        sa.Column("untagged", sa.JSON, nullable=False),
        sa.Column("recorded_at", ts, nullable=False),
        sa.Column("recorded_by", sa.String(128), nullable=False),
        sa.UniqueConstraint("source", name="uq_ledger_source"),
    )
    op.create_index("ix_ledger_zone_at", "ledger", ["zone", "at"])
    op.create_index("ix_ledger_at", "ledger", ["at"])
    op.create_index("ix_ledger_job_id", "ledger", ["job_id"])
    op.create_index("ix_ledger_model", "ledger", ["model"])
    op.create_table(
        "budgets",
        sa.Column("key", sa.String(160), primary_key=True),
        sa.Column("zone", sa.String(16), nullable=False),
        sa.Column("project", sa.String(128), nullable=True),
        sa.Column("monthly_micros", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(8), nullable=False),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("thresholds", sa.JSON, nullable=False),
        sa.Column("updated_at", ts, nullable=False),
        sa.Column("updated_by", sa.String(128), nullable=False),
    )
    op.create_table(
        "budget_alerts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("budget", sa.String(160), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("basis", sa.String(8), nullable=False),
        sa.Column("percent", sa.Integer, nullable=False),
        sa.Column("value_micros", sa.BigInteger, nullable=False),
        sa.Column("limit_micros", sa.BigInteger, nullable=False),
        sa.Column("fired_at", ts, nullable=False),
        sa.UniqueConstraint(
            "budget", "period", "basis", "percent", name="uq_budget_alerts_budget_period_basis_percent"
        ),
    )
    op.create_table(
        "budget_overspends",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("budget", sa.String(160), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("amount_micros", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("approved_by", sa.String(128), nullable=False),
        sa.Column("approved_at", ts, nullable=False),
    )
    op.create_index("ix_budget_overspends_budget_period", "budget_overspends", ["budget", "period"])


def downgrade() -> None:
    op.drop_index("ix_budget_overspends_budget_period", table_name="budget_overspends")
    for table in ("budget_overspends", "budget_alerts", "budgets"):
        op.drop_table(table)
    for name in ("ix_ledger_model", "ix_ledger_job_id", "ix_ledger_at", "ix_ledger_zone_at"):
        op.drop_index(name, table_name="ledger")
    op.drop_table("ledger")
