"""Public notices (公示) and objections (异议): masking, batching, objecting, answering, the board sheet."""

from datetime import datetime
from html.parser import HTMLParser

import pytest

from app.config import PROJECT_ROOT
from app.domain.notices.publication import mask_name
from tests.helpers import VILLAGE_B, Api, id_number

# Run a second time with the real date shifted years ahead (scripts/test.sh).
pytestmark = pytest.mark.dates

DIBAO = (PROJECT_ROOT / "processes" / "dibao.bpmn").read_bytes()
DIBAO_BEFORE_OBJECTION_WINDOW = (
    PROJECT_ROOT / "tests" / "fixtures" / "dibao_before_objection_window.bpmn"
).read_bytes()
APPROVE = {"decision": "approve", "opinion": "属实"}


@pytest.mark.parametrize(
    "name, masked",
    [
        ("张三", "张*"),
        ("张三丰", "张**"),
        ("欧阳修", "欧阳*"),
        ("欧阳娜娜", "欧阳**"),
        ("司马相如", "司马**"),
        ("王", "王"),
        ("欧阳", "欧*"),
    ],
)
def test_names_are_masked_to_the_surname(name, masked):
    assert mask_name(name) == masked


async def _case_on_notice(api: Api, name: str, division: str = "340621100201", **data) -> tuple[dict, dict]:
    person = {"name": name, "id_number": id_number(), "phone": "13912345678"}
    case = await api.apply(
        division_code=division,
        applicant=person,
        data={
            "household_size": 3,
            "proposed_amount": 560,
            "monthly_income_per_person": 987.65,
            "illness": "尿毒症",
            "address": "东关村3组18号",
            **data,
        },
    )
    who = "town_a" if division != VILLAGE_B else "town_b"
    await api.step(who, case["id"], "accept_application", {"decision": "accept"})
    await api.step(who, case["id"], "initial_review", APPROVE)
    return case, person


async def _public(api: Api, path: str, **kw):
    r = await api.client.get("/api/v1/public" + path, **kw)
    return r


class _Sheet(HTMLParser):
    def __init__(self):
        super().__init__()
        self.text, self.rows, self._in_h1, self.title = [], 0, False, ""

    def handle_starttag(self, tag, attrs):
        self.rows += tag == "tr"
        self._in_h1 = tag == "h1"

    def handle_endtag(self, tag):
        self._in_h1 = False if tag == "h1" else self._in_h1

    def handle_data(self, data):
        self.text.append(data)
        if self._in_h1:
            self.title += data


