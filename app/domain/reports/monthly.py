"""The programs' own monthly reports, produced from the figures instead of typed (issue 21 item 2).

Student aid (programs whose owning department is education or a student aid office: 学前教育资助,
普通高中国家助学金, 学生资助月度报送) reports its changes: 新增, 停止, on the roll at the month's end,
amounts; social assistance (民政: 低保, 特困, 临时救助, 医疗救助) its monthly figures: applications,
decisions, people supported and money. Both are one row for the place and one per place below it,
with the plans' deadlines: the month's data by the 20th, the report by the 28th, each moved to the next
working day as ``zizhu_report.bpmn`` moves them (docs/reports.md)."""

from datetime import date, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock
from app.domain.errors import Invalid
from app.domain.programs import definitions
from app.domain.reports import figures, metrics
from app.domain.reports.figures import Scope
from app.domain.timekeeping import calendar

DATA_DUE_DAY = 20
REPORT_DUE_DAY = 28
STUDENT_AID_DEPARTMENTS = frozenset({"education", "aid_centre", "aid_office"})
# The columns of each kind of report, in order (names of the figures in ``figures.Figures.view``).
COLUMNS: dict[str, tuple[str, ...]] = {
    "student_aid": (
        "received",
        "approved",
        "refused",
        "enrolments_started",
        "enrolments_ended",
        "terminated",
        "enrolments_active",
        "payments_scheduled",
        "amount_scheduled",
        "payments_paid",
        "amount_paid",
    ),
    "social_assistance": (
        "received",
        "accepted",
        "approved",
        "refused",
        "withdrawn",
        "terminated",
        "objections_received",
        "objections_upheld",
        "enrolments_started",
        "enrolments_ended",
        "enrolments_active",
        "monthly_amount_active",
        "payments_scheduled",
        "amount_scheduled",
        "payments_paid",
        "amount_paid",
    ),
}
TITLES = {"student_aid": "学生资助月度变动报告", "social_assistance": "社会救助月度统计表"}


def kind_of(owner_department: str | None) -> str:
    return "student_aid" if owner_department in STUDENT_AID_DEPARTMENTS else "social_assistance"


def _working_day_from(days: calendar.WorkingDays, day: date) -> date:
    """The day itself, or the next working day when it is a weekend or holiday (as the plans move them)."""
    while not days.is_working_day(day):
        day += timedelta(days=1)
    return day


def deadlines(days: calendar.WorkingDays, month: date) -> dict[str, Any]:
    """The month's data (student aid: the change report) is due by the 20th, its report (the summary)
    by the 28th, each moved to the next working day; where today stands."""
    data_due = _working_day_from(days, month.replace(day=DATA_DUE_DAY))
    report_due = _working_day_from(days, month.replace(day=REPORT_DUE_DAY))
    today = clock.now().astimezone(metrics.SHANGHAI).date()
    if today <= data_due:
        stage = "collecting"  # 数据报送中
    elif today <= report_due:
        stage = "reporting"  # 数据已截止，报表待报送
    else:
        stage = "closed"  # 报送期已过
    return {"data_due": data_due, "report_due": report_due, "stage": stage}


async def report(conn: AsyncConnection, where: Scope) -> dict[str, Any]:
    """``where``: one program and one month (first_month == last_month)."""
    if where.program is None:
        raise Invalid("program_required", "a monthly report is of one program")
    definition = await definitions.latest(conn, where.program)  # 422 unknown_program
    kind = kind_of(definition.config.process.owner_department)
    columns = COLUMNS[kind]
    total = await figures.summary(conn, where)
    rows = [{"code": where.code, "name": where.name, "total": True, **{c: total[c] for c in columns}}]
    if metrics.depth(where.path) < metrics.GRAIN_DEPTH:
        below = await figures.by_place(conn, where)
        places: list[dict[str, Any]] = below["places"]  # type: ignore[assignment]
        for place in places:
            rows.append(
                {
                    "code": place["code"],
                    "name": place["name"],
                    "total": False,
                    **{c: place[c] for c in columns},
                }
            )
    return {
        "program": where.program,
        "program_name": definition.name,
        "kind": kind,
        "title": f"{where.name}{definition.name}{where.first_month.year}年{where.first_month.month}月{TITLES[kind]}",
        "place": {"code": where.code, "name": where.name},
        "month": where.first_month.strftime("%Y-%m"),
        **deadlines(await calendar.load(conn), where.first_month),
        "columns": list(columns),
        "rows": rows,
    }
