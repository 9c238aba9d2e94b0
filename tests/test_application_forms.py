"""Every program checks its application data, and a public notice shows only typed, declared
values: what does not fit its type is withheld and never breaks a page (issue 15, finding 10)."""

import json
import re

import pytest
import sqlalchemy as sa

from app.config import PROJECT_ROOT
from app.db.engine import create_engine
from tests.helpers import Api, id_number
from tests.test_notices import _case_on_notice, _public

PROCESSES = sorted((PROJECT_ROOT / "processes").glob("*.bpmn"))


@pytest.mark.parametrize("path", PROCESSES, ids=[p.stem for p in PROCESSES])
def test_every_shipped_program_declares_a_closed_application_form(path):
    match = re.search(r'name="application_form" value="([^"]+)"', path.read_text(encoding="utf-8"))
    assert match, f"{path.name} declares no application_form"
    form = json.loads((PROJECT_ROOT / "processes" / "forms" / match[1]).read_text(encoding="utf-8"))
    assert form["type"] == "object" and form["additionalProperties"] is False


@pytest.mark.parametrize(
    ("applicant", "data", "where"),
    [
        ({}, {"household_size": "三"}, "household_size"),
        ({}, {"household_size": 3, "monthly_income_per_person": -5}, "monthly_income_per_person"),
        ({}, {"household_size": 3, "proposed_amount": "abc"}, "proposed_amount"),
        ({}, {"household_size": 3, "phone_of_neighbour": "13900000000"}, "phone_of_neighbour"),
        ({"name": "   "}, {"household_size": 3}, "name"),
    ],
)
async def test_dibao_refuses_untyped_data_and_blank_names(api: Api, applicant: dict, data: dict, where: str):
    person = {"name": "张三", "id_number": id_number(), "phone": "13900000000", **applicant}
    r = await api.post(
        "portal",
        "/applications",
        {"program": "dibao", "division_code": "340621100201", "applicant": person, "data": data},
    )
    assert r.status_code == 422, r.text
    assert r.json()["code"] in ("data_invalid", "validation_error") and where in r.text, r.text
    assert await api.count("applications") == 0


async def test_a_stored_value_of_the_wrong_kind_is_withheld_and_no_page_breaks(api: Api):
    """An entry stored before values were typed: an ID number as household size, "abc" as amount."""
    case, _ = await _case_on_notice(api, "李四")
    db = create_engine(api.database_url)
    try:
        async with db.begin() as conn:
            await conn.execute(
                sa.text("UPDATE notice_entries SET public = :public WHERE application_id = :id"),
                {
                    "id": case["id"],
                    "public": json.dumps(
                        {
                            "entry_number": 1,
                            "name": "李*",
                            "household_size": "340621198001011234",
                            "amount": "abc",
                            "proposed_decision": "approve",
                        }
                    ),
                },
            )
    finally:
        await db.dispose()
    notice = (await _public(api, "/notices")).json()[0]
    r = await _public(api, f"/notices/{notice['id']}")
    assert r.status_code == 200, r.text
    [entry] = r.json()["entries"]
    assert entry["data_withheld"] == ["amount", "household_size"]
    assert "household_size" not in entry and "amount" not in entry and entry["name"] == "李*"
    for path in (f"/ui/public/notices/{notice['id']}", f"/ui/public/notices/{notice['id']}/sheet"):
        page = await api.client.get(path)
        assert (
            page.status_code == 200 and "340621198001011234" not in page.text and "不予公示" in page.text
        ), path
    sheet = await api.client.get(f"/api/v1/public/notices/{notice['id']}", headers={"Accept": "text/html"})
    assert sheet.status_code == 200 and "340621198001011234" not in sheet.text


async def test_a_program_without_a_form_takes_flat_values_and_publishes_only_typed_ones(api: Api):
    """An uploaded program may declare no form: its data is flat scalars only, and a phone number
    typed into household_size is withheld from the notice, not published."""
    dibao = (PROJECT_ROOT / "processes" / "dibao.bpmn").read_text(encoding="utf-8")
    bare = dibao.replace(
        '<spiffworkflow:property name="application_form" value="dibao_application.json" />', ""
    )
    assert bare != dibao
    await api.upload(bare.encode(), "dibao.bpmn")
    nested = await api.apply(expect=422, data={"household_size": {"a": [1, 2, 3]}})
    assert nested["code"] == "data_invalid"
    case = await api.apply(data={"household_size": "13900000000", "proposed_amount": 560})
    await api.to_notice(case["id"])
    notice = (await _public(api, "/notices")).json()[0]
    [entry] = (await _public(api, f"/notices/{notice['id']}")).json()["entries"]
    assert entry.get("data_withheld") == ["household_size"] and entry["amount"] == 560
    assert "13900000000" not in json.dumps(entry)
