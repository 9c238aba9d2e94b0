"""Case numbers people can say on the phone (DB-340621-2026-000123): applications.number, a copy on
tasks for the inbox, and the counters per program, area and year. Existing cases are numbered in
the order they were created.

Revision ID: 0018_case_numbers
Revises: 0017_complaint_phones
Create Date: 2026-11-29 01:40:00
"""

import re
from datetime import UTC, datetime, timedelta, timezone

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0018_case_numbers"
down_revision = "0017_complaint_phones"
branch_labels = None
depends_on = None

SHANGHAI = timezone(timedelta(hours=8))
AREA_LEVELS = ("county", "city", "province")


def upgrade() -> None:
    op.create_table(
        "case_number_counters",
        sa.Column("program", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("area_code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("program", "area_code", "year", name=op.f("pk_case_number_counters")),
    )
    with op.batch_alter_table("applications") as batch:
        batch.add_column(sa.Column("number", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True))
        batch.create_unique_constraint(batch.f("uq_applications_number"), ["number"])
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("case_number", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True))
    _number_existing_cases()


def _number_existing_cases() -> None:
    conn = op.get_bind()
    levels = dict(conn.execute(sa.text("SELECT code, level FROM divisions")).all())
    prefixes = {}
    for key, xml in conn.execute(sa.text("SELECT key, xml FROM process_definitions ORDER BY version")).all():
        match = re.search(r'name="case_number_prefix" value="([A-Z][A-Z0-9]{0,9})"', xml)
        prefixes[key] = match[1] if match else key.upper()
    counters: dict[tuple, int] = {}
    rows = conn.execute(
        sa.text("SELECT id, program, division_path, created_at FROM applications ORDER BY created_at, id")
    ).all()
    for app_id, program, path, created in rows:
        codes = [c for c in path.strip("/").split("/") if c]
        by_level = {levels.get(c): c for c in codes}
        area = next((by_level[level] for level in AREA_LEVELS if level in by_level), codes[-1])
        created_at = datetime.fromisoformat(created) if isinstance(created, str) else created  # SQLite: text
        if created_at.tzinfo is None:
            created_at = created_at.replace(tzinfo=UTC)
        year = created_at.astimezone(SHANGHAI).year
        last = counters[(program, area, year)] = counters.get((program, area, year), 0) + 1
        number = f"{prefixes.get(program, program.upper())}-{area}-{year}-{last:06d}"
        conn.execute(
            sa.text("UPDATE applications SET number = :n WHERE id = :id"), {"n": number, "id": app_id}
        )
        conn.execute(
            sa.text("UPDATE tasks SET case_number = :n WHERE application_id = :id"),
            {"n": number, "id": app_id},
        )
    for (program, area, year), last in counters.items():
        conn.execute(
            sa.text(
                "INSERT INTO case_number_counters (program, area_code, year, last) VALUES (:p, :a, :y, :l)"
            ),
            {"p": program, "a": area, "y": year, "l": last},
        )


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("case_number")
    with op.batch_alter_table("applications") as batch:
        batch.drop_constraint(batch.f("uq_applications_number"), type_="unique")
        batch.drop_column("number")
    op.drop_table("case_number_counters")
