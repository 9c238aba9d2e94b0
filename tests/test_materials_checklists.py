"""Every program's checklist, as its BPMN declares it: the materials each of the nine programs asks
for (required, when required, accepted types, how many), what each step adds, and the signatures
steps require; malformed lists are refused at deploy; the acceptance step's 一次性告知 list is what
the checklist finds missing, by the case's own data."""

import pytest

from app import engine
from app.config import PROJECT_ROOT
from app.domain.materials import checklists
from app.domain.programs import config, definitions
from tests.helpers import Api, id_number
from tests.materials_samples import pdf, png

PROCESSES = PROJECT_ROOT / "processes"
PROGRAMS = ("dibao", "tekun", "linshi", "yiliao", "xueqian", "zhuxuejin", "minban", "zhigong", "zizhu_report")


def parsed(program: str, replace: tuple[str, str] | None = None) -> config.DefinitionConfig:
    xml = (PROCESSES / f"{program}.bpmn").read_bytes()
    if replace:
        xml = xml.replace(replace[0].encode(), replace[1].encode())
    model = engine.parse_bpmn(xml, definitions.load_decisions(xml, PROCESSES / "decisions"))
    return config.parse(model)


def missing(program: str, data: dict, reached: tuple[str, ...] = (), present: tuple[str, ...] = ()) -> list:
    items = checklists.status(parsed(program), present, reached, data)
    return [i["key"] for i in items if i["missing"]]


@pytest.mark.parametrize("program", PROGRAMS)
def test_every_program_declares_its_checklist(program):
    cfg = parsed(program)
    items = checklists.declared(cfg)
    assert items, f"{program} declares no materials"
    required = [item for item, _ in items.values() if item.required]
    assert required, f"{program} requires nothing"
    for item, _ in items.values():
        assert item.label and 1 <= item.min_count <= (item.max_count or 100)
        assert set(item.content_types()) <= {"application/pdf", "image/jpeg", "image/png", "image/webp"}
    # An upload names one of them (or other); the choices list offers exactly those.
    assert [c["key"] for c in checklists.choices(cfg)] == [*items, "other"]


def test_what_the_programs_ask_for_by_the_domain():
    for program in ("dibao", "tekun", "linshi", "yiliao", "minban", "zhigong"):
        assert {"application_form", "id_card"} <= set(checklists.declared(parsed(program))), program
    assert {"hukou", "income_certificate", "economic_check_authorisation"} <= set(
        checklists.declared(parsed("dibao"))
    )
    yiliao = checklists.declared(parsed("yiliao"))
    assert yiliao["medical_invoice"][0].max_count == 50 and yiliao["diagnosis_certificate"][0].required
    assert {"enrolment_proof", "guardian_id_card"} <= set(checklists.declared(parsed("xueqian")))
    assert "enrolment_proof" in checklists.declared(parsed("zhuxuejin"))
    assert "teaching_proof" in checklists.declared(parsed("minban"))
    # Steps add their own: home-visit photos at the investigation, photos only.
    for program, step in (("dibao", "initial_review"), ("tekun", "initial_review"), ("yiliao", "home_visit")):
        item, at = checklists.declared(parsed(program))["home_visit_photo"]
        assert at == step and item.types == ("image",) and item.max_count == 20
    receipt, at = checklists.declared(parsed("linshi"))["payment_receipt"]
    assert at == "emergency_payment" and receipt.types == ("pdf", "image")
    summary, at = checklists.declared(parsed("zizhu_report"))["monthly_summary_sheet"]
    assert at == "monthly_summary" and summary.content_types() == ("application/pdf",)


def test_the_signatures_steps_require():
    cash = parsed("linshi").steps["emergency_payment"].signatures
    assert [(s.key, s.label) for s in cash] == [
        ("receiver", "受领人签字"),
        ("staff_1", "经办人签字（一）"),
        ("staff_2", "经办人签字（二）"),
    ]
    assert all(checklists.required_now(s, {"method": "cash"}) for s in cash)
    assert not any(checklists.required_now(s, {"method": "bank"}) for s in cash)
    [head] = parsed("xueqian").steps["head_sign"].signatures
    assert (head.key, head.label, head.when) == ("head", "园长签字", None)
    assert set(checklists.signature_items(parsed("xueqian"))) == {"signature.head"}


def test_when_an_item_is_required_is_read_from_the_cases_data():
    assert "proxy_authorisation" in missing("dibao", {"by_proxy": True})
    assert "proxy_authorisation" not in missing("dibao", {"by_proxy": False})
    assert "proxy_authorisation" not in missing("dibao", {})  # a field the case lacks: not required
    assert "dibao_certificate" in missing("xueqian", {"category": "dibao"})
    assert "disability_certificate" in missing("xueqian", {"category": "disabled_child"})
    assert not {"dibao_certificate", "disability_certificate", "orphan_proof"} & set(
        missing("xueqian", {"category": "low_income"})
    )
    assert "economic_check_authorisation" in missing("linshi", {"relief_type": "expenditure"})
    assert "economic_check_authorisation" not in missing("linshi", {"relief_type": "emergency"})
    assert "department_recommendation" in missing("zhigong", {"applied_by": "department_union"})
    # A step's items count once the case has reached the step.
    assert "home_visit_photo" not in missing("yiliao", {})
    assert "home_visit_photo" in missing("yiliao", {}, reached=("home_visit",))
    assert "home_visit_photo" not in missing("yiliao", {}, ("home_visit",), ("home_visit_photo",))


