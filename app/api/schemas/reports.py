"""Reports (docs/reports.md): counts per place, program and month; no person in them."""

from typing import Annotated

from pydantic import Field

from app.api.schemas import Count, DivisionCode, Out

Month = Annotated[str, Field(pattern=r"^\d{4}-\d{2}$", examples=["2026-11"])]


class ReportPlace(Out):
    code: DivisionCode
    name: str


class StepFigures(Out):
    step: str
    done: Count
    timed: Count = Field(description="completed steps that had a time limit")
    on_time: Count = Field(description="of those, completed by their deadline")
    on_time_share: float | None = Field(description="on_time / timed; null when no step had a limit")


class Figures(Out):
    received: Count
    approved: Count
    refused: Count
    withdrawn: Count
    terminated: Count
    objections_received: Count
    notices_opened: Count
    notices_closed: Count
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
    places: list[PlaceFigures]
