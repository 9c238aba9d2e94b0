"""Reports beyond the summary (docs/reports.md): the steps' working days, the cases behind a number
(masked, only what the caller sees), the programs' monthly reports, and every table as XLSX opened
and read back cell by cell against the JSON. Both databases, over real HTTP, on the story of
tests/test_reports.py."""

import io
from datetime import datetime

import openpyxl

from tests.helpers import Api
from tests.test_reports import _report, _story

PERIOD = {"from": "2026-11", "to": "2026-12"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def _book(api: Api, who: str, path: str, **params) -> openpyxl.Workbook:
    r = await api.get(who, f"/reports/{path}", **params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == XLSX and "attachment" in r.headers["content-disposition"]
    return openpyxl.load_workbook(io.BytesIO(r.content))


def _table(sheet, header_row: int = 2) -> list[dict]:
    rows = list(sheet.iter_rows(min_row=header_row, values_only=True))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


async def test_steps_take_working_days_median_and_p90(api: Api):
    await _story(api)
    steps = await _report(api, "county", "steps", place="340621", **PERIOD)
    by_step = {s["step"]: s for s in steps["steps"]}
    # A's and B's reviews the day they arrived, C's 12 working days later (24 November – 9 December).
    assert by_step["initial_review"] == {
        "step": "initial_review",
        "done": 3,
        "timed": 3,
        "on_time": 2,
        "on_time_share": 0.6667,
        "median_days": 0,
        "p90_days": 12,
        "days": [{"days": 0, "count": 2}, {"days": 12, "count": 1}],
    }
    assert steps["days_cap"] == 60
    township = await _report(api, "town_b", "steps", **PERIOD)
    assert [s["step"] for s in township["steps"]] == ["accept_application", "initial_review"]
    assert township["steps"][1]["p90_days"] == 0

    book = await _book(api, "county", "steps.xlsx", place="340621", **PERIOD)
    assert book.sheetnames == ["环节用时"]
    rows = _table(book["环节用时"])
    assert [r["环节"] for r in rows] == [s["step"] for s in steps["steps"]]
    for row, step in zip(rows, steps["steps"], strict=True):
        assert row["办结"] == step["done"] and row["按时率"] == step["on_time_share"]
        assert (
            row["用时中位数（工作日）"] == step["median_days"]
            and row["用时90%分位（工作日）"] == step["p90_days"]
        )
    assert book["环节用时"]["E3"].number_format == "0.00%"


async def test_summary_and_drill_down_as_workbooks_hold_the_api_values(api: Api):
    await _story(api)
    summary = await _report(api, "county", "summary", place="340621", **PERIOD)
    by_place = await _report(api, "county", "by-place", place="340621", **PERIOD)
    assert by_place["places_level"] == "township"

    book = await _book(api, "county", "by-place.xlsx", place="340621", **PERIOD)
    assert book.sheetnames == ["本级", "乡镇（街道）"]  # one sheet per level
    assert book["本级"]["A1"].value.startswith("濉溪县（340621） 2026-11 至 2026-12")
    own = _table(book["本级"])
    assert len(own) == 1 and own[0]["地区代码"] == "340621" and own[0]["收到申请"] == summary["received"]
    assert own[0]["当前超期待办"] == summary["overdue_now"] and own[0]["期末月发放标准合计（元）"] == 580
    towns = _table(book["乡镇（街道）"])
    assert [t["地区"] for t in towns] == ["濉溪镇", "临涣镇"]
    labels = {"收到申请": "received", "受理": "accepted", "批准": "approved", "撤销": "withdrawn",
              "收到异议": "objections_received", "公示中": "in_notice", "期末在册": "enrolments_active",
              "当前超期待办": "overdue_now"}  # fmt: skip
    for row, place in zip(towns, by_place["places"], strict=True):
        assert {h: row[h] for h in labels} == {h: place[k] for h, k in labels.items()}
        review = next(s for s in place["steps"] if s["step"] == "initial_review")
        assert row["initial_review 按时率"] == review["on_time_share"]
        assert row["initial_review 用时90%分位（工作日）"] == review["p90_days"]
    sheet = book["乡镇（街道）"]
    headers = [c.value for c in sheet[2]]
    assert sheet.cell(3, headers.index("收到申请") + 1).number_format == "#,##0"
    assert sheet.cell(3, headers.index("已发放金额（元）") + 1).number_format == "#,##0.00"

    book = await _book(api, "county", "summary.xlsx", place="340621", **PERIOD)
    assert book.sheetnames == ["本级", "环节用时"]
    assert _table(book["本级"])[0]["受理"] == summary["accepted"] == 3


async def test_the_cases_behind_a_number_masked_and_only_what_the_caller_sees(api: Api):
    await _story(api)
    received = await _report(api, "county", "cases", place="340621", figure="received", month="2026-11")
    summary = await _report(api, "county", "summary", place="340621", **{"from": "2026-11"}, to="2026-11")
    assert len(received["items"]) == summary["received"] == 4 and not received["has_more"]
    for item in received["items"]:
        assert item["applicant_name"].endswith("*") and "*" * 8 in item["applicant_id_number"]
        assert set(item) == {"id", "number", "program", "division_code", "status", "applicant_name",
                             "applicant_id_number", "submitted_at", "counted_at"}  # fmt: skip
    page = await _report(api, "county", "cases", place="340621", figure="received", month="2026-11", limit=3)
    assert len(page["items"]) == 3 and page["has_more"]
    # The township sees its own three cases; the township's list is the number in its row.
    own = await _report(api, "town_a", "cases", figure="received", month="2026-11")
    assert len(own["items"]) == 3 and {i["division_code"] for i in own["items"]} == {"340621100201"}
    for figure, month, count in (
        ("withdrawn", "2026-12", 1),
        ("approved", "2026-11", 1),
        ("accepted", "2026-11", 3),
        ("objections_received", "2026-11", 1),
        ("enrolments_started", "2026-11", 1),
        ("in_notice", None, 1),
        ("overdue_now", None, 1),
        ("enrolments_active", None, 1),
    ):
        params = {"month": month} if month else {}
        found = await _report(api, "county", "cases", place="340621", figure=figure, **params)
        assert len(found["items"]) == count, (figure, found)
    r = await api.get("county", "/reports/cases.xlsx", place="340621", figure="received", month="2026-11")
    book = openpyxl.load_workbook(io.BytesIO(r.content))
    rows = _table(book["案件清单"], header_row=1)
    assert [r["申请人"] for r in rows] == [i["applicant_name"] for i in received["items"]]
    assert isinstance(rows[0]["申请时间"], datetime)
    assert book["案件清单"]["G2"].number_format == "yyyy-mm-dd hh:mm"

    # Who may not: another county, a township about its neighbour, a portal key, a stranger.
    for who, place in (("other_county", "340621"), ("town_b", "340621100"), ("portal", "340621")):
        for path in ("cases", "cases.xlsx", "steps", "steps.xlsx", "summary.xlsx", "by-place.xlsx"):
            r = await api.get(who, f"/reports/{path}", place=place, figure="received", month="2026-11")
            assert r.status_code == 403 and r.json()["code"] == "report_not_allowed", (who, path, r.text)
    for path in ("cases", "steps", "monthly/dibao", "summary.xlsx", "monthly/dibao.xlsx"):
        r = await api.client.get(f"/api/v1/reports/{path}", params={"place": "34", "figure": "received"})
        assert r.status_code == 401, path
    for params, code in (
        ({"figure": "received"}, "month_required"),
        ({"figure": "everything", "month": "2026-11"}, "invalid_figure"),
        ({"figure": "received", "month": "0000-01"}, "invalid_month"),
    ):
        r = await api.get("county", "/reports/cases", place="340621", **params)
        assert r.status_code == 422 and r.json()["code"] == code, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
    # The year 0 passes the pattern but is no date (it was a 500).
    r = await api.get("admin", "/reports/summary", place="34", **{"from": "0000-01"})
    assert r.status_code == 422 and r.json()["code"] == "invalid_month", r.text


async def test_the_programs_monthly_report_with_its_deadlines(api: Api):
    await _story(api)
    report = await _report(api, "county", "monthly/dibao", place="340621", month="2026-11")
    by_place = await _report(api, "county", "by-place", place="340621", program="dibao",
                             **{"from": "2026-11"}, to="2026-11")  # fmt: skip
    assert report["kind"] == "social_assistance" and report["program_name"] == "最低生活保障"
    assert report["title"] == "濉溪县最低生活保障2026年11月社会救助月度统计表"
    assert (report["data_due"], report["report_due"], report["stage"]) == (
        "2026-11-20",
        "2026-11-30",  # 28 November 2026 is a Saturday
        "closed",
    )
    assert [(r["code"], r["total"]) for r in report["rows"]] == [
        ("340621", True),
        ("340621100", False),
        ("340621101", False),
    ]
    total = report["rows"][0]
    assert (total["received"], total["accepted"], total["approved"], total["enrolments_active"]) == (
        4,
        3,
        1,
        1,
    )
    for row, place in zip(report["rows"][1:], by_place["places"], strict=True):
        assert {c: row[c] for c in report["columns"]} == {c: place[c] for c in report["columns"]}
    december = await _report(api, "county", "monthly/dibao", place="340621")  # this month (9 December)
    assert december["month"] == "2026-12" and december["stage"] == "collecting"

    book = await _book(api, "county", "monthly/dibao.xlsx", place="340621", month="2026-11")
    sheet = book["社会救助月度统计表"]
    assert sheet["A1"].value == report["title"]
    # 28 November 2026 is a Saturday: the report is due the Monday after.
    assert sheet["A2"].value == "数据截止：2026-11-20  报送截止：2026-11-30"
    rows = _table(sheet, header_row=3)
    assert rows[0]["地区"] == "濉溪县（合计）" and rows[0]["收到申请"] == 4 and rows[0]["期末在册"] == 1
    assert [r["地区代码"] for r in rows] == [r["code"] for r in report["rows"]]

    r = await api.get("admin", "/reports/monthly/nosuch", place="340621", month="2026-11")
    assert r.status_code == 422 and r.json()["code"] == "unknown_program", r.text
    # Not a program of the county's department (nor a program at all): not the county's to read.
    r = await api.get("county", "/reports/monthly/nosuch", place="340621", month="2026-11")
    assert r.status_code == 403 and r.json()["code"] == "report_not_allowed", r.text
    r = await api.get("other_county", "/reports/monthly/dibao", place="340621", month="2026-11")
    assert r.status_code == 403 and r.json()["code"] == "report_not_allowed"
