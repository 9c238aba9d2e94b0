"""The reports page's tables (统计报表), each defined once for the page, its CSV and its XLSX, so the three
always say the same. A table is columns (key, Chinese header, kind) and rows of the domain's figures;
the figures follow ``tables.ALL_HEADERS`` of the domain (a new figure there is a new column here)."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from app.domain.reports.monthly import TITLES
from app.domain.reports.tables import ALL_HEADERS, STEP_HEADERS, YUAN

# "figure": a count or yuan by the row's ``key`` (the summary's one column of values holds both).
Kind = Literal["text", "count", "yuan", "share", "month", "day", "figure"]


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    kind: Kind = "count"


@dataclass
class Table:
    """``name`` is the table's address on the page and in its download's file name."""

    name: str
    title: str
    columns: tuple[Column, ...]
    rows: list[dict[str, object]]
    links: list[str | None] = field(default_factory=list)  # per row: where its place or step leads
    link_key: str = "name"  # the column whose cell carries the row's link
    # Per row: a number's column → the cases behind it (the page's only; the files hold plain values).
    cell_links: list[dict[str, str]] = field(default_factory=list)

    def kind(self, row: Mapping[str, object], column: Column) -> Kind:
        if column.kind == "figure":
            return "yuan" if row.get("key") in YUAN else "count"
        return column.kind

    def cell(self, row: Mapping[str, object], column: Column) -> str:
        """A value as the page shows it (the CSV writes counts, yuan and shares the same way: yuan
        with two decimals and no thousands separator, so a spreadsheet reads them as numbers)."""
        value = row.get(column.key)
        kind = self.kind(row, column)
        if value is None:
            return ""
        if kind == "yuan":
            return f"{float(value):.2f}"  # type: ignore[arg-type]
        if kind == "share":
            return f"{float(value):.2%}"  # type: ignore[arg-type]
        if kind == "month":
            assert isinstance(value, date)
            return f"{value.year}年{value.month}月"
        if kind == "day":
            assert isinstance(value, date)
            return value.isoformat()
        return str(value)


# Every figure of a period (not ``overdue_now``: it is now, not a month's). The stock figures (期末…) are
# values at the period's end; in the months table each month's own end value (``months.by_month``).
PERIOD_COLUMNS = tuple(
    Column(key, header, "yuan" if key in YUAN else "count")
    for key, header in ALL_HEADERS.items()
    if key != "overdue_now"
)
OVERDUE = Column("overdue_now", ALL_HEADERS["overdue_now"])
# The figures the trend chart draws, month by month (the table beside it has them all).
TREND_KEYS = ("received", "approved", "refused", "withdrawn", "terminated")


def summary_table(report: Mapping[str, object]) -> Table:
    """The place's figures over the period, one row per figure (指标, 数值)."""
    rows: list[dict[str, object]] = [
        {"figure": c.header, "key": c.key, "value": report[c.key]} for c in (*PERIOD_COLUMNS, OVERDUE)
    ]
    return Table(
        "summary", "汇总", (Column("figure", "指标", "text"), Column("value", "数值", "figure")), rows
    )


def months_table(months: Sequence[Mapping[str, object]]) -> Table:
    """One row per month; a stock figure is the month's own end value, never a sum over months."""
    rows = [{"month": m["month"], **{c.key: m[c.key] for c in PERIOD_COLUMNS}} for m in months]
    return Table("months", "按月趋势", (Column("month", "月份", "month"), *PERIOD_COLUMNS), rows)


def steps_table(report: Mapping[str, object], titles: Mapping[str, str]) -> Table:
    """Per step: done, done with a time limit, done on time, the on-time share (empty: no limit), and
    the working days taken (nearest-rank median and 90th percentile)."""
    steps: Sequence[Mapping[str, object]] = report["steps"]  # type: ignore[assignment]
    rows = [{**s, "title": titles.get(str(s["step"]), str(s["step"]))} for s in steps]
    columns = (
        Column("title", "环节", "text"),
        Column("step", "环节代码", "text"),
        Column("done", "办结"),
        Column("timed", "有办理时限"),
        Column("on_time", "按时办结"),
        Column("on_time_share", "按时率", "share"),
        Column("median_days", STEP_HEADERS["median_days"]),
        Column("p90_days", STEP_HEADERS["p90_days"]),
    )
    return Table("steps", "各环节按时率与用时", columns, rows)


