"""An installation's own signing secret when none is configured (no published default any more).

Revision ID: 0010
Revises: 0009_access
Create Date: 2026-11-28 17:30:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.db.types

revision = "0010"
down_revision = "0009_access"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "installation_secrets",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column("value", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("created_at", app.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_installation_secrets")),
    )


def downgrade() -> None:
    op.drop_table("installation_secrets")