async def test_cases_on_notice_are_batched_masked_and_never_leak(api: Api):
    first, p1 = await _case_on_notice(api, "欧阳娜娜")
    second, p2 = await _case_on_notice(api, "张三丰")
    _third, p3 = await _case_on_notice(api, "李四", division=VILLAGE_B)

    listed = (await _public(api, "/notices", params={"division_code": "340621100201"})).json()
    assert (
        len(listed) == 1
        and listed[0]["state"] == "open"
        and listed[0]["title"] == "最低生活保障拟批准对象公示"
    )
    assert {p["code"] for p in listed[0]["postings"]} == {"village_board", "website"}
    assert listed[0]["issuer"] == "濉溪镇人民政府"
    county = (await _public(api, "/notices", params={"division_code": "340621"})).json()
    assert len(county) == 2
    notice = (await _public(api, f"/notices/{listed[0]['id']}")).json()
    assert [(e["entry_number"], e["name"]) for e in notice["entries"]] == [(1, "欧阳**"), (2, "张**")]
    assert notice["entries"][0] == {
        "id": notice["entries"][0]["id"],
        "entry_number": 1,
        "name": "欧阳**",
        "household_size": 3,
        "proposed_decision": "approve",
        "amount": 560,
        "village": "东关村",
    }
    assert "异议" in notice["how_to_object"]

    # Every public response, in every form, is searched for private data.
    bodies = [
        r.text
        for r in [
            await _public(api, "/notices"),
            await _public(api, "/notices", params={"division_code": "34"}),
            await _public(api, f"/notices/{listed[0]['id']}"),
            await _public(api, f"/notices/{listed[0]['id']}", headers={"accept": "text/html"}),
            await _public(api, f"/notices/{county[0]['id']}"),
            await _public(api, f"/notices/{county[1]['id']}"),
        ]
    ]
    r = await api.client.post(
        f"/api/v1/public/notices/{listed[0]['id']}/objections",
        json={
            "entry_id": notice["entries"][1]["id"],
            "reason": "该户有经营性收入，家中有车",
            "name": "赵某某",
            "contact": "13800001111",
        },
    )
    bodies.append(r.text)
    bodies.append(
        (
            await _public(api, f"/objections/{r.json()['number']}", params={"code": r.json()["check_code"]})
        ).text
    )
    secrets = (
        [p["name"] for p in (p1, p2, p3)]
        + [p["id_number"] for p in (p1, p2, p3)]
        + [
            "13912345678",
            "尿毒症",
            "东关村3组18号",
            "987.65",
            "13800001111",
            "赵某某",
            first["id"],
            second["id"],
        ]
    )
    for body in bodies:
        for secret in secrets:
            assert secret not in body, (secret, body[:200])


async def test_objection_reopens_the_case_and_the_objector_follows_the_outcome(api: Api):
    case, _ = await _case_on_notice(api, "张三")
    notice = (await _public(api, "/notices", params={"division_code": "340621100"})).json()[0]
    entry = (await _public(api, f"/notices/{notice['id']}")).json()["entries"][0]
    url = f"/api/v1/public/notices/{notice['id']}/objections"

    r = await api.client.post(url, json={"entry_id": entry["id"], "reason": "短"})
    assert r.status_code == 422
    r = await api.client.post(url, json={"entry_id": "nope", "reason": "有经营收入未申报"})
    assert r.status_code == 404 and r.json()["code"] == "entry_not_found"
    r = await api.client.post(
        "/api/v1/public/notices/nope/objections", json={"entry_id": entry["id"], "reason": "有经营收入未申报"}
    )
    assert r.status_code == 404

    first = await api.client.post(
        url, json={"entry_id": entry["id"], "reason": "该户有经营性收入未申报", "contact": "13700000000"}
    )
    assert first.status_code == 202, first.text
    first = first.json()
    # The same transaction routed it: the case is in re-investigation now.
    task = await api.open_task(case["id"], "reinvestigate")
    second = await api.client.post(url, json={"entry_id": entry["id"], "reason": "该户子女有稳定工作"})
    assert second.status_code == 202
    second = second.json()
    follow = await _public(api, f"/objections/{first['number']}", params={"code": first["check_code"]})
    assert follow.json()["status"] == "received" and follow.json()["outcome"] is None
    wrong = await _public(api, f"/objections/{first['number']}", params={"code": "guess"})
    assert wrong.status_code == 404

    detail = (await api.get("town_a2", f"/tasks/{task['id']}")).json()
    assert {o["number"] for o in detail["objections"]} == {first["number"], second["number"]}
    assert detail["objections"][0]["contact"] == "13700000000"
    listed = (await api.get("county", f"/applications/{case['id']}/objections")).json()
    assert len(listed) == 2
    assert (await api.get("town_b", f"/applications/{case['id']}/objections")).status_code == 404

    outcomes = [
        {"objection_number": first["number"], "outcome": "dismissed", "reply": "经核实，该经营已于去年停业。"}
    ]
    r = await api.post(
        "town_a2", f"/tasks/{task['id']}/complete", {"data": {**APPROVE, "objection_outcomes": outcomes}}
    )
    assert r.status_code == 422 and r.json()["code"] == "objection_outcomes_missing"
    assert r.json()["missing"] == [second["number"]]
    r = await api.post(
        "town_a2",
        f"/tasks/{task['id']}/complete",
        {
            "data": {
                **APPROVE,
                "objection_outcomes": [
                    *outcomes,
                    {"objection_number": "YY0", "outcome": "dismissed", "reply": "x"},
                ],
            }
        },
    )
    assert r.status_code == 422 and r.json()["code"] == "objection_outcome_invalid"
    assert await api.count("objections", "status = 'answered'") == 0
    outcomes.append(
        {"objection_number": second["number"], "outcome": "upheld", "reply": "子女收入已计入家庭收入。"}
    )
    # "异议成立" with "异议不成立，维持拟批准" contradicts itself: refused, nothing answered.
    r = await api.post(
        "town_a2", f"/tasks/{task['id']}/complete", {"data": {**APPROVE, "objection_outcomes": outcomes}}
    )
    assert r.status_code == 422 and r.json()["code"] == "form_invalid"
    assert [(e["field"], e["rule"]) for e in r.json()["errors"]] == [("decision", "x-decision-by-objections")]
    assert await api.count("objections", "status = 'answered'") == 0
    await api.complete(
        "town_a2",
        task["id"],
        {
            "decision": "refuse",
            "reason": "子女收入已计入家庭收入，超过标准。",
            "objection_outcomes": outcomes,
        },
    )

    seen = (
        await _public(api, f"/objections/{second['number']}", params={"code": second["check_code"]})
    ).json()
    assert (
        seen["status"] == "answered"
        and seen["outcome"] == "upheld"
        and seen["reply"] == "子女收入已计入家庭收入。"
    )
    kinds = [e["type"] for e in await api.events(case["id"])]
    assert kinds.count("objection.answered") == 2 and "notice.objected" in kinds
    # The entry is resolved: no further objections reach a case that has moved on.
    r = await api.client.post(url, json={"entry_id": entry["id"], "reason": "还有别的问题需要说明"})
    assert r.status_code == 409 and r.json()["code"] == "notice_closed"


