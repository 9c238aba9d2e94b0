"""Process definitions and pilots, cases (applications) and everything a case holds: tasks, timers,
message waits and kept messages, signers, copies, case numbers, follow-ups, saved inbox views."""

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.db.models.base import timestamp
from app.db.types import JSONType, PathType


class ProcessDefinition(SQLModel, table=True):
    __tablename__ = "process_definitions"
    __table_args__ = (sa.UniqueConstraint("key", "version"),)
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=100)
    version: int
    name: str = Field(max_length=200)
    xml: str = Field(sa_type=sa.Text())
    sha256: str = Field(max_length=64)
    # Form schemas referenced by the BPMN, frozen with the version that uses them.
    forms: dict = Field(default_factory=dict, sa_type=JSONType)
    deployed_at: datetime = timestamp()
    deployed_by: str = Field(max_length=100)
    version_tag: str | None = Field(default=None, max_length=100)
    comment: str | None = Field(default=None, max_length=2000)
    # DMN decision tables the process's business rule tasks use, by decision id → XML, frozen like forms.
    decisions: dict = Field(default_factory=dict, sa_type=JSONType)


class DefinitionFile(SQLModel, table=True):
    """A file of a version's bundle (docs/bpmn.md, "Bundles"): a form or a DMN table as it was uploaded
    (``origin`` ``bundle``) or the shipped default the version took (``default``), for listing and
    downloading the bundle. What cases run is the definition's own ``forms`` and ``decisions``."""

    __tablename__ = "definition_files"
    __table_args__ = (sa.UniqueConstraint("definition_id", "name"),)
    id: int | None = Field(default=None, primary_key=True)
    definition_id: int = Field(foreign_key="process_definitions.id")
    # Path inside the bundle: forms/review.json, decisions/amount.dmn
    name: str = Field(max_length=300)
    origin: str = Field(max_length=20)
    sha256: str = Field(max_length=64)
    size: int
    content: str = Field(sa_type=sa.Text())


class Rollout(SQLModel, table=True):
    """Which version new cases of a program take at a place (a pilot); no row for a place: the latest."""

    __tablename__ = "rollouts"
    __table_args__ = (sa.UniqueConstraint("key", "division_code"),)
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=100, index=True)
    # NULL: every place without a more specific rule.
    division_code: str | None = Field(default=None, foreign_key="divisions.code", max_length=32)
    division_path: str | None = Field(default=None, sa_type=PathType)
    version: int
    set_by: str = Field(max_length=100)
    set_at: datetime = timestamp()


class Application(SQLModel, table=True):
    __tablename__ = "applications"
    __table_args__ = (
        sa.Index("ix_applications_program_external_ref", "program", "external_ref", unique=True),
        # At most one active case per person and program; enforced by the database under races.
        sa.Index(
            "ix_applications_one_active",
            "program",
            "applicant_id_number",
            unique=True,
            postgresql_where=sa.text("status = 'in_progress'"),
            sqlite_where=sa.text("status = 'in_progress'"),
        ),
        sa.Index("ix_applications_division_path_created", "division_path", "created_at"),
        # 我发起的: the cases a person or a portal submitted.
        sa.Index("ix_applications_created_by", "created_by"),
        # The inbox's search by ID number (PostgreSQL also indexes names: migration 0025_inbox_search).
        sa.Index("ix_applications_applicant_id_number", "applicant_id_number"),
    )
    id: str = Field(primary_key=True, max_length=36)
    # A number people can say on the phone, e.g. DB-340621-2026-000123 (app/domain/cases/numbers.py).
    number: str | None = Field(default=None, max_length=40, unique=True)
    program: str = Field(max_length=100)
    definition_id: int = Field(foreign_key="process_definitions.id")
    definition_version: int
    division_code: str = Field(foreign_key="divisions.code", max_length=32)
    division_path: str = Field(sa_type=PathType)
    status: str = Field(max_length=20)
    # NULL for a case about a place rather than a person (a school's monthly report).
    applicant: dict | None = Field(default=None, sa_type=JSONType, nullable=True)
    applicant_id_number: str | None = Field(default=None, max_length=18, nullable=True)
    data: dict = Field(default_factory=dict, sa_type=JSONType)
    external_ref: str | None = Field(default=None, max_length=200)
    engine_state: dict = Field(sa_type=JSONType)
    version: int = 1
    created_by: str = Field(max_length=100)
    created_at: datetime = timestamp()
    updated_at: datetime = timestamp()
    ended_at: datetime | None = timestamp(nullable=True)
    # A limit over the whole case (e.g. 30 working days for 低保), from the process's case_time_limit.
    case_due_at: datetime | None = timestamp(nullable=True)
    case_due_basis: str | None = Field(default=None, max_length=16)
    # The program settings in force when the case started (limits, ratios…), kept for the record.
    settings: dict = Field(default_factory=dict, sa_type=JSONType)
    # 户 (household) the applicant belongs to; family caps count over it. Defaults to the ID number.
    family_id: str | None = Field(default=None, max_length=64)
    # For a re-check or termination: the enrolment case it is about.
    subject_id: str | None = Field(default=None, foreign_key="applications.id", max_length=36, index=True)


