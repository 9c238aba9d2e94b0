"""The checklists of the cases that follow an enrolment: the 低保 re-check (低保动态复核) and the
terminations of 低保 and 特困 (终止). Their items sit on the steps a township officer performs, never
on the start: a re-check the service starts when it falls due, or a termination the worker starts
after a re-check, has no paper at its start (docs/materials.md)."""

import pytest

from app.domain.materials import checklists
from tests.helpers import Api
from tests.materials_samples import pdf, png
from tests.test_dynamic_management import REPORT, _enrolled, _recheck_of, _work
from tests.test_materials_checklists import parsed
from tests.test_tekun import _apply as apply_tekun
from tests.test_tekun import _county as tekun_county
from tests.test_tekun import _notice_ends, _through_notice

EVIDENCE = "终止事由证明材料（死亡证明、户口迁出证明、收入或财产核对结果、本人书面申请等）"
NOTICE = "终止告知书（本人签收或送达凭证）"


@pytest.mark.parametrize(
    "program,required",
    [
        (
            "dibao_recheck",
            {
                "income_statement": ("家庭收入申报", "recheck_investigation"),
                "property_statement": ("家庭财产申报", "recheck_investigation"),
                "home_visit_record": ("入户核查记录", "recheck_investigation"),
            },
        ),
        (
            "dibao_termination",
            {
                "cause_evidence": (EVIDENCE, "termination_report"),
                "termination_notice": (NOTICE, "deliver_termination_notice"),
            },
        ),
        (
            "tekun_termination",
            {
                "cause_evidence": (EVIDENCE, "termination_report"),
                "termination_notice": (NOTICE, "deliver_termination_notice"),
            },
        ),
    ],
)
def test_what_a_recheck_and_a_termination_ask_for(program, required):
    cfg = parsed(program)
    items = checklists.declared(cfg)
    assert cfg.process.materials == ()  # nothing before a person's step: an automatic start needs no paper
    assert {k: (i.label, step) for k, (i, step) in items.items() if i.required} == required
    assert [c["key"] for c in checklists.choices(cfg)] == [*items, "other"]
    if program == "dibao_recheck":
        photos = items["home_visit_photo"][0]
        assert (photos.required, photos.types, photos.max_count) == (False, ("image",), 20)
    else:
        assert items["cause_evidence"][0].max_count == 20


async def add(
    api: Api, case_id: str, key: str, task_id: str | None = None, who: str = "town_a", *, file=None
):
    name, content = file or ("材料.pdf", pdf())
    return await api.client.post(
        f"/api/v1/applications/{case_id}/attachments",
        files={"file": (name, content, "application/octet-stream")},
        data={"key": key, **({"task_id": task_id} if task_id else {})},
        headers=api.headers[who],
    )


async def checklist(api: Api, case_id: str) -> dict:
    r = await api.get("town_a", f"/applications/{case_id}/checklist")
    assert r.status_code == 200, r.text
    return r.json()


async def test_a_recheck_the_service_starts_lists_what_its_investigation_gathers(api: Api):
    case = await _enrolled(api, "C")
    await api.set_clock("2027-05-30T09:00:00+08:00")
    assert (await _work(api))["rechecks_started"] == 1  # started by the service, with no paper
    recheck = await _recheck_of(api, case["id"])
    task = await api.open_task(recheck["id"], "recheck_investigation")
    found = await checklist(api, recheck["id"])
    assert found["missing"] == ["家庭收入申报", "家庭财产申报", "入户核查记录"]
    assert {c["key"] for c in found["choices"]} == {
        "income_statement",
        "property_statement",
        "home_visit_record",
        "home_visit_photo",
        "economic_check_report",
        "other",
    }
    # A key the re-check does not declare is refused, naming what it takes; nothing is stored.
    r = await add(api, recheck["id"], "hukou", task["id"])
    assert (r.status_code, r.json()["code"]) == (422, "unknown_checklist_key"), r.text
    assert "income_statement" in r.json()["accepted"] and "hukou" not in r.json()["accepted"]
    # The photos are photos.
    r = await add(api, recheck["id"], "home_visit_photo", task["id"])
    assert (r.status_code, r.json()["code"]) == (422, "type_not_accepted_for_item")
    # Another township sees no such case to add to.
    assert (await add(api, recheck["id"], "income_statement", who="town_b")).status_code == 404
    assert await api.count("attachments") == 0

    for key in ("income_statement", "property_statement"):
        assert (await add(api, recheck["id"], key, task["id"])).status_code == 201
    assert (await checklist(api, recheck["id"]))["missing"] == ["入户核查记录"]
    r = await add(api, recheck["id"], "home_visit_photo", task["id"], file=("入户.png", png((12, 12))))
    assert r.status_code == 201, r.text
    assert (await add(api, recheck["id"], "home_visit_record", task["id"])).status_code == 201
    found = await checklist(api, recheck["id"])
    assert found["missing"] == []
    assert {i["key"]: i["count"] for i in found["items"]}["home_visit_photo"] == 1
    done = await api.complete("town_a", task["id"], {"outcome": "continue", "findings": "家庭情况无变化"})
    assert done["application"]["status"] == "approved"


