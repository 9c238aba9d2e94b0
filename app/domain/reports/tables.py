"""A report as a table people open in a spreadsheet: Chinese headers, one row per place."""

import csv
import io
from collections.abc import Mapping, Sequence

# Column headers of the case figures, in the order of metrics.CASE_METRICS.
HEADERS = {
    "received": "收到申请",
    "approved": "批准",
    "refused": "不予批准",
    "withdrawn": "撤销",
    "terminated": "终止",
    "objections_received": "收到异议",
    "notices_opened": "开始公示",
    "notices_closed": "结束公示",
    "overdue_now": "当前超期待办",
}


def by_place_csv(report: Mapping[str, object]) -> str:
    """The drill-down table as CSV (UTF-8 with a byte order mark, so spreadsheets read the Chinese):
    place code and name, the case figures, then per step the number done and the on-time share."""
    places: Sequence[Mapping[str, object]] = report["places"]  # type: ignore[assignment]
    steps = sorted({str(s["step"]) for p in places for s in p["steps"]})  # type: ignore[attr-defined]
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(
        ["地区代码", "地区", *HEADERS.values(), *(h for s in steps for h in (f"{s} 办结", f"{s} 按时率"))]
    )
    for place in places:
        by_step = {s["step"]: s for s in place["steps"]}  # type: ignore[attr-defined]
        cells: list[object] = [place["code"], place["name"], *(place[k] for k in HEADERS)]
        for step in steps:
            figures = by_step.get(step, {"done": 0, "on_time_share": None})
            share = figures["on_time_share"]
            cells += [figures["done"], "" if share is None else f"{share:.2%}"]
        writer.writerow(cells)
    return out.getvalue()