class Task(SQLModel, table=True):
    __tablename__ = "tasks"
    __table_args__ = (
        # The inbox pages (domain/tasks/worklist.inbox) in their own order: deadline, arrival, id. A page
        # reads its first rows off one of these instead of sorting every row in scope.
        # 待认领: open, unclaimed steps of a role at one place (a grant's place holds its role's steps).
        sa.Index(
            "ix_tasks_candidates",
            "role",
            "division_path",
            "due_at",
            "created_at",
            "id",
            postgresql_where=sa.text("state = 'open' AND assignee IS NULL"),
            sqlite_where=sa.text("state = 'open' AND assignee IS NULL"),
        ),
        # Everything at one place in a state.
        sa.Index("ix_tasks_place_due", "state", "division_path", "due_at", "created_at", "id"),
        # Everything in a state, walked by deadline and filtered by place: a county's or a city's view
        # (most rows match), supervisors' late work, reminders. The place rides along (PostgreSQL) so
        # the filter needs no table row.
        sa.Index(
            "ix_tasks_state_due", "state", "due_at", "created_at", "id", postgresql_include=["division_path"]
        ),
        sa.Index("ix_tasks_assignee_state", "assignee", "state"),
        # 我的待办 (委派: asked for an opinion) and 已办: a person's own rows.
        sa.Index(
            "ix_tasks_delegated_to",
            "delegated_to",
            postgresql_where=sa.text("delegated_to IS NOT NULL"),
            sqlite_where=sa.text("delegated_to IS NOT NULL"),
        ),
        sa.Index(
            "ix_tasks_completed_by",
            "completed_by",
            "state",
            "completed_at",
            postgresql_where=sa.text("completed_by IS NOT NULL"),
            sqlite_where=sa.text("completed_by IS NOT NULL"),
        ),
        sa.Index("ix_tasks_state_remind_at", "state", "remind_at"),
    )
    id: str = Field(primary_key=True, max_length=36)
    application_id: str = Field(foreign_key="applications.id", index=True, max_length=36)
    # The case's number, copied so the inbox reads the tasks table alone.
    case_number: str | None = Field(default=None, max_length=40)
    program: str = Field(max_length=100)
    engine_task_id: str = Field(max_length=36)
    name: str = Field(max_length=100)
    title: str = Field(max_length=200)
    role: str = Field(max_length=64)
    division_code: str = Field(foreign_key="divisions.code", max_length=32)
    division_path: str = Field(sa_type=PathType)
    state: str = Field(max_length=20)  # open | completed | cancelled
    assignee: str | None = Field(default=None, max_length=100)
    form: str | None = Field(default=None, max_length=200)
    created_at: datetime = timestamp()
    due_at: datetime | None = timestamp(nullable=True)
    completed_at: datetime | None = timestamp(nullable=True)
    completed_by: str | None = Field(default=None, max_length=100)
    data: dict | None = Field(default=None, sa_type=JSONType)
    # Why the step is here again (returned, withdrawn), opinions asked for, the holder's decision
    # waiting for signers after it: shown with the task.
    note: dict | None = Field(default=None, sa_type=JSONType)
    # 委派: the person asked for an opinion; the holder cannot decide until they resolve.
    delegated_to: str | None = Field(default=None, max_length=100)
    # The BPMN time_limit the deadline came from, kept so a corrected calendar can recompute it.
    time_limit: str | None = Field(default=None, max_length=100)
    due_basis: str | None = Field(default=None, max_length=16)  # calendar | provisional | natural
    remind_at: datetime | None = timestamp(nullable=True)
    reminded_at: datetime | None = timestamp(nullable=True)
    overdue_at: datetime | None = timestamp(nullable=True)
    claimed_at: datetime | None = timestamp(nullable=True)