async def test_a_termination_the_worker_starts_asks_for_its_papers_at_the_townships_steps(api: Api):
    case = await _enrolled(api, "C")
    await api.set_clock("2027-05-30T09:00:00+08:00")
    await _work(api)
    recheck = await _recheck_of(api, case["id"])
    await api.step(
        "town_a",
        recheck["id"],
        "recheck_investigation",
        {"outcome": "terminate", "findings": "家庭购置商品房两套"},
    )
    assert (await _work(api))["followups_started"] == 1  # the worker's start needs no paper
    [termination] = (await api.get("county", "/applications", program="dibao_termination")).json()["items"]
    report = await api.open_task(termination["id"], "termination_report")
    found = await checklist(api, termination["id"])
    assert found["missing"] == [EVIDENCE]
    assert [i["key"] for i in found["items"]] == ["cause_evidence", "home_visit_record"]  # not yet the notice
    r = await add(api, termination["id"], "income_statement", report["id"])
    assert (r.status_code, r.json()["code"]) == (422, "unknown_checklist_key")
    # The evidence here is what the re-check found: the township files a copy with its report.
    assert (await add(api, termination["id"], "cause_evidence", report["id"])).status_code == 201
    assert (await checklist(api, termination["id"]))["missing"] == []
    await api.complete("town_a", report["id"], REPORT)
    await api.advance(days=7, seconds=600)
    assert await api.run_timers() == 1
    await api.step(
        "county", termination["id"], "county_decide", {"decision": "terminate", "reason": "家庭财产超过规定"}
    )
    deliver = await api.open_task(termination["id"], "deliver_termination_notice")
    assert (await checklist(api, termination["id"]))["missing"] == [NOTICE]
    r = await add(
        api, termination["id"], "termination_notice", deliver["id"], file=("回执.png", png((10, 10)))
    )
    assert r.status_code == 201, r.text
    assert (await checklist(api, termination["id"]))["missing"] == []
    await api.complete("town_a", deliver["id"], {"delivered_on": await api.today(), "method": "in_person"})
    assert (await api.application(case["id"]))["status"] == "terminated"


async def test_a_tekun_termination_by_the_township(api: Api):
    await api.set_clock("2026-11-23T09:00:00+08:00")
    case = await apply_tekun(api)
    await _through_notice(api, case["id"])
    await _notice_ends(api)
    await tekun_county(api, case["id"])
    r = await api.post("town_a", "/applications", {"program": "tekun_termination", "subject_id": case["id"]})
    assert r.status_code == 201, r.text
    termination = r.json()
    report = await api.open_task(termination["id"], "termination_report")
    assert (await checklist(api, termination["id"]))["missing"] == [EVIDENCE]
    r = await add(api, termination["id"], "death_certificate", report["id"])
    assert (r.status_code, r.json()["code"]) == (422, "unknown_checklist_key")
    assert (
        await add(api, termination["id"], "cause_evidence", report["id"], who="town_b")
    ).status_code == 404
    assert await api.count("attachments", f"application_id = '{termination['id']}'") == 0
    assert (await add(api, termination["id"], "cause_evidence", report["id"])).status_code == 201
    await api.complete(
        "town_a", report["id"], {"grounds": ["deceased"], "findings": "本人于2026年12月1日死亡"}
    )
    await api.advance(days=7, seconds=600)
    await api.run_timers()
    await api.step(
        "county", termination["id"], "county_decide", {"decision": "terminate", "reason": "本人死亡"}
    )
    deliver = await api.open_task(termination["id"], "deliver_termination_notice")
    assert (await checklist(api, termination["id"]))["missing"] == [NOTICE]
    assert (await add(api, termination["id"], "termination_notice", deliver["id"])).status_code == 201
    assert (await checklist(api, termination["id"]))["missing"] == []
    await api.complete("town_a", deliver["id"], {"delivered_on": await api.today(), "method": "post"})
    assert (await api.application(case["id"]))["status"] == "terminated"
