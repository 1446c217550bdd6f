"""Trust: the store's mode, zone-limited tokens, clearances, keyed audit records, the policy bundle.

Revision ID: 0007_trust
Revises: 0001_foundation
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_trust"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "store_trust",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("local_user", sa.String(128), nullable=True),
        sa.Column("project", sa.String(128), nullable=False),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
    )
    with op.batch_alter_table("tokens") as batch:
        batch.add_column(sa.Column("zones", sa.JSON, nullable=True))
        batch.add_column(sa.Column("created_by", sa.String(128), nullable=False, server_default=""))
    op.create_table(
        "clearances",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("principal", sa.String(128), nullable=False, index=True),
        sa.Column("data_class", sa.String(16), nullable=False),
        sa.Column("zone", sa.String(16), nullable=True),
        sa.Column("granted_at", ts, nullable=False),
        sa.Column("granted_by", sa.String(128), nullable=False),
        sa.UniqueConstraint("principal", "data_class", "zone", name="uq_clearances_principal_data_class_zone"),
    )
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("policy_bundle", sa.String(64), nullable=False, server_default=""))
    op.create_table(
        "policy_approvals",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("hash", sa.String(64), nullable=False, index=True),
        sa.Column("change", sa.String(16), nullable=False),
        sa.Column("approver", sa.String(128), nullable=False),
        sa.Column("admin", sa.Boolean, nullable=False),
        sa.Column("at", ts, nullable=False),
        sa.UniqueConstraint("hash", "change", "approver", name="uq_policy_approvals_hash_change_approver"),
    )


def downgrade() -> None:
    op.drop_table("policy_approvals")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("policy_bundle")
    op.drop_table("clearances")
    with op.batch_alter_table("tokens") as batch:
        batch.drop_column("created_by")
        batch.drop_column("zones")
    op.drop_table("store_trust")