class Timer(SQLModel, table=True):
    __tablename__ = "timers"
    __table_args__ = (sa.Index("ix_timers_due", "fired_at", "due_at"),)
    id: int | None = Field(default=None, primary_key=True)
    application_id: str = Field(foreign_key="applications.id", index=True, max_length=36)
    engine_task_id: str = Field(max_length=36)
    name: str = Field(max_length=100)
    due_at: datetime = timestamp()
    # Set when fired or when the case moved on without it (cancelled).
    fired_at: datetime | None = timestamp(nullable=True)
    cancelled: bool = False
    scheduled_at: datetime | None = timestamp(nullable=True)
    # Set for timers written as working_days(N): recomputed when their years' calendar changes.
    working_days: int | None = None
    due_basis: str | None = Field(default=None, max_length=16)
    # A timer whose step fails is tried again later (backing off), then set aside as failed.
    attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    retry_at: datetime | None = timestamp(nullable=True)
    failed_at: datetime | None = timestamp(nullable=True)
    last_error: str | None = Field(default=None, max_length=500)


class MessageWait(SQLModel, table=True):
    """A message a case is waiting for; routing is done here, not inside the engine."""

    __tablename__ = "message_waits"
    __table_args__ = (sa.UniqueConstraint("application_id", "message_name"),)
    id: int | None = Field(default=None, primary_key=True)
    application_id: str = Field(foreign_key="applications.id", max_length=36)
    message_name: str = Field(max_length=100)
    created_at: datetime = timestamp()


class IdempotencyKey(SQLModel, table=True):
    __tablename__ = "idempotency_keys"
    # `aidflow prune` deletes by age.
    __table_args__ = (sa.Index("ix_idempotency_keys_created_at", "created_at"),)
    principal: str = Field(primary_key=True, max_length=100)
    key: str = Field(primary_key=True, max_length=200)
    request_sha256: str = Field(max_length=64)
    status_code: int
    response: dict = Field(sa_type=JSONType)
    created_at: datetime = timestamp()


class EarlyMessage(SQLModel, table=True):
    """A message that arrived before its case waited for it, kept when the BPMN allows (``keep_early``).

    Without ``application_id`` it came before its case existed: it names the case to come by
    ``program`` and ``external_ref`` or ``id_number``, and is adopted when that case is created.
    """

    __tablename__ = "early_messages"
    __table_args__ = (
        sa.Index("ix_early_messages_app_name", "application_id", "message_name"),
        sa.Index("ix_early_messages_program_id_number", "program", "id_number"),
        sa.Index("ix_early_messages_program_external_ref", "program", "external_ref"),
    )
    id: int | None = Field(default=None, primary_key=True)
    application_id: str | None = Field(default=None, foreign_key="applications.id", max_length=36)
    program: str | None = Field(default=None, max_length=100)
    external_ref: str | None = Field(default=None, max_length=200)
    id_number: str | None = Field(default=None, max_length=18)
    # Division paths the sender's grants covered (None: everywhere); a case to come is adopted only inside them.
    sender_paths: list | None = Field(default=None, sa_type=JSONType)
    message_name: str = Field(max_length=100)
    payload: dict = Field(sa_type=JSONType)
    actor: str = Field(max_length=100)
    received_at: datetime = timestamp()
    expires_at: datetime = timestamp()
    delivered_at: datetime | None = timestamp(nullable=True)


