"""Figures for reports (issue 21): counts and sums only, never a person.

A change of a case appends ``report_deltas`` rows in its own transaction (``audit.Recorder.flush``);
the worker folds them into ``report_rollups`` (``domain/reports/rollups.fold``). A report reads both,
so a figure is current the moment the change commits and folding never changes it.
"""

from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.db.types import PathType

# Integer ids on SQLite (its ROWID), big ones on PostgreSQL.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Amount = sa.Numeric(14, 2)


class ReportDelta(SQLModel, table=True):
    __tablename__ = "report_deltas"
    __table_args__ = (sa.Index("ix_report_deltas_place", "place_path", "month"),)
    id: int | None = Field(default=None, sa_type=BigId, primary_key=True)
    # The first day of the month (Asia/Shanghai) the event happened in.
    month: date
    program: str = Field(max_length=100)
    # The case's place cut to the rollup grain (domain/reports/metrics.grain_path).
    place_path: str = Field(sa_type=PathType)
    metric: str = Field(max_length=160)
    count: int = 1
    amount: Decimal = Field(default=Decimal(0), sa_type=Amount)


class ReportRollup(SQLModel, table=True):
    __tablename__ = "report_rollups"
    # How deep place_path is cut (domain/reports/metrics.GRAINS): every figure is kept at each grain.
    grain: int = Field(sa_type=sa.SmallInteger, primary_key=True)
    # Then the place: a report for a place is one range scan of its path prefix within a grain.
    place_path: str = Field(sa_type=PathType, primary_key=True)
    month: date = Field(primary_key=True)
    program: str = Field(max_length=100, primary_key=True)
    metric: str = Field(max_length=160, primary_key=True)
    count: int = Field(sa_type=sa.BigInteger)
    amount: Decimal = Field(default=Decimal(0), sa_type=Amount)
