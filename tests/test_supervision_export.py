"""The overdue list as XLSX (GET /api/v1/supervision/overdue.xlsx): opened with openpyxl, it says what
GET /supervision/overdue says; who may not have it."""

from datetime import datetime
from io import BytesIO

from openpyxl import load_workbook

from app.api import workbooks
from app.domain.timekeeping import calendar
from tests.helpers import VILLAGE_B, Api
from tests.test_working_days import SH, YEAR_2030


async def _overdue_work(api: Api) -> None:
    await api.load_year(2030, **YEAR_2030)
    await api.set_clock("2030-03-04T09:00:00" + SH)
    for division in ("340621100201", "340621100201", VILLAGE_B):
        case = await api.apply(division_code=division)
        who = "town_a" if division != VILLAGE_B else "town_b"
        await api.step(who, case["id"], "accept_application", {"decision": "accept"})
    claimed = (await api.get("town_a", "/tasks", scope="candidate")).json()["items"][0]
    assert (await api.post("town_a", f"/tasks/{claimed['id']}/claim")).status_code == 200
    await api.set_clock("2030-04-01T09:00:00" + SH)


def _local(iso: str) -> datetime:
    return datetime.fromisoformat(iso).astimezone(calendar.SHANGHAI).replace(tzinfo=None, microsecond=0)


async def test_the_workbook_says_what_the_json_says(api: Api):
    await _overdue_work(api)
    for division_code in (None, "340621100"):
        params = {"division_code": division_code} if division_code else {}
        view = (await api.get("county", "/supervision/overdue", **params)).json()
        r = await api.get("county", "/supervision/overdue.xlsx", **params)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == workbooks.MEDIA_TYPE
        assert 'filename="overdue.xlsx"' in r.headers["content-disposition"]
        book = load_workbook(BytesIO(r.content))
        assert book.sheetnames == ["超期任务", "按地区汇总"]
        sheet = book["超期任务"]
        rows = list(sheet.iter_rows(values_only=True))
        assert rows[0] == (
            "案件编号",
            "业务",
            "环节",
            "所在地",
            "行政区划代码",
            "办理人",
            "到达时间",
            "办理期限",
            "超期工作日",
        )
        names = {"340621100": "濉溪镇", "340621101": "临涣镇"}
        expected = [
            (
                t["case_number"],
                "最低生活保障",
                t["title"],
                names[t["division_code"]],
                t["division_code"],
                t["assignee"] or "待认领",
                _local(t["created_at"]),
                _local(t["due_at"]),
                -t["working_days_left"],
            )
            for t in view["items"]
        ]
        assert rows[1:] == expected and len(expected) == view["total"] > 0
        assert {row[5] for row in rows[1:]} >= {"town_a", "待认领"} if not division_code else True
        assert all(row[8] > 0 for row in rows[1:])  # every one of them is late
        assert sheet["G2"].number_format == sheet["H2"].number_format == workbooks.DATETIME_FORMAT
        counts = list(book["按地区汇总"].iter_rows(values_only=True))
        assert counts[0] == ("所在地", "行政区划代码", "超期任务数")
        assert counts[1:] == [(d["name"], d["division_code"], d["overdue"]) for d in view["by_division"]]


async def test_who_may_not_export_the_overdue_list(api: Api):
    await _overdue_work(api)
    anonymous = await api.client.get("/api/v1/supervision/overdue.xlsx")
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "not_authenticated"
    portal = await api.get("portal", "/supervision/overdue.xlsx")  # a portal supervises nothing
    assert portal.status_code == 403 and portal.json()["code"] == "not_a_supervisor"
    # Another county's office and a township office (peers do not supervise peers) get no rows of ours.
    for who in ("other_county", "town_a"):
        r = await api.get(who, "/supervision/overdue.xlsx")
        assert r.status_code == 200, r.text
        rows = list(load_workbook(BytesIO(r.content))["超期任务"].iter_rows(values_only=True))
        assert len(rows) == 1, (who, rows)  # the header alone
    # Naming a place of another county shows nothing of it either.
    r = await api.get("other_county", "/supervision/overdue.xlsx", division_code="340621100")
    assert r.status_code == 200 and len(list(load_workbook(BytesIO(r.content))["超期任务"].iter_rows())) == 1
