"""The inbox's search box (app/domain/cases/search.py): an index of applicants' ID numbers (both
dialects), and on PostgreSQL a GIN index of each applicant's name split into characters, so part of a
name is found without reading every case. The GIN index is PostgreSQL's own (an expression of its
functions): the models do not declare it and the schema comparison skips it (app/db/partitions.py).
PostgreSQL also keeps a finer histogram of tasks' places (1,000 buckets instead of 100): with 100, a
township's share of a county's million tasks (0.5 %) was estimated at 118 rows instead of 5,000, and a
township's search walked its 5,000 tasks instead of reading the few matching cases.

Revision ID: 0025_inbox_search
Revises: 0024_forms_drafts
Create Date: 2026-11-29 06:10:00
"""

from alembic import op

revision = "0025_inbox_search"
down_revision = "0024_forms_drafts"
branch_labels = None
depends_on = None

NAME_CHARS = "ix_applications_name_chars"


def upgrade() -> None:
    with op.batch_alter_table("applications") as batch:
        batch.create_index("ix_applications_applicant_id_number", ["applicant_id_number"])
    if op.get_bind().dialect.name == "postgresql":
        # The expression exactly as search.name_characters() writes it, or the planner will not match it.
        op.execute(
            f"CREATE INDEX {NAME_CHARS} ON applications USING gin (regexp_split_to_array(applicant ->> 'name', ''))"
        )
        op.execute("ALTER TABLE tasks ALTER COLUMN division_path SET STATISTICS 1000")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE tasks ALTER COLUMN division_path SET STATISTICS -1")
        op.execute(f"DROP INDEX {NAME_CHARS}")
    with op.batch_alter_table("applications") as batch:
        batch.drop_index("ix_applications_applicant_id_number")