PLACE_COLUMNS = (Column("code", "地区代码", "text"), Column("name", "地区", "text"), *PERIOD_COLUMNS, OVERDUE)


def places_table(report: Mapping[str, object], links: Sequence[str | None] = ()) -> Table:
    """The places one level down, in the domain's order (by code)."""
    places: Sequence[Mapping[str, object]] = report["places"]  # type: ignore[assignment]
    rows = [{c.key: p[c.key] for c in PLACE_COLUMNS} for p in places]
    return Table("places", "分地区", PLACE_COLUMNS, rows, list(links))


def level_table(title: str, reports: Sequence[Mapping[str, object]]) -> Table:
    """All places of one level under the report's place (one sheet of the drill-down workbook): each
    parent's ``by_place`` report in turn, with the parent's name in front."""
    rows = [
        {"parent": report["place"]["name"], **{c.key: p[c.key] for c in PLACE_COLUMNS}}  # type: ignore[index]
        for report in reports
        for p in report["places"]  # type: ignore[attr-defined]
    ]
    return Table("places", title, (Column("parent", "上级地区", "text"), *PLACE_COLUMNS), rows)


def overdue_table(report: Mapping[str, object], links: Sequence[str | None] = ()) -> Table:
    """The places one level down ranked by open steps past their deadline now (most first; ties by code)."""
    places: Sequence[Mapping[str, object]] = report["places"]  # type: ignore[assignment]
    order = sorted(range(len(places)), key=lambda i: -int(places[i]["overdue_now"]))  # type: ignore[call-overload]
    rows = [
        {
            "rank": rank,
            "code": places[i]["code"],
            "name": places[i]["name"],
            "overdue_now": places[i]["overdue_now"],
        }
        for rank, i in enumerate(order, start=1)
    ]
    columns = (
        Column("rank", "排名"),
        Column("code", "地区代码", "text"),
        Column("name", "地区", "text"),
        OVERDUE,
    )
    return Table("overdue", "超期待办排名", columns, rows, [links[i] for i in order] if links else [])


def monthly_table(report: Mapping[str, object], links: Sequence[str | None] = ()) -> Table:
    """A program's own monthly report (``domain/reports/monthly.report``): the place first (合计), then
    each place below it, with the columns of its kind (student aid or social assistance)."""
    keys: Sequence[str] = report["columns"]  # type: ignore[assignment]
    figures = tuple(Column(k, ALL_HEADERS[k], "yuan" if k in YUAN else "count") for k in keys)
    rows = [
        {**r, "name": f"{r['name']}（合计）" if r["total"] else r["name"]}
        for r in report["rows"]  # type: ignore[attr-defined]
    ]
    columns = (Column("code", "地区代码", "text"), Column("name", "地区", "text"), *figures)
    return Table("monthly", TITLES[str(report["kind"])], columns, rows, list(links))


# The date a listed case counted on: a month's figure's event; for a figure of now, since when (or, for
# overdue work, by when) the case is in that state.
CASE_DAY_HEADERS = {
    "in_notice": "公示开始日期",
    "enrolments_active": "开始享受日期",
    "overdue_now": "最早到期日期",
}


def cases_table(figure: str, rows: list[dict[str, object]], links: Sequence[str | None]) -> Table:
    """The cases behind a number (``domain/reports/cases.behind``), masked as the API gives them, with
    the program, place and status in words; each case number leads to the case page."""
    columns = (
        Column("number", "案件编号", "text"),
        Column("applicant_name", "申请人", "text"),
        Column("applicant_id_number", "身份证号", "text"),
        Column("program", "业务", "text"),
        Column("division_code", "地区代码", "text"),
        Column("place", "地区", "text"),
        Column("status", "状态", "text"),
        Column("counted_on", CASE_DAY_HEADERS.get(figure, "计入日期"), "day"),
    )
    return Table("cases", "案件清单", columns, rows, list(links), link_key="number")