async def test_objections_after_the_period_are_refused(api: Api):
    case, _ = await _case_on_notice(api, "王五")
    notice = (await _public(api, "/notices", params={"division_code": "340621100201"})).json()[0]
    entry = (await _public(api, f"/notices/{notice['id']}")).json()["entries"][0]
    await api.advance(days=8)
    assert await api.run_timers() == 1
    r = await api.client.post(
        f"/api/v1/public/notices/{notice['id']}/objections",
        json={"entry_id": entry["id"], "reason": "公示期满后才看到公示"},
    )
    assert r.status_code == 409 and r.json()["code"] == "notice_closed"
    assert await api.count("objections") == 0
    assert (await _public(api, "/notices", params={"division_code": "340621100201"})).json() == []
    closed = (await _public(api, f"/notices/{notice['id']}")).json()
    assert closed["state"] == "closed" and closed["entries"][0]["name"] == "王*"
    await api.open_task(case["id"], "county_confirm")


async def test_objections_are_rate_limited_per_address(api: Api):
    await _case_on_notice(api, "刘六")
    notice = (await _public(api, "/notices")).json()[0]
    entry = (await _public(api, f"/notices/{notice['id']}")).json()["entries"][0]
    url = f"/api/v1/public/notices/{notice['id']}/objections"
    results = [
        await api.client.post(url, json={"entry_id": entry["id"], "reason": f"第{i}条异议：有收入"})
        for i in range(11)
    ]
    assert [r.status_code for r in results[:10]] == [202] * 10
    assert results[10].status_code == 429 and results[10].json()["code"] == "rate_limited"
    assert 0 < int(results[10].headers["retry-after"]) <= 600
    assert await api.count("objections") == 10


