"""Model registry: versions, evidence, approvals, zone aliases and every alias move.

Revision ID: 0004_registry
Revises: 0001_foundation
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_registry"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

ts = sa.DateTime(timezone=True)
seq = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "model_versions",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("flavor", sa.String(64), nullable=False),
        sa.Column("manifest", sa.JSON, nullable=False),
        sa.Column("lineage", sa.JSON, nullable=False),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
    )
    op.create_index("ix_model_versions_run_id", "model_versions", ["run_id"])
    op.create_table(
        "model_evidence",
        sa.Column("seq", seq, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("zone", sa.String(16), nullable=False),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("rules_file", sa.Text, nullable=False),
        sa.Column("rules_digest", sa.String(64), nullable=False),
        sa.Column("requirement", sa.JSON, nullable=False),
        sa.Column("items", sa.JSON, nullable=False),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.UniqueConstraint("id", name="uq_model_evidence_id"),
    )
    op.create_index("ix_model_evidence_name_version_zone", "model_evidence", ["name", "version", "zone"])
    op.create_table(
        "model_approvals",
        sa.Column("seq", seq, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("zone", sa.String(16), nullable=False),
        sa.Column("approver", sa.String(128), nullable=False),
        sa.Column("approved_at", ts, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("evidence_id", sa.String(32), nullable=False),
        sa.UniqueConstraint("id", name="uq_model_approvals_id"),
    )
    op.create_index("ix_model_approvals_name_zone", "model_approvals", ["name", "zone"])
    op.create_table(
        "model_aliases",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("zone", sa.String(16), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", ts, nullable=False),
        sa.Column("updated_by", sa.String(128), nullable=False),
    )
    op.create_table(
        "model_alias_history",
        sa.Column("seq", seq, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("zone", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("previous", sa.Integer, nullable=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("at", ts, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("evidence_id", sa.String(32), nullable=True),
        sa.Column("approval_id", sa.String(32), nullable=True),
    )
    op.create_index("ix_model_alias_history_name_zone", "model_alias_history", ["name", "zone"])


def downgrade() -> None:
    op.drop_index("ix_model_alias_history_name_zone", table_name="model_alias_history")
    op.drop_table("model_alias_history")
    op.drop_table("model_aliases")
    op.drop_index("ix_model_approvals_name_zone", table_name="model_approvals")
    op.drop_table("model_approvals")
    op.drop_index("ix_model_evidence_name_version_zone", table_name="model_evidence")
    op.drop_table("model_evidence")
    op.drop_index("ix_model_versions_run_id", table_name="model_versions")
    op.drop_table("model_versions")
