"""The supervision page's overdue list as an XLSX workbook (openpyxl): Chinese headers, real dates.

One row per task of ``supervision.overdue`` in its order, so the sheet and
``GET /api/v1/supervision/overdue`` always say the same; a second sheet counts them per place.
Times are Shanghai wall-clock times (Excel has no time zones), formatted as dates a reviewer reads.
"""

from collections.abc import Mapping
from datetime import datetime
from io import BytesIO

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from app.domain.timekeeping import calendar

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FILENAME = "overdue.xlsx"
# (header, width in characters) of the overdue sheet, in column order.
COLUMNS = (
    ("案件编号", 24),
    ("业务", 16),
    ("环节", 18),
    ("所在地", 18),
    ("行政区划代码", 14),
    ("办理人", 14),
    ("到达时间", 18),
    ("办理期限", 18),
    ("超期工作日", 10),
)
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="DDE6F0")


def _local(value: datetime | None) -> datetime | None:
    """Shanghai wall-clock time without a zone, to the second (what a spreadsheet cell holds)."""
    if value is None:
        return None
    return value.astimezone(calendar.SHANGHAI).replace(tzinfo=None, microsecond=0)


def _header(sheet, columns: tuple[tuple[str, int], ...]) -> None:
    sheet.append([name for name, _ in columns])
    for index, (_, width) in enumerate(columns, start=1):
        cell = sheet.cell(row=1, column=index)
        cell.font, cell.fill, cell.alignment = _HEADER_FONT, _HEADER_FILL, Alignment(horizontal="center")
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"


def overdue_workbook(
    result: Mapping[str, object], places: Mapping[str, str], programs: Mapping[str, str]
) -> bytes:
    """``result`` is ``supervision.overdue``'s answer; ``places`` code → name, ``programs`` key → name."""
    book = Workbook()
    sheet = book.create_sheet(index=0)  # the typed way to the first sheet (``active`` may be None)
    book.remove(book.worksheets[1])  # the empty sheet a new workbook starts with
    sheet.title = "超期任务"
    _header(sheet, COLUMNS)
    items: list[dict[str, object]] = list(result["items"])  # type: ignore[call-overload]
    for task in items:
        left = task.get("working_days_left")
        code = str(task["division_code"])
        sheet.append(
            [
                task.get("case_number") or str(task["application_id"]),
                programs.get(str(task["program"]), str(task["program"])),
                task["title"],
                places.get(code, code),
                code,
                task.get("assignee") or "待认领",
                _local(task["created_at"]),  # type: ignore[arg-type]
                _local(task["due_at"]),  # type: ignore[arg-type]
                -left if isinstance(left, int) and left < 0 else 0,
            ]
        )
    for row in sheet.iter_rows(min_row=2, min_col=7, max_col=8):
        for cell in row:
            cell.number_format = DATETIME_FORMAT
    if items:
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(COLUMNS))}{len(items) + 1}"
    counts = book.create_sheet("按地区汇总")
    _header(counts, (("所在地", 18), ("行政区划代码", 14), ("超期任务数", 12)))
    by_division: list[dict[str, object]] = list(result["by_division"])  # type: ignore[call-overload]
    for place in by_division:
        counts.append([place["name"], place["division_code"], place["overdue"]])
    out = BytesIO()
    book.save(out)
    return out.getvalue()
