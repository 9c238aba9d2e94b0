"""The reports page's tables as files: CSV (UTF-8 with a byte order mark, so spreadsheets read the
Chinese) and XLSX (openpyxl: Chinese headers, counts and yuan as numbers formatted ``#,##0`` and
``#,##0.00`` like the API's workbooks, shares as percentages, months as dates shown 2026年11月; one sheet per table, so the drill-down's levels each get a sheet)."""

import csv
import io
from collections.abc import Sequence
from datetime import date

from fastapi import Response
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from app.api.report_workbooks import cell_value, no_formulas
from app.domain.reports.tables import csv_text as csv_cell_text
from app.web.report_tables import Column, Table

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS = {
    "count": "#,##0",
    "yuan": "#,##0.00",
    "share": "0.00%",
    "month": 'yyyy"年"m"月"',
    "day": "yyyy-mm-dd",
    "text": "@",
}
WIDTHS = {"count": 12, "yuan": 14, "share": 10, "month": 12, "day": 12, "text": 16, "figure": 14}
_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="DDE6F0")


def _csv_value(table: Table, row: dict[str, object], column: Column) -> object:
    value = row.get(column.key)
    if column.kind == "month" and isinstance(value, date):
        return f"{value:%Y-%m}"  # sorts as text; a spreadsheet reads it as a month
    text = table.cell(row, column)
    return csv_cell_text(text) if column.kind == "text" else text


def csv_text(table: Table) -> str:
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow([c.header for c in table.columns])
    for row in table.rows:
        writer.writerow([_csv_value(table, row, c) for c in table.columns])
    return out.getvalue()


def workbook(tables: Sequence[Table]) -> bytes:
    """One sheet per table, titled by it (Excel allows 31 characters), header row frozen."""
    book = Workbook()
    first = book.worksheets[0]
    for index, table in enumerate(tables):
        sheet = first if index == 0 else book.create_sheet()
        sheet.title = table.title[:31]
        sheet.append([c.header for c in table.columns])
        for number, column in enumerate(table.columns, start=1):
            cell = sheet.cell(row=1, column=number)
            cell.font, cell.fill, cell.alignment = _HEADER_FONT, _HEADER_FILL, Alignment(horizontal="center")
            width = max(WIDTHS[column.kind], 2 * len(column.header) + 2)
            sheet.column_dimensions[get_column_letter(number)].width = width
        for line, row in enumerate(table.rows, start=2):
            sheet.append([cell_value(row.get(c.key)) for c in table.columns])
            for number, column in enumerate(table.columns, start=1):  # the summary's kind is per row
                sheet.cell(row=line, column=number).number_format = FORMATS[table.kind(row, column)]
        sheet.freeze_panes = "A2"
        no_formulas(sheet)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def download(sheets: Sequence[Table], name: str, *, xlsx: bool) -> Response:
    """The tables as a file to save: a workbook of one sheet each, or the first as CSV (``name``
    without its extension); never cached, since the figures behind it move."""
    if xlsx:
        body: str | bytes = workbook(list(sheets))
        media, name = XLSX_TYPE, name + ".xlsx"
    else:
        body, media, name = csv_text(sheets[0]), "text/csv; charset=utf-8", name + ".csv"
    return Response(
        body,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )
