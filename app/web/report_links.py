"""Where a report's numbers lead: each to the list of the cases behind it (``/ui/reports/cases``, the
page over ``domain/reports/cases.behind``). A number leads there only when the list tells exactly it: a
month's figure found again in the audit trail (``cases.BY_EVENTS``), or a figure of now (``cases.NOW``,
read from the live tables) where the number shown is of now. Zeros lead nowhere."""

from collections.abc import Mapping
from datetime import date
from urllib.parse import urlencode

from app.domain.reports import cases, figures
from app.web.report_tables import Table


def cases_url(figure: str, where: figures.Scope, month: date | None) -> str:
    query = {
        "figure": figure,
        "place": where.code,
        "program": where.program or "",
        "month": f"{month:%Y-%m}" if month else "",
    }
    return "/ui/reports/cases?" + urlencode({k: v for k, v in query.items() if v})


def months_links(table: Table, where: figures.Scope) -> list[dict[str, str]]:
    """按月趋势: every non-zero figure of a month the trail can tell. A stock column (公示中, 期末在册) is
    that month's end value, which the live tables cannot list again: it leads nowhere."""
    found: list[dict[str, str]] = []
    for row in table.rows:
        month = row["month"]
        assert isinstance(month, date)
        found.append(
            {
                c.key: cases_url(c.key, where, month)
                for c in table.columns
                if c.key in cases.BY_EVENTS and _non_zero(row, c.key)
            }
        )
    return found


def summary_links(table: Table, where: figures.Scope) -> list[dict[str, str]]:
    """汇总: 当前超期待办 always (it is of now); 公示中 and 期末在册 when the period reaches this month (their
    value at its end is then now's); a month's figures when the period is one month."""
    reaches_now = where.last_month >= figures.this_month()
    one_month = where.first_month == where.last_month
    found: list[dict[str, str]] = []
    for row in table.rows:
        key, url = str(row["key"]), ""
        if _non_zero(row, "value"):
            if key == "overdue_now" or (key in cases.NOW and reaches_now):
                url = cases_url(key, where, None)
            elif key in cases.BY_EVENTS and one_month:
                url = cases_url(key, where, where.first_month)
        found.append({"value": url} if url else {})
    return found


def _non_zero(row: Mapping[str, object], key: str) -> bool:
    value = row.get(key)
    return value is not None and value != 0
