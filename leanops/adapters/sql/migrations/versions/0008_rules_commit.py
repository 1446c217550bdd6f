"""Evidence records the commit its promotion rules were read from.

Revision ID: 0008_rules_commit
Revises: 0004_registry
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_rules_commit"
down_revision = "0004_registry"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("model_evidence") as batch:
        batch.add_column(sa.Column("rules_commit", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("model_evidence") as batch:
        batch.drop_column("rules_commit")
