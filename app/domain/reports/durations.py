"""The working days a step took, for its histogram in the reports (``metrics.days_metric``): from the
day it arrived to the day it was completed, by the official calendar, counted as 审批记录 counts them
(``cases.record``). Worked out by whoever completes the task and handed to the Recorder with it: the
Recorder itself cannot read the calendar (the calendar records its own changes through the Recorder's
module)."""

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.reports import metrics
from app.domain.timekeeping import calendar


def days_taken(days: calendar.WorkingDays, arrived: datetime, done: datetime) -> int:
    return days.count(
        arrived.astimezone(calendar.SHANGHAI).date(), done.astimezone(calendar.SHANGHAI).date()
    ).value


async def with_days_taken(conn: AsyncConnection, task: dict[str, Any], done: datetime) -> dict[str, Any]:
    """The task as the Recorder gets it, with the working days it took (``metrics.DAYS_TAKEN``)."""
    arrived = task.get("created_at")
    if not isinstance(arrived, datetime):
        return task
    return {**task, metrics.DAYS_TAKEN: days_taken(await calendar.load(conn), arrived, done)}
