"""Every project forbid ever in force, so removing one from the files does not lift it.

Revision ID: 0010_policy_forbids
Revises: 0007_trust
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_policy_forbids"
down_revision = "0007_trust"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "policy_forbids",
        sa.Column("hash", sa.String(64), primary_key=True),
        sa.Column("policy_id", sa.Text, nullable=False),
        sa.Column("file", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("policy_forbids")