@pytest.mark.parametrize(
    "value,reason",
    [
        ("hukou:户口簿; count=3..1", "below the least"),
        ("hukou:户口簿; count=many", "count must be"),
        ("hukou:户口簿; types=exe", "types"),
        ("hukou:户口簿; colour=red", "unknown modifier"),
        ("hukou:户口簿; when=__import__('os')", "does not compile"),
        ("hukou:户口簿; when=a; when=b", "each once"),
        ("hukou:户口簿, hukou:户口簿复印件", "twice"),
    ],
)
def test_a_malformed_checklist_is_refused_at_deploy(value, reason):
    xml = (PROCESSES / "dibao.bpmn").read_bytes()
    start = xml.index(b'<spiffworkflow:property name="materials" value="application_form')
    end = xml.index(b"/>", start) + 2
    xml = xml[:start] + f'<spiffworkflow:property name="materials" value="{value}" />'.encode() + xml[end:]
    model = engine.parse_bpmn(xml, definitions.load_decisions(xml, PROCESSES / "decisions"))
    [problem] = config.read(model)[1]
    assert problem["code"] == "invalid_materials" and problem["property"] == "materials"
    assert reason in problem["message"], problem["message"]


def test_a_commas_inside_an_expression_stay_in_it():
    cfg = parsed(
        "dibao",
        ("disability_certificate:残疾证?", "disability_certificate:残疾证; when=household_size in (1, 2)"),
    )
    item = checklists.declared(cfg)["disability_certificate"][0]
    assert item.when == "household_size in (1, 2)"
    assert checklists.required_now(item, {"household_size": 2})
    assert not checklists.required_now(item, {"household_size": 3})


async def add(api: Api, case: str, content: bytes, name: str, key: str, who: str = "portal"):
    return await api.client.post(
        f"/api/v1/applications/{case}/attachments",
        files={"file": (name, content, "application/octet-stream")},
        data={"key": key},
        headers=api.headers[who],
    )


async def test_uploads_respect_an_items_types_and_count(api: Api):
    case = await api.apply(data={"household_size": 3, "by_proxy": True, "proxy": "村委会"})
    # id_card takes 1..10; a PDF is fine for it, as is a scan.
    for n in range(10):
        assert (await add(api, case["id"], png((8 + n, 8)), f"身份证{n}.png", "id_card")).status_code == 201
    r = await add(api, case["id"], pdf(), "身份证11.pdf", "id_card")
    assert (r.status_code, r.json()["code"], r.json()["max_count"]) == (409, "checklist_item_full", 10)
    await api.step("town_a", case["id"], "accept_application", {"decision": "accept"})
    # Home-visit photos are photos: a PDF under that item is refused, before the store sees it.
    task = await api.open_task(case["id"], "initial_review")
    r = await api.client.post(
        f"/api/v1/applications/{case['id']}/attachments",
        files={"file": ("记录.pdf", pdf(), "application/pdf")},
        data={"key": "home_visit_photo", "task_id": task["id"]},
        headers=api.headers["town_a"],
    )
    assert (r.status_code, r.json()["code"]) == (422, "type_not_accepted_for_item")
    assert r.json()["accepted"] == ["image/jpeg", "image/png", "image/webp"]
    assert await api.count("attachments") == 10
    checklist = (await api.get("town_a", f"/applications/{case['id']}/checklist")).json()
    items = {i["key"]: i for i in checklist["items"]}
    assert items["id_card"] == {
        "key": "id_card",
        "label": "身份证",
        "required": True,
        "count": 10,
        "min_count": 1,
        "max_count": 10,
        "types": [],
        "missing": False,
    }
    assert items["proxy_authorisation"]["required"] and items["proxy_authorisation"]["missing"]
    assert items["home_visit_photo"]["types"] == ["image"] and items["home_visit_photo"]["missing"]


@pytest.mark.parametrize(
    "program,data,expected",
    [
        (
            "tekun",
            {"household_size": 1},
            [
                "申请书（签字）",
                "身份证",
                "户口簿",
                "收入状况说明",
                "财产状况申报",
                "家庭经济状况核对授权书（签字）",
            ],
        ),
        (
            "linshi",
            {"relief_type": "expenditure", "hardship": "家庭成员突发重病，医疗支出较大"},
            [
                "临时救助申请书（签字）",
                "身份证",
                "困难情况证明（事故、火灾、疾病等）",
                "家庭经济状况核对授权书（签字）",
            ],
        ),
    ],
)
async def test_acceptance_proposes_what_the_checklist_misses(api: Api, program, data, expected):
    """The acceptance step of 特困 and 临时救助 (低保's is in test_web_materials): what is missing,
    by the case's data, is the 一次性告知 list; a document handed in leaves it."""
    extra = {"family_id": "340621100201-户-0007"} if program == "linshi" else {}
    case = await api.apply(
        program=program, data=data, applicant={"name": "李四", "id_number": id_number()}, **extra
    )
    assert (await api.open_task(case["id"]))["name"] == "accept_application"
    checklist = (await api.get("town_a", f"/applications/{case['id']}/checklist")).json()
    assert checklist["missing"] == expected
    assert (await add(api, case["id"], pdf(), "申请书.pdf", "application_form")).status_code == 201
    checklist = (await api.get("town_a", f"/applications/{case['id']}/checklist")).json()
    assert checklist["missing"] == expected[1:]
    await api.step(
        "town_a",
        case["id"],
        "accept_application",
        {"decision": "incomplete", "missing_materials": checklist["missing"]},
    )
    assert (await api.application(case["id"]))["open_tasks"] == []
