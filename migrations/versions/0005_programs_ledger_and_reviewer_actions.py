"""benefits ledger, program settings, sampling, cases about places, panels, reviewer actions

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 02:54:03.898575
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

import app.db.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sample_pools",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("program", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("county_code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("month", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("seed", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("drawn", sa.Integer(), nullable=False),
        sa.Column("sampled", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sample_pools")),
        sa.UniqueConstraint(
            "program", "county_code", "month", name=op.f("uq_sample_pools_program_county_code_month")
        ),
    )
    op.create_table(
        "panels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("division_code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("school_year", sa.Integer(), nullable=False),
        sa.Column(
            "members",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("set_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("set_at", app.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["division_code"], ["divisions.code"], name=op.f("fk_panels_division_code_divisions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_panels")),
        sa.UniqueConstraint("division_code", "school_year", name=op.f("uq_panels_division_code_school_year")),
    )
    op.create_table(
        "program_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("program", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("division_code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column(
            "division_path",
            sa.String(length=512).with_variant(sa.String(length=512, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "values",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("set_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("set_at", app.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["division_code"], ["divisions.code"], name=op.f("fk_program_settings_division_code_divisions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_program_settings")),
        sa.UniqueConstraint(
            "program", "division_code", name=op.f("uq_program_settings_program_division_code")
        ),
    )
    with op.batch_alter_table("program_settings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_program_settings_program"), ["program"], unique=False)

    op.create_table(
        "benefits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("program", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("person_id_number", sqlmodel.sql.sqltypes.AutoString(length=18), nullable=False),
        sa.Column("family_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column(
            "division_path",
            sa.String(length=512).with_variant(sa.String(length=512, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("category", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("next_recheck_on", sa.Date(), nullable=True),
        sa.Column("cap_exempt", sa.Boolean(), nullable=False),
        sa.Column(
            "note",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", app.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", app.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["application_id"], ["applications.id"], name=op.f("fk_benefits_application_id_applications")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_benefits")),
    )
    with op.batch_alter_table("benefits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_benefits_application_id"), ["application_id"], unique=False)
        batch_op.create_index("ix_benefits_ends_on", ["status", "ends_on"], unique=False)
        batch_op.create_index("ix_benefits_family_year", ["family_id", "year"], unique=False)
        batch_op.create_index("ix_benefits_next_recheck", ["status", "next_recheck_on"], unique=False)
        batch_op.create_index("ix_benefits_person", ["person_id_number", "program", "status"], unique=False)

    with op.batch_alter_table("applications", schema=None) as batch_op:
        # Existing rows get empty settings and decisions: they started before settings existed.
        batch_op.add_column(
            sa.Column(
                "settings",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=False,
                server_default=sa.text("'{}'"),
            )
        )
        batch_op.add_column(
            sa.Column("family_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.add_column(
            sa.Column("subject_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_applications_subject_id"), ["subject_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_applications_subject_id_applications"), "applications", ["subject_id"], ["id"]
        )
        # A case may be about a place (a school's monthly report) rather than a person.
        batch_op.alter_column(
            "applicant",
            existing_type=sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        )
        batch_op.alter_column(
            "applicant_id_number", existing_type=sqlmodel.sql.sqltypes.AutoString(length=18), nullable=True
        )

    with op.batch_alter_table("process_definitions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "decisions",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=False,
                server_default=sa.text("'{}'"),
            )
        )

    # Reviewer actions (退回, 委派, 加签, 抄送).
    op.create_table(
        "case_copies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("task_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
        sa.Column("username", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column(
            "division_path",
            sa.String(length=512).with_variant(sa.String(length=512, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("created_at", app.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"], ["applications.id"], name=op.f("fk_case_copies_application_id_applications")
        ),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name=op.f("fk_case_copies_task_id_tasks")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_copies")),
    )
    with op.batch_alter_table("case_copies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_copies_application_id"), ["application_id"], unique=False)
        batch_op.create_index("ix_case_copies_role", ["role"], unique=False)
        batch_op.create_index("ix_case_copies_username", ["username"], unique=False)

    op.create_table(
        "task_signers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("username", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("decision", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("opinion", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("added_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("added_at", app.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", app.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name=op.f("fk_task_signers_task_id_tasks")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_signers")),
    )
    with op.batch_alter_table("task_signers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_task_signers_task_id"), ["task_id"], unique=False)
        batch_op.create_index("ix_task_signers_user_state", ["username", "state"], unique=False)

    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "note",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )
        batch_op.add_column(
            sa.Column("delegated_to", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_column("delegated_to")
        batch_op.drop_column("note")

    with op.batch_alter_table("task_signers", schema=None) as batch_op:
        batch_op.drop_index("ix_task_signers_user_state")
        batch_op.drop_index(batch_op.f("ix_task_signers_task_id"))

    op.drop_table("task_signers")
    with op.batch_alter_table("case_copies", schema=None) as batch_op:
        batch_op.drop_index("ix_case_copies_username")
        batch_op.drop_index("ix_case_copies_role")
        batch_op.drop_index(batch_op.f("ix_case_copies_application_id"))

    op.drop_table("case_copies")

    with op.batch_alter_table("process_definitions", schema=None) as batch_op:
        batch_op.drop_column("decisions")

    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.alter_column(
            "applicant_id_number", existing_type=sqlmodel.sql.sqltypes.AutoString(length=18), nullable=False
        )
        batch_op.alter_column(
            "applicant",
            existing_type=sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        )
        batch_op.drop_constraint(batch_op.f("fk_applications_subject_id_applications"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_applications_subject_id"))
        batch_op.drop_column("subject_id")
        batch_op.drop_column("family_id")
        batch_op.drop_column("settings")

    with op.batch_alter_table("benefits", schema=None) as batch_op:
        batch_op.drop_index("ix_benefits_person")
        batch_op.drop_index("ix_benefits_next_recheck")
        batch_op.drop_index("ix_benefits_family_year")
        batch_op.drop_index("ix_benefits_ends_on")
        batch_op.drop_index(batch_op.f("ix_benefits_application_id"))

    op.drop_table("benefits")
    with op.batch_alter_table("program_settings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_program_settings_program"))

    op.drop_table("program_settings")
    op.drop_table("sample_pools")
    op.drop_table("panels")