class TaskSigner(SQLModel, table=True):
    """People who decide on a step besides its holder: 加签 before or after, or 会签/或签/依次 deciders."""

    __tablename__ = "task_signers"
    __table_args__ = (sa.Index("ix_task_signers_user_state", "username", "state"),)
    id: int | None = Field(default=None, primary_key=True)
    task_id: str = Field(foreign_key="tasks.id", max_length=36, index=True)
    username: str = Field(max_length=100)
    kind: str = Field(max_length=16)  # before | after | decider
    seq: int = 0
    state: str = Field(max_length=16)  # pending | decided | removed
    decision: str | None = Field(default=None, max_length=16)
    opinion: str | None = Field(default=None, max_length=2000)
    added_by: str = Field(max_length=100)
    added_at: datetime = timestamp()
    decided_at: datetime | None = timestamp(nullable=True)


class CaseCopy(SQLModel, table=True):
    """抄送: people or roles who may read a case and find it under 抄送我的, without acting."""

    __tablename__ = "case_copies"
    __table_args__ = (
        sa.Index("ix_case_copies_username", "username"),
        sa.Index("ix_case_copies_role", "role"),
    )
    id: int | None = Field(default=None, primary_key=True)
    application_id: str = Field(foreign_key="applications.id", max_length=36, index=True)
    task_id: str | None = Field(default=None, foreign_key="tasks.id", max_length=36)
    username: str | None = Field(default=None, max_length=100)
    role: str | None = Field(default=None, max_length=64)
    # Where a copied role applies (the task's place), so a role elsewhere does not see it.
    division_path: str | None = Field(default=None, sa_type=PathType)
    note: str | None = Field(default=None, max_length=2000)
    created_by: str = Field(max_length=100)
    created_at: datetime = timestamp()


class SavedView(SQLModel, table=True):
    """A reviewer's named inbox filter (tab, program, place, overdue, sort), kept on the server."""

    __tablename__ = "saved_views"
    __table_args__ = (sa.UniqueConstraint("username", "name"),)
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=100)
    name: str = Field(max_length=50)
    query: dict = Field(default_factory=dict, sa_type=JSONType)
    created_at: datetime = timestamp()


class CaseNumberCounter(SQLModel, table=True):
    """The last number given per program, area (county) and year; taken with the case's own insert,
    so a case that is not created gives its number back (no gaps)."""

    __tablename__ = "case_number_counters"
    program: str = Field(primary_key=True, max_length=100)
    area_code: str = Field(primary_key=True, max_length=32)
    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    last: int = Field(default=0)


class FollowUp(SQLModel, table=True):
    """A case a finished case asked for (``then_start``: a termination after a re-check), started by
    the worker in a transaction of its own rather than inside the change that asked for it."""

    __tablename__ = "case_followups"
    __table_args__ = (sa.Index("ix_case_followups_pending", "started_at", "id"),)
    id: int | None = Field(default=None, primary_key=True)
    application_id: str = Field(foreign_key="applications.id", max_length=36)
    program: str = Field(max_length=100)
    requested_at: datetime = timestamp()
    started_at: datetime | None = timestamp(nullable=True)
    started_application_id: str | None = Field(default=None, max_length=36)
    attempts: int = Field(default=0)
    retry_at: datetime | None = timestamp(nullable=True)
    last_error: str | None = Field(default=None, max_length=500)
