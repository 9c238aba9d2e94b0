"""Reports as XLSX workbooks (openpyxl): Chinese headers, numbers as numbers (counts ``#,##0``, yuan
``#,##0.00``, shares ``0.00%``), dates as dates, one sheet per level of the place tree. The cells hold
the same values as the JSON report (``tests/test_report_exports.py`` reads them back)."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from io import BytesIO
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from app.domain.people.roles import LEVELS
from app.domain.reports import metrics, monthly, tables

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS = {
    "count": "#,##0",
    "yuan": "#,##0.00",
    "share": "0.00%",
    "date": "yyyy-mm-dd",
    "datetime": "yyyy-mm-dd hh:mm",
}
_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="DDE6F0")


@dataclass
class Sheet:
    title: str
    headers: Sequence[str]
    rows: Sequence[Sequence[object]]
    kinds: Sequence[str]  # text | count | yuan | share | date | datetime, per column
    preamble: list[str] = field(default_factory=list)  # lines above the table (title, period)


def _value(value: object, kind: str) -> object:
    if kind == "datetime" and isinstance(value, datetime):
        return value.astimezone(metrics.SHANGHAI).replace(tzinfo=None, microsecond=0)
    return cell_value(value)


def cell_value(value: object) -> object:
    """A value openpyxl can write: text without the control characters XML cannot hold."""
    return tables.xlsx_text(value) if isinstance(value, str) else value


def no_formulas(sheet: Worksheet) -> None:
    """Every cell a value: openpyxl makes text starting with "=" a formula, and names come from
    administrators (a place called =HYPERLINK(…) must not run when the workbook is opened)."""
    for row in sheet.iter_rows():
        for cell in row:
            if cell.data_type == "f":
                cell.data_type = "s"


def workbook(sheets: Sequence[Sheet]) -> bytes:
    book = Workbook()
    for sheet_spec in sheets:
        sheet = book.create_sheet()
        sheet.title = sheet_spec.title[:31]  # Excel's limit on a sheet's name
        for line in sheet_spec.preamble:
            sheet.append([cell_value(line)])
        sheet.append([cell_value(h) for h in sheet_spec.headers])
        header_row = len(sheet_spec.preamble) + 1
        for index, name in enumerate(sheet_spec.headers, start=1):
            cell = sheet.cell(row=header_row, column=index)
            cell.font, cell.fill = _HEADER_FONT, _HEADER_FILL
            cell.alignment = Alignment(horizontal="center", wrap_text=True)
            sheet.column_dimensions[get_column_letter(index)].width = max(10, min(28, len(name) * 2 + 2))
        for row in sheet_spec.rows:
            sheet.append([_value(v, k) for v, k in zip(row, sheet_spec.kinds, strict=True)])
        for column, kind in enumerate(sheet_spec.kinds, start=1):
            if kind in FORMATS:
                for (cell,) in sheet.iter_rows(min_row=header_row + 1, min_col=column, max_col=column):
                    cell.number_format = FORMATS[kind]
        sheet.freeze_panes = sheet.cell(row=header_row + 1, column=3 if len(sheet_spec.headers) > 2 else 1)
        no_formulas(sheet)
    book.remove(book.worksheets[0])  # the empty sheet a new workbook starts with
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def _period(report: Mapping[str, Any]) -> str:
    program = report.get("program") or "全部项目"
    return (
        f"{report['place']['name']}（{report['place']['code']}） {report['from']} 至 {report['to']} {program}"
    )


def _place_sheet(title: str, places: Sequence[Mapping[str, Any]], preamble: list[str]) -> Sheet:
    steps = tables.step_names(places)
    return Sheet(
        title,
        tables.place_headers(steps),
        [tables.place_row(p, steps) for p in places],
        tables.place_kinds(steps),
        preamble,
    )


def summary_workbook(summary: Mapping[str, Any]) -> bytes:
    place = {**summary, "code": summary["place"]["code"], "name": summary["place"]["name"]}
    return workbook([_place_sheet("本级", [place], [_period(summary)]), steps_sheet(summary)])


def by_place_workbook(summary: Mapping[str, Any], by_place: Mapping[str, Any], level: str | None) -> bytes:
    """Sheet 本级: the place; a sheet named after the level below (乡镇（街道）…): its places."""
    place = {**summary, "code": summary["place"]["code"], "name": summary["place"]["name"]}
    below = LEVELS.get(level or "", "下级地区")
    return workbook(
        [
            _place_sheet("本级", [place], [_period(summary)]),
            _place_sheet(below, by_place["places"], [_period(by_place)]),
        ]
    )


def steps_sheet(report: Mapping[str, Any]) -> Sheet:
    keys = list(tables.STEP_TABLE_HEADERS)
    kinds = ["text", "count", "count", "count", "share", "count", "count"]
    return Sheet(
        "环节用时",
        list(tables.STEP_TABLE_HEADERS.values()),
        [[s[k] for k in keys] for s in report["steps"]],
        kinds,
        [_period(report)],
    )


def steps_workbook(report: Mapping[str, Any]) -> bytes:
    return workbook([steps_sheet(report)])


def monthly_workbook(report: Mapping[str, Any]) -> bytes:
    columns = report["columns"]
    kinds = ["text", "text", *("yuan" if c in tables.YUAN else "count" for c in columns)]
    rows = [
        [r["code"], r["name"] + ("（合计）" if r["total"] else ""), *(r[c] for c in columns)]
        for r in report["rows"]
    ]
    data_due: date = report["data_due"]
    report_due: date = report["report_due"]
    return workbook(
        [
            Sheet(
                monthly.TITLES[report["kind"]],
                ["地区代码", "地区", *(tables.ALL_HEADERS[c] for c in columns)],
                rows,
                kinds,
                [report["title"], f"数据截止：{data_due:%Y-%m-%d}  报送截止：{report_due:%Y-%m-%d}"],
            )
        ]
    )


def cases_workbook(page: Mapping[str, Any]) -> bytes:
    headers = ["案件编号", "业务", "行政区划代码", "状态", "申请人", "身份证号", "申请时间", "计入时间"]
    keys = ["number", "program", "division_code", "status", "applicant_name", "applicant_id_number"]
    rows = [[*(item[k] for k in keys), item["submitted_at"], item["counted_at"]] for item in page["items"]]
    kinds = ["text"] * 6 + ["datetime", "datetime"]
    return workbook([Sheet("案件清单", headers, rows, kinds)])
