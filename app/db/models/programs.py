"""What programs run on: the working-day calendar, settings per place, the benefits ledger, sample
pools and review panels."""

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.db.models.base import timestamp
from app.db.types import JSONType, PathType


class CalendarYear(SQLModel, table=True):
    """The official working-day calendar of one year (holidays off, 调休 weekend days worked)."""

    __tablename__ = "calendar_years"
    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    source: str = Field(max_length=500)
    holidays: list = Field(default_factory=list, sa_type=JSONType)
    working_days: list = Field(default_factory=list, sa_type=JSONType)
    updated_at: datetime = timestamp()
    updated_by: str = Field(max_length=100)


class ProgramSetting(SQLModel, table=True):
    """A program's settings for a subtree (e.g. county 340621's delegated limit); the nearest wins."""

    __tablename__ = "program_settings"
    __table_args__ = (sa.UniqueConstraint("program", "division_code"),)
    id: int | None = Field(default=None, primary_key=True)
    program: str = Field(max_length=100, index=True)
    # NULL: the whole country (overrides the BPMN's own defaults).
    division_code: str | None = Field(default=None, foreign_key="divisions.code", max_length=32)
    division_path: str | None = Field(default=None, sa_type=PathType)
    values: dict = Field(default_factory=dict, sa_type=JSONType)
    set_by: str = Field(max_length=100)
    set_at: datetime = timestamp()


class Benefit(SQLModel, table=True):
    """The benefits ledger: every approved amount, by person, family, program, period and case."""

    __tablename__ = "benefits"
    __table_args__ = (
        sa.Index("ix_benefits_person", "person_id_number", "program", "status"),
        sa.Index("ix_benefits_family_year", "family_id", "year"),
        sa.Index("ix_benefits_next_recheck", "status", "next_recheck_on"),
        sa.Index("ix_benefits_ends_on", "status", "ends_on"),
        # Payment batches: a program's benefits in a county (a path range).
        sa.Index("ix_benefits_program_path", "program", "division_path"),
    )
    id: int | None = Field(default=None, primary_key=True)
    application_id: str = Field(foreign_key="applications.id", max_length=36, index=True)
    program: str = Field(max_length=100)
    person_id_number: str = Field(max_length=18)
    family_id: str = Field(max_length=64)
    division_path: str = Field(sa_type=PathType)
    # monthly: an enrolment paid each month from starts_on; one_time: a single payment.
    kind: str = Field(max_length=16)
    amount: float = Field(sa_type=sa.Numeric(12, 2))
    year: int
    starts_on: date = Field(sa_type=sa.Date())
    # Last day paid (inclusive); NULL while a monthly enrolment runs.
    ends_on: date | None = Field(default=None, sa_type=sa.Date(), nullable=True)
    status: str = Field(max_length=16)  # active | ended
    category: str | None = Field(default=None, max_length=32)  # e.g. 低保 class A/B/C, a grade of need
    next_recheck_on: date | None = Field(default=None, sa_type=sa.Date(), nullable=True)
    # Approved above a cap by a case conference ("one case, one decision").
    cap_exempt: bool = False
    note: dict = Field(default_factory=dict, sa_type=JSONType)
    created_at: datetime = timestamp()
    ended_at: datetime | None = timestamp(nullable=True)
    # Why a monthly enrolment ended (``person_deceased``, the terminating case…): payment batches name it.
    ended_reason: str | None = Field(default=None, max_length=100)


class SamplePool(SQLModel, table=True):
    """Random re-check sampling per program, county and month, reproducible from its seed."""

    __tablename__ = "sample_pools"
    __table_args__ = (sa.UniqueConstraint("program", "county_code", "month"),)
    id: int | None = Field(default=None, primary_key=True)
    program: str = Field(max_length=100)
    county_code: str = Field(max_length=32)
    month: str = Field(max_length=7)  # 2026-11
    seed: str = Field(max_length=32)
    drawn: int = 0
    sampled: int = 0


class Panel(SQLModel, table=True):
    """A review panel registered by an institution for a school year (幼儿园资助评审小组)."""

    __tablename__ = "panels"
    __table_args__ = (sa.UniqueConstraint("division_code", "school_year"),)
    id: int | None = Field(default=None, primary_key=True)
    division_code: str = Field(foreign_key="divisions.code", max_length=32)
    school_year: int  # the year the autumn term starts in
    members: list = Field(default_factory=list, sa_type=JSONType)
    set_by: str = Field(max_length=100)
    set_at: datetime = timestamp()
