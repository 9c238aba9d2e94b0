"""A report as a table people open in a spreadsheet: Chinese headers, one row per place. The CSV is
written here; the XLSX workbooks (``app/api/report_workbooks.py``) use the same headers and rows."""

import csv
import io
import re
from collections.abc import Mapping, Sequence
from typing import Any

# Column headers of every figure, in the order a table shows them.
ALL_HEADERS = {
    "received": "收到申请",
    "accepted": "受理",
    "approved": "批准",
    "refused": "不予批准",
    "withdrawn": "撤销",
    "terminated": "终止",
    "objections_received": "收到异议",
    "objections_upheld": "异议成立",
    "notices_opened": "开始公示",
    "notices_closed": "结束公示",
    "in_notice": "公示中",
    "enrolments_started": "新增享受",
    "enrolments_ended": "停止享受",
    "enrolments_active": "期末在册",
    "monthly_amount_active": "期末月发放标准合计（元）",
    "payments_scheduled": "计划发放笔数",
    "amount_scheduled": "计划发放金额（元）",
    "payments_paid": "已发放笔数",
    "amount_paid": "已发放金额（元）",
    "overdue_now": "当前超期待办",
}
# Figures in yuan (two decimals); the rest are counts.
YUAN = frozenset({"monthly_amount_active", "amount_scheduled", "amount_paid"})
# Figures at the end of a period (not sums of its months: a month-by-month table leaves them out).
STOCK_FIGURES = frozenset({"in_notice", "enrolments_active", "monthly_amount_active"})
# The counts of a period that add up month by month, and overdue_now (the web page's tables follow them).
HEADERS = {
    k: v
    for k, v in ALL_HEADERS.items()
    if k not in YUAN and k not in STOCK_FIGURES and k not in ("payments_scheduled", "payments_paid")
}
STEP_HEADERS = {
    "done": "办结",
    "on_time_share": "按时率",
    "median_days": "用时中位数（工作日）",
    "p90_days": "用时90%分位（工作日）",
}
STEP_TABLE_HEADERS = {
    "step": "环节",
    "done": "办结",
    "timed": "有期限的",
    "on_time": "按期办结",
    "on_time_share": "按时率",
    "median_days": "用时中位数（工作日）",
    "p90_days": "用时90%分位（工作日）",
}


# A spreadsheet runs a CSV cell starting with one of these as a formula; names of places, programs and
# steps come from administrators, so a text cell that starts with one is written after a quote (OWASP's
# advice for CSV injection: the quote shows, and the cell stays text).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Characters XML 1.0 cannot hold (openpyxl refuses them): shown as U+FFFD in a workbook.
_NOT_IN_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def csv_text(value: str) -> str:
    """Text for a CSV cell that a spreadsheet shows and never runs."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def xlsx_text(value: str) -> str:
    """Text a workbook can hold (the workbook writers also keep it a string cell, never a formula)."""
    return _NOT_IN_XML.sub("\ufffd", value)


def step_names(places: Sequence[Mapping[str, Any]]) -> list[str]:
    return sorted({str(s["step"]) for p in places for s in p["steps"]})


def place_row(place: Mapping[str, Any], steps: Sequence[str]) -> list[object]:
    """Code, name, every figure, then per step done, on-time share, median and p90 (raw values)."""
    by_step = {s["step"]: s for s in place["steps"]}
    cells: list[object] = [place["code"], place["name"], *(place[k] for k in ALL_HEADERS)]
    for step in steps:
        figures = by_step.get(step, {"done": 0, "on_time_share": None, "median_days": None, "p90_days": None})
        cells += [figures[k] for k in STEP_HEADERS]
    return cells


def place_headers(steps: Sequence[str]) -> list[str]:
    return [
        "地区代码",
        "地区",
        *ALL_HEADERS.values(),
        *(f"{s} {h}" for s in steps for h in STEP_HEADERS.values()),
    ]


def by_place_csv(report: Mapping[str, object]) -> str:
    """The drill-down table as CSV (UTF-8 with a byte order mark): place code and name, the figures,
    then per step the number done, the on-time share (a percentage) and the working days taken."""
    places: Sequence[Mapping[str, Any]] = report["places"]  # type: ignore[assignment]
    steps = step_names(places)
    return rows_csv(place_headers(steps), [place_row(p, steps) for p in places], place_kinds(steps))


def place_kinds(steps: Sequence[str]) -> list[str]:
    """How each column of ``place_row`` is written: text, count, yuan, share."""
    figure_kinds = ["yuan" if k in YUAN else "count" for k in ALL_HEADERS]
    return ["text", "text", *figure_kinds, *(["count", "share", "count", "count"] * len(steps))]


def rows_csv(headers: Sequence[str], rows: Sequence[Sequence[object]], kinds: Sequence[str]) -> str:
    out = io.StringIO()
    out.write("\ufeff")  # a byte order mark, so spreadsheets read the Chinese
    writer = csv.writer(out)
    writer.writerow([csv_text(h) for h in headers])
    for row in rows:
        writer.writerow([_cell(value, kind) for value, kind in zip(row, kinds, strict=True)])
    return out.getvalue()


def _cell(value: object, kind: str) -> object:
    if value is None:
        return ""
    if isinstance(value, str):
        return csv_text(value)
    if kind == "share" and isinstance(value, (int, float)):
        return f"{value:.2%}"
    if kind == "yuan" and isinstance(value, (int, float)):
        return f"{value:.2f}"
    return value
