"""Inbox pages read their first rows off an index in the page's own order (deadline, arrival, id)
instead of sorting every task in scope: 待认领 (open, unclaimed, by role and place), everything at one
place in a state, everything in a state by deadline; 我的待办's 委派, 已办 and 我发起的 (applications by
who submitted them) get their own indexes. ix_tasks_inbox and ix_tasks_due_at are replaced.

Revision ID: 0020_inbox_indexes
Revises: 0019_case_followups
Create Date: 2026-11-29 04:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0020_inbox_indexes"
down_revision = "0019_case_followups"
branch_labels = None
depends_on = None

CANDIDATES = "state = 'open' AND assignee IS NULL"


def upgrade() -> None:
    with op.batch_alter_table("applications") as batch:
        batch.create_index("ix_applications_created_by", ["created_by"])
    with op.batch_alter_table("tasks") as batch:
        batch.drop_index("ix_tasks_inbox")
        batch.drop_index("ix_tasks_due_at")
        batch.create_index(
            "ix_tasks_candidates",
            ["role", "division_path", "due_at", "created_at", "id"],
            postgresql_where=sa.text(CANDIDATES),
            sqlite_where=sa.text(CANDIDATES),
        )
        batch.create_index("ix_tasks_place_due", ["state", "division_path", "due_at", "created_at", "id"])
        batch.create_index(
            "ix_tasks_state_due",
            ["state", "due_at", "created_at", "id"],
            postgresql_include=["division_path"],
        )
        batch.create_index(
            "ix_tasks_delegated_to",
            ["delegated_to"],
            postgresql_where=sa.text("delegated_to IS NOT NULL"),
            sqlite_where=sa.text("delegated_to IS NOT NULL"),
        )
        batch.create_index(
            "ix_tasks_completed_by",
            ["completed_by", "state", "completed_at"],
            postgresql_where=sa.text("completed_by IS NOT NULL"),
            sqlite_where=sa.text("completed_by IS NOT NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        for name in (
            "ix_tasks_completed_by",
            "ix_tasks_delegated_to",
            "ix_tasks_state_due",
            "ix_tasks_place_due",
            "ix_tasks_candidates",
        ):
            batch.drop_index(name)
        batch.create_index("ix_tasks_due_at", ["due_at"])
        batch.create_index("ix_tasks_inbox", ["state", "role", "division_path", "due_at"])
    with op.batch_alter_table("applications") as batch:
        batch.drop_index("ix_applications_created_by")
