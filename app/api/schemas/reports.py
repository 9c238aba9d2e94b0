"""Reports (docs/reports.md): counts and sums per place, program and month; no person in them (the
case lists behind a number are masked)."""

from datetime import date
from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from app.api.schemas import Count, DivisionCode, Out, Timestamp

Month = Annotated[str, Field(pattern=r"^\d{4}-\d{2}$", examples=["2026-11"])]
Yuan = Annotated[float, Field(description="yuan, two decimals")]


class ReportPlace(Out):
    code: DivisionCode
    name: str


class StepFigures(Out):
    step: str
    done: Count
    timed: Count = Field(description="completed steps that had a time limit")
    on_time: Count = Field(description="of those, completed by their deadline")
    on_time_share: float | None = Field(description="on_time / timed; null when no step had a limit")
    median_days: int | None = Field(description="working days taken, median (exact); null when none done")
    p90_days: int | None = Field(description="working days taken, 90th percentile (exact, nearest rank)")


class Figures(Out):
    received: Count
    accepted: Count = Field(description="受理: the acceptance step completed with 'accept'")
    approved: Count
    refused: Count
    withdrawn: Count
    terminated: Count
    objections_received: Count
    objections_upheld: Count
    notices_opened: Count
    notices_closed: Count
    in_notice: int = Field(description="cases in notice at the end of the period")
    enrolments_started: Count = Field(description="monthly enrolments that started in the period")
    enrolments_ended: Count = Field(description="monthly enrolments that ended in the period")
    enrolments_active: int = Field(description="monthly enrolments active at the end of the period")
    monthly_amount_active: Yuan = Field(description="their monthly amounts, summed")
    payments_scheduled: int = Field(description="payment items in batches submitted for payment (pay month)")
    amount_scheduled: Yuan
    payments_paid: int = Field(description="items the bank's result file says it paid (pay month)")
    amount_paid: Yuan
    steps: list[StepFigures]
    overdue_now: Count = Field(description="open steps past their deadline at or below the place, now")


class Summary(Figures):
    place: ReportPlace
    program: str | None
    from_: Month = Field(alias="from")
    to: Month


class PlaceFigures(Figures):
    code: DivisionCode
    name: str


class ByPlace(Out):
    place: ReportPlace
    program: str | None
    from_: Month = Field(alias="from")
    to: Month
    places_level: str | None = Field(description="the level of the places listed (county, township…)")
    places: list[PlaceFigures]


class DaysBucket(Out):
    days: int = Field(ge=0, description="working days taken (the last bucket: days_cap or more)")
    count: Count


class StepTimes(StepFigures):
    days: list[DaysBucket] = Field(description="the histogram the median and p90 come from")


class Steps(Out):
    place: ReportPlace
    program: str | None
    from_: Month = Field(alias="from")
    to: Month
    days_cap: int
    steps: list[StepTimes]


class CaseBehind(Out):
    id: str
    number: str | None
    program: str
    division_code: DivisionCode
    status: str
    applicant_name: str = Field(description="masked: 张*")
    applicant_id_number: str = Field(description="masked: 340621********0123")
    submitted_at: Timestamp
    counted_at: Timestamp | None = Field(
        description="when the case counted in the figure (or, now: since when)"
    )


class CasesBehind(Out):
    place: ReportPlace
    program: str | None
    figure: str
    month: Month | None
    items: list[CaseBehind]
    limit: int
    offset: int
    has_more: bool


class MonthlyRow(Out):
    model_config = ConfigDict(extra="allow")  # the figures of the report's columns

    code: DivisionCode
    name: str
    total: bool = Field(description="the place itself (合计); the other rows are the places below it")


class Monthly(Out):
    program: str
    program_name: str
    kind: Literal["student_aid", "social_assistance"]
    title: str
    place: ReportPlace
    month: Month
    data_due: date = Field(description="the month's data is due by the 20th")
    report_due: date = Field(description="the report is due by the 28th")
    stage: Literal["collecting", "reporting", "closed"]
    columns: list[str] = Field(description="the figures in each row, in order (names as in /reports/summary)")
    rows: list[MonthlyRow]