async def test_re_notice_after_objection_makes_a_new_entry_in_a_new_notice(api: Api):
    # Made from 低保 as it was before the objection window (the re-investigation went straight on),
    # turned into a program that posts a new notice after an objection, as 特困 does.
    renotice = DIBAO_BEFORE_OBJECTION_WINDOW.replace(
        b'sourceRef="reinvestigation_decision" targetRef="staff_relative_check"',
        b'sourceRef="reinvestigation_decision" targetRef="public_notice"',
    )
    assert renotice != DIBAO_BEFORE_OBJECTION_WINDOW
    renotice = renotice.replace(
        b"<bpmn:incoming>flow_review_approve</bpmn:incoming>\n      <bpmn:outgoing>flow_notice_timer",
        b"<bpmn:incoming>flow_review_approve</bpmn:incoming>\n      <bpmn:incoming>flow_reinvestigation_approve</bpmn:incoming>\n      <bpmn:outgoing>flow_notice_timer",
    )
    renotice = renotice.replace(
        b"<bpmn:incoming>flow_to_county</bpmn:incoming>\n      <bpmn:incoming>flow_reinvestigation_approve</bpmn:incoming>",
        b"<bpmn:incoming>flow_to_county</bpmn:incoming>",
    )
    await api.upload(renotice, "dibao.bpmn")
    case, _ = await _case_on_notice(api, "孙七")
    notice = (await _public(api, "/notices")).json()[0]
    entry = (await _public(api, f"/notices/{notice['id']}")).json()["entries"][0]
    objection = (
        await api.client.post(
            f"/api/v1/public/notices/{notice['id']}/objections",
            json={"entry_id": entry["id"], "reason": "有异议需要核实"},
        )
    ).json()
    await api.step(
        "town_a2",
        case["id"],
        "reinvestigate",
        {
            **APPROVE,
            "objection_outcomes": [
                {"objection_number": objection["number"], "outcome": "dismissed", "reply": "经核实不属实"}
            ],
        },
    )
    notices_now = (await _public(api, "/notices")).json()
    assert len(notices_now) == 2
    again = next(n for n in notices_now if n["id"] != notice["id"])
    assert again["round"] == 2 and again["title"].endswith("公示")
    entries = (await _public(api, f"/notices/{again['id']}")).json()["entries"]
    assert len(entries) == 1 and entries[0]["id"] != entry["id"] and entries[0]["name"] == "孙*"
    # The new notice runs its own period, then the case goes on.
    await api.advance(days=8)
    assert await api.run_timers() == 1
    await api.open_task(case["id"], "county_confirm")


async def test_children_appear_by_entry_number_only(api: Api):
    child_program = DIBAO.replace(
        b'<spiffworkflow:property name="case_time_limit" value="30 working days" />',
        b'<spiffworkflow:property name="case_time_limit" value="30 working days" />\n'
        b'        <spiffworkflow:property name="notice_subject" value="child" />',
    )
    await api.upload(child_program, "dibao.bpmn")
    await _case_on_notice(api, "周小宝")
    notice = (await _public(api, "/notices")).json()[0]
    entry = (await _public(api, f"/notices/{notice['id']}")).json()["entries"][0]
    assert "name" not in entry and entry["entry_number"] == 1
    page = (await _public(api, f"/notices/{notice['id']}", headers={"accept": "text/html"})).text
    assert "周" not in page


async def test_programs_cannot_declare_private_fields_public(api: Api):
    bad = DIBAO.replace(
        b'<spiffworkflow:property name="case_time_limit" value="30 working days" />',
        b'<spiffworkflow:property name="case_time_limit" value="30 working days" />\n'
        b'        <spiffworkflow:property name="notice_fields" value="name,id_number,phone" />',
    )
    r = await api.client.post(
        "/api/v1/process-definitions",
        files={"file": ("dibao.bpmn", bad, "application/xml")},
        headers=api.headers["admin"],
    )
    assert r.status_code == 422
    assert {e["code"] for e in r.json()["errors"]} == {"invalid_notice_fields"}


