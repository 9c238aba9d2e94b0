"""Process definitions and their rollout and migrations, program settings, panels, the calendar."""

import datetime as dt
from typing import Literal

from pydantic import Field

from app.api.schemas import Count, DivisionCode, Number, Out, Timestamp, Username, Version


class Definition(Out):
    key: str
    version: Version
    name: str
    sha256: str = Field(min_length=64, max_length=64)
    deployed_at: Timestamp
    deployed_by: str
    version_tag: str | None = Field(max_length=100)
    comment: str | None = Field(max_length=2000)


class Deployed(Out):
    key: str
    version: Version
    name: str
    created: bool = Field(description="false: identical to the newest version (200), or a dry run")
    dry_run: bool | None = Field(None, description="present (true) when only validated")


class Diff(Out):
    key: str
    from_: Version = Field(alias="from")
    to: Version
    added_steps: list[str]
    removed_steps: list[str]
    changed_steps: list[str]


class RolloutEntry(Out):
    division_code: DivisionCode
    version: Version
    set_by: Username
    set_at: Timestamp


class Rollout(Out):
    key: str
    default_version: Version | None = Field(description="none: the newest version")
    rules: list[RolloutEntry]


class CaseMigration(Out):
    application_id: str
    can_migrate: bool
    open_steps: list[str] | None = None
    migrated: bool | None = None
    reason: str | None = None


class Migration(Out):
    key: str
    from_version: Version
    to_version: Version
    dry_run: bool
    total: Count
    can_migrate: Count
    migrated: Count
    cases: list[CaseMigration]


SettingValue = bool | int | float | str


class Authority(Out):
    level: str = Field(description="country or a place level: the highest level that may set the value")
    direction: Literal["ceiling", "floor", "any"]


class Setting(Out):
    value: SettingValue
    source: str = Field(description="the division code that set it, country, or bpmn (the default)")
    range: list[Number] | None = Field(description="[lowest, highest] allowed")
    authority: Authority | None
    own: SettingValue | None = Field(description="the value this place itself set, if any")


class Overruled(Out):
    division_code: DivisionCode
    setting: str
    value: SettingValue


class Settings(Out):
    program: str
    division_code: DivisionCode | None
    owner_department: str | None
    settings: dict[str, Setting]
    overruled_below: list[Overruled] | None = Field(
        None, description="after a change: values set below that the new values now overrule"
    )


class SettingChange(Out):
    id: int
    at: Timestamp
    actor: str
    type: Literal["setting.set", "setting.changed", "setting.removed"]
    subject: str
    division_code: DivisionCode | None
    old: dict[str, SettingValue] | None
    new: dict[str, SettingValue] | None


class PanelMember(Out):
    name: str = Field(min_length=1, max_length=100)
    role: Literal["head", "staff", "parent"]


class Panel(Out):
    division_code: DivisionCode
    school_year: int = Field(ge=1900, le=2200)
    members: list[PanelMember]


class CalendarYear(Out):
    year: int = Field(ge=1900, le=2200)
    source: str | None
    holidays: list[dt.date]
    working_days: list[dt.date] = Field(description="weekend days that are working days (调休)")
    provisional: bool = Field(description="true: no calendar published for the year; weekends only")
    updated_at: Timestamp | None = None
    updated_by: str | None = None
    detail: str | None = None


class Recomputed(Out):
    tasks: Count
    applications: Count
    timers: Count


class StoredCalendarYear(CalendarYear):
    recomputed: Recomputed


class WorkingDays(Out):
    date: dt.date | None = Field(None, description="from + add: that working day")
    count: int | None = Field(None, description="from + to: working days in (from, to]")
    provisional: bool
