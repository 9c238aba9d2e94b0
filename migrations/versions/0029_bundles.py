"""A process is a bundle: the forms and DMN tables of each deployed version, as uploaded (or the
shipped defaults it took), kept beside the version for listing and downloading the bundle as a zip.
Versions deployed before this revision have no rows: their bundle is made from the version's own
``forms`` and ``decisions`` columns (app/domain/programs/definitions.py).

Revision ID: 0029_bundles
Revises: 0028_materials
Create Date: 2026-11-29 09:30:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0029_bundles"
down_revision = "0028_materials"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "definition_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("definition_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("origin", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["definition_id"],
            ["process_definitions.id"],
            name=op.f("fk_definition_files_definition_id_process_definitions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_definition_files")),
        sa.UniqueConstraint("definition_id", "name", name=op.f("uq_definition_files_definition_id_name")),
    )


def downgrade() -> None:
    op.drop_table("definition_files")