async def test_the_board_sheet_renders_for_printing(api: Api):
    await _case_on_notice(api, "郑八")
    await _case_on_notice(api, "冯九")
    notice = (await _public(api, "/notices")).json()[0]
    r = await api.get("town_a", f"/notices/{notice['id']}/sheet")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    sheet = _Sheet()
    sheet.feed(r.text)
    text = "".join(sheet.text)
    assert sheet.title == "最低生活保障拟批准对象公示"
    assert sheet.rows == 3  # header and two entries
    for words in (
        "公示期",
        "村（居）务公开栏",
        "政府网站",
        "郑*",
        "冯*",
        "拟批准",
        "异议方式",
        "濉溪镇人民政府",
        "size: A4",
    ):
        assert words in r.text, words
    assert "郑八" not in text and "冯九" not in text
    public_page = await _public(api, f"/notices/{notice['id']}", headers={"accept": "text/html"})
    assert public_page.text == r.text
    assert (await api.client.get(f"/api/v1/notices/{notice['id']}/sheet")).status_code == 401


async def test_moving_the_clock_back_leaves_a_notice_end_where_it_was(api: Api):
    await api.set_clock("2026-03-02T09:00:00+08:00")
    case, _ = await _case_on_notice(api, "王五")
    notice = (await _public(api, "/notices", params={"division_code": "340621100201"})).json()[0]
    await api.set_clock("2026-02-20T09:00:00+08:00")  # before the notice began
    assert await api.run_timers() == 0
    ends_at = (await _public(api, f"/notices/{notice['id']}")).json()["ends_at"]
    assert datetime.fromisoformat(ends_at) == datetime.fromisoformat(notice["ends_at"])
    await api.set_clock("2026-03-09T08:59:00+08:00")  # a minute before its seven days end
    assert await api.run_timers() == 0
    await api.set_clock("2026-03-09T09:01:00+08:00")
    assert await api.run_timers() == 1
    await api.open_task(case["id"], "county_confirm")


async def test_the_printed_notice_says_how_to_object_in_words_with_the_complaint_telephone(
    api: Api, running_app
):
    """No API paths on a village board: the deadline, the web address, the issuer and the supervising
    office's telephone (a setting per place, the nearest one at or above the notice)."""
    r = await api.put(
        "admin",
        "/admin/divisions",
        [
            {
                "code": "340621",
                "name": "濉溪县",
                "parent_code": "3406",
                "level": "county",
                "complaint_phone": "0561-6012345",
            }
        ],
    )
    assert r.status_code == 200, r.text
    bad = await api.put(
        "admin",
        "/admin/divisions",
        [
            {
                "code": "340621",
                "name": "濉溪县",
                "parent_code": "3406",
                "level": "county",
                "complaint_phone": "call <b>me</b>",
            }
        ],
    )
    assert bad.status_code == 422
    changed = (await api.get("admin", "/admin/audit", type="division.complaint_phone_changed")).json()
    assert [(c["old"], c["new"]) for c in changed] == [
        ({"complaint_phone": None}, {"complaint_phone": "0561-6012345"})
    ]
    await _case_on_notice(api, "陈十")
    notice = (await _public(api, "/notices")).json()[0]
    async with running_app(api.database_url, public_base_url="https://mz.suixi.gov.cn") as other:
        sheet = await other.get(f"/api/v1/public/notices/{notice['id']}", headers={"Accept": "text/html"})
        words = (await other.get(f"/api/v1/public/notices/{notice['id']}")).json()["how_to_object"]
    assert "/api/" not in sheet.text and "/api/" not in words
    assert f"https://mz.suixi.gov.cn/ui/public/notices/{notice['id']}" in words
    assert "监督电话：0561-6012345（濉溪县）" in words and "监督电话：0561-6012345（濉溪县）" in sheet.text
