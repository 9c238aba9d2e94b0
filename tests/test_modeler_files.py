"""Files as Camunda Modeler and Flowable write them: what validation accepts runs a case; what it
refuses comes in one reply, every problem with its element and line; odd files are a 422, never a 500."""

import re

import pytest

from app import engine
from app.config import PROJECT_ROOT
from tests.conftest import ADMIN_PASSWORD
from tests.helpers import Api

FLOWABLE = (PROJECT_ROOT / "tests" / "bpmn" / "flowable_hardship.bpmn20.xml").read_bytes()
CAMUNDA = (PROJECT_ROOT / "tests" / "bpmn" / "camunda_hardship.bpmn").read_bytes()
ACTIVITI_NS = b"http://activiti.org/bpmn"
DURATION_TIMER = b"<timeDuration>P7D</timeDuration>"


async def _upload(api: Api, content: bytes, name: str = "x.bpmn", dry_run: bool = False, who: str = "admin"):
    return await api.client.post(
        "/api/v1/process-definitions",
        params={"dry_run": str(dry_run).lower()},
        files={"file": (name, content, "application/xml")},
        headers=api.headers[who],
    )


def _line_of(xml: bytes, marker: bytes) -> int:
    return xml[: xml.index(marker)].count(b"\n") + 1


def _apply(key: str) -> dict:
    return {"program": key, "data": {"household_size": 3}}


@pytest.mark.parametrize(
    "namespace, timer, filename",
    [
        # Flowable's export: activiti namespace, an unquoted ISO duration, .bpmn20.xml
        (ACTIVITI_NS, DURATION_TIMER, "hardship.bpmn20.xml"),
        # Flowable's own namespace and a duration in weeks
        (b"http://flowable.org/bpmn", b"<timeDuration>P1W</timeDuration>", "hardship.bpmn"),
        # Camunda's namespace and an unquoted ISO date (a Monday 7 days after the case starts)
        (b"http://camunda.org/schema/1.0/bpmn", b"<timeDate>2026-11-30T09:00:00+08:00</timeDate>", "h.bpmn"),
    ],
)
async def test_modeler_idioms_deploy_and_run(api: Api, namespace: bytes, timer: bytes, filename: str):
    await api.set_clock("2026-11-23T09:00:00+08:00")  # a Monday
    content = FLOWABLE.replace(ACTIVITI_NS, namespace).replace(DURATION_TIMER, timer)
    r = await _upload(api, content, filename, who="county")
    assert r.status_code == 403, r.text  # only administrators deploy
    r = await _upload(api, content, filename, dry_run=True)
    assert r.status_code == 200 and r.json()["dry_run"] is True, r.text
    assert (await _upload(api, content, filename)).status_code == 201
    # candidateStarterGroups in the extension namespace: a county office may not start a case
    refused = await api.apply("county", expect=403, **_apply("flowable_hardship"))
    assert refused["code"] == "not_a_starter"

    case = await api.apply(**_apply("flowable_hardship"))
    township = case["open_tasks"][0]
    # the task's candidate group, not the lane drawn around it ("办事处"), names who does it
    assert (township["name"], township["role"]) == ("township_check", "township_civil_affairs")
    r = await api.post("town_b", f"/tasks/{township['id']}/complete", {"data": {"decision": "approve"}})
    assert r.status_code == 404  # another township's case
    done = await api.complete(
        "town_a", township["id"], {"decision": "approve"}
    )  # ${decision == 'approve' && …}
    assert done["next_tasks"] == []  # the case waits at the timer
    await api.advance(days=6)
    assert await api.run_timers() == 0
    await api.advance(days=1, seconds=60)
    assert await api.run_timers() == 1
    county = await api.open_task(case["id"], "county_approve")
    assert county["role"] == "county_civil_affairs" and county["due_at"] is not None  # dueDate P10D
    done = await api.complete("county", county["id"], {"decision": "approve"})
    assert done["application"]["status"] == "approved"

    other = await api.apply(**_apply("flowable_hardship"))
    done = await api.step("town_a", other["id"], "township_check", {"decision": "refuse"})
    assert done["application"]["status"] == "refused"  # ${decision != 'approve' || …}


async def test_gbk_and_gb18030_files_are_read_and_stored_as_utf8(api: Api):
    for encoding in ("GBK", "GB18030"):
        content = (
            CAMUNDA.replace(b'encoding="UTF-8"', f'encoding="{encoding}"'.encode()).decode().encode(encoding)
        )
        assert "乡镇核实".encode() not in content  # really not UTF-8
        assert (await _upload(api, content, dry_run=True)).status_code == 200
        r = await _upload(api, content)
        assert r.status_code in (200, 201), r.text  # the second is the same content: no new version
    assert [
        v["version"] for v in (await api.get("admin", "/process-definitions/camunda_hardship")).json()
    ] == [1]
    stored = (await api.get("admin", "/process-definitions/camunda_hardship/versions/1/xml")).text
    assert stored.startswith('<?xml version="1.0" encoding="UTF-8"?>') and "乡镇核实" in stored
    case = await api.apply(**_apply("camunda_hardship"))
    task = (await api.get("town_a", f"/tasks/{case['open_tasks'][0]['id']}")).json()
    assert task["title"] == "乡镇核实", task


@pytest.mark.parametrize(
    "content",
    [
        CAMUNDA.replace(b'encoding="UTF-8"', b'encoding="GBK"'),  # declared GBK, saved as UTF-8
        CAMUNDA.replace(b'encoding="UTF-8"', b'encoding="x-no-such-encoding"'),
        CAMUNDA.decode().encode("gbk"),  # saved as GBK, declared UTF-8
    ],
)
async def test_a_file_not_in_its_declared_encoding_is_a_422(api: Api, content: bytes):
    for dry_run in (True, False):
        r = await _upload(api, content, dry_run=dry_run)
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", r.text
        [problem] = r.json()["errors"]
        assert problem["code"] == "invalid_encoding" and problem["line"] >= 1, r.text  # where reading stopped
    assert await api.count("process_definitions", "key = 'camunda_hardship'") == 0


# Each attribute the reader relies on, missing: what is replaced, by what, the problem, the element it
# names, and a text on the line it names (lxml gives the last line of an element's start tag).
MISSING = [
    (b'<camunda:formField id="amount"', b"<camunda:formField", "form_field_without_id", None, "补助金额"),
    (b'<bpmn:process id="camunda_hardship"', b"<bpmn:process", "missing_id", None, "candidateStarterGroups"),
    (b'<bpmn:userTask id="township_check"', b"<bpmn:userTask", "missing_id", None, "乡镇核实"),
    (
        b'<bpmn:sequenceFlow id="Flow_2"',
        b"<bpmn:sequenceFlow",
        "missing_id",
        None,
        'sourceRef="township_check"',
    ),
    (b'sourceRef="township_check" ', b"", "unknown_reference", "Flow_2", 'id="Flow_2"'),
    (b'targetRef="county_approve"', b'targetRef="nowhere"', "unknown_reference", "Flow_2", 'id="Flow_2"'),
    (b'isExecutable="true"', b"", "process_count", "camunda_hardship", "candidateStarterGroups"),
]


@pytest.mark.parametrize("old, new, code, element_id, marker", MISSING)
async def test_missing_attributes_are_problems_not_crashes(api: Api, old, new, code, element_id, marker):
    content = CAMUNDA.replace(old, new, 1)
    for dry_run in (True, False):
        r = await _upload(api, content, dry_run=dry_run)
        assert r.status_code == 422 and r.json()["code"] == "invalid_bpmn", r.text
        first = r.json()["errors"][0]
        expected = (code, element_id, _line_of(content, marker.encode()))
        assert (first["code"], first["element_id"], first["line"]) == expected, r.text
    assert await api.count("process_definitions", "key = 'camunda_hardship'") == 0


async def test_a_value_without_id_is_left_out_of_the_form(api: Api):
    content = CAMUNDA.replace(b'<camunda:value id="refuse" name="', b'<camunda:value name="')
    assert (await _upload(api, content)).status_code == 201
    case = await api.apply(**_apply("camunda_hardship"))
    done = await api.complete("town_a", case["open_tasks"][0]["id"], {})
    schema = (await api.get("county", f"/tasks/{done['next_tasks'][0]['id']}")).json()["form_schema"]
    assert schema["properties"]["decision"]["enum"] == ["approve"]


ELEMENT_REPR = re.compile(r"<Element|0x[0-9a-f]{6,}|Exception|SpiffWorkflow|Task Spec", re.I)


async def test_problems_of_every_stage_come_in_one_reply(api: Api):
    """Not executable, a service task, a Groovy script, an assignee, a cycle timer, an untranslatable JUEL condition, a
    flow with no condition, an unknown property, a missing form: each reported, with element and line."""
    broken = (
        CAMUNDA.replace(b'isExecutable="true"', b'isExecutable="false"')
        .replace(b'camunda:dueDate="P10D"', b'camunda:dueDate="P10D" camunda:assignee="${initiator}"')
        .replace(b'name="time_limit"', b'name="time_limimt"')
        .replace(
            b'<bpmn:sequenceFlow id="Flow_2" sourceRef="township_check" targetRef="county_approve" />',
            b'<bpmn:sequenceFlow id="Flow_2" sourceRef="township_check" targetRef="gw" />\n'
            b'<bpmn:exclusiveGateway id="gw" />\n'
            b'<bpmn:sequenceFlow id="Flow_yes" sourceRef="gw" targetRef="wait">\n'
            b'  <bpmn:conditionExpression>${execution.getVariable("ok")}</bpmn:conditionExpression>\n'
            b"</bpmn:sequenceFlow>\n"
            b'<bpmn:sequenceFlow id="Flow_no" sourceRef="gw" targetRef="notify" />\n'
            b'<bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition>\n'
            b"  <bpmn:timeCycle>R6/P1D</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>\n"
            b'<bpmn:sequenceFlow id="Flow_w" sourceRef="wait" targetRef="county_approve" />\n'
            b'<bpmn:serviceTask id="notify" camunda:class="org.example.Notify" />\n'
            b'<bpmn:sequenceFlow id="Flow_n" sourceRef="notify" targetRef="groovy" />\n'
            b'<bpmn:scriptTask id="groovy" scriptFormat="groovy"><bpmn:script>println "x"</bpmn:script>'
            b"</bpmn:scriptTask>\n"
            b'<bpmn:sequenceFlow id="Flow_g" sourceRef="groovy" targetRef="county_approve" />',
        )
        .replace(
            b'<bpmn:userTask id="county_approve"',
            b'<bpmn:userTask camunda:formKey="nothing.json" id="county_approve"',
        )
        .replace(b"<camunda:formData>", b"<camunda:formDatum>")
        .replace(b"</camunda:formData>", b"</camunda:formDatum>")
    )
    r = await _upload(api, broken, dry_run=True)
    assert r.status_code == 422 and r.json()["code"] == "invalid_bpmn", r.text
    found = {(e["code"], e["element_id"]): e for e in r.json()["errors"]}
    expected = {
        ("process_count", "camunda_hardship"): b"camunda:candidateStarterGroups",
        ("unsupported_assignee", "county_approve"): b'<bpmn:userTask camunda:formKey="nothing.json"',
        ("unknown_property", "township_check"): b'<bpmn:userTask id="township_check"',
        ("unsupported_expression", "Flow_yes"): b'<bpmn:sequenceFlow id="Flow_yes"',
        ("flow_without_condition", "Flow_no"): b'<bpmn:sequenceFlow id="Flow_no"',
        ("unsupported_timer", "wait"): b'<bpmn:intermediateCatchEvent id="wait"',
        ("unsupported_element", "notify"): b'<bpmn:serviceTask id="notify"',
        ("unsupported_script", "groovy"): b'<bpmn:scriptTask id="groovy"',
        ("unknown_form", "county_approve"): b'<bpmn:userTask camunda:formKey="nothing.json"',
    }
    assert set(found) == set(expected), found
    for key, marker in expected.items():
        assert found[key]["line"] == _line_of(broken, marker), found[key]
        assert not ELEMENT_REPR.search(found[key]["message"]), found[key]
    assert "isExecutable" in found[("process_count", "camunda_hardship")]["message"]
    assert "write it as ok," in found[("unsupported_expression", "Flow_yes")]["message"]  # the equivalent
    assert await api.count("process_definitions", "key = 'camunda_hardship'") == 0


async def test_an_engine_refusal_names_element_and_line_in_plain_words(api: Api):
    broken = CAMUNDA.replace(
        b"<bpmn:incoming>Flow_1</bpmn:incoming>",
        b"<bpmn:incoming>Flow_1</bpmn:incoming>\n"
        b'<bpmn:dataOutputAssociation id="out"><bpmn:targetRef>nothing</bpmn:targetRef></bpmn:dataOutputAssociation>',
    )
    r = await _upload(api, broken)
    assert r.status_code == 422, r.text
    [problem] = r.json()["errors"]
    assert (problem["element_id"], problem["line"]) == (
        "township_check",
        _line_of(broken, b'<bpmn:userTask id="township_check"'),
    )
    assert not ELEMENT_REPR.search(problem["message"]), problem


async def test_the_admin_page_lists_every_problem_in_chinese(live_ui, tmp_path):
    """The web upload shows each problem's Chinese headline (what to change) with its line."""
    page = await live_ui.login("admin", ADMIN_PASSWORD)
    await page.get_by_role("link", name="管理").click()
    broken = CAMUNDA.replace(b'camunda:dueDate="P10D"', b'camunda:dueDate="P10D" camunda:assignee="zhang"')
    broken = broken.replace(b'isExecutable="true"', b'isExecutable="false"')
    path = tmp_path / "hardship.bpmn20.xml"
    path.write_bytes(broken)
    await page.get_by_label("流程文件（.bpmn）").set_input_files(str(path))
    await page.get_by_role("button", name="上传").click()
    await page.wait_for_load_state()
    text = await page.locator("#bpmn-problems").inner_text()
    process_line = _line_of(broken, b"camunda:candidateStarterGroups")  # lxml: a start tag's last line
    task_line = _line_of(broken, b'<bpmn:userTask id="county_approve"')
    assert f"第{process_line}行，元素 camunda_hardship：文件须恰好包含一个可执行流程" in text, text
    assert f"第{task_line}行，元素 county_approve：不能指定具体办理人" in text, text
    await live_ui.shot(page, "admin-bpmn-modeler-problems")


def test_a_stored_version_loads_without_what_uploads_are_now_refused_for():
    """Running cases of a version deployed before an idiom was refused go on: the stored file loads."""
    older = CAMUNDA.replace(b'camunda:dueDate="P10D"', b'camunda:dueDate="P10D" camunda:assignee="zhang"')
    with pytest.raises(engine.BpmnError) as refused:
        engine.parse_bpmn(older)
    assert [e["code"] for e in refused.value.errors] == ["unsupported_assignee"]
    model = engine.model_for(-1, older.decode(), ())
    assert model.steps["county_approve"].role == "county_civil_affairs"


async def test_a_department_named_only_by_candidate_groups_may_be_granted(api: Api):
    """A role that only a task's candidate groups name (no lane) is a known department for grants."""
    user = {
        "username": "modeler_county",
        "password": "granite-harbour-lantern-7",
        "display_name": "县民政建模",
        "grants": [{"role": "county_relief_office", "division_code": "340621"}],
    }
    r = await api.post("admin", "/admin/users", user)
    assert r.status_code == 422 and r.json()["code"] == "unknown_role", r.text
    await api.upload(FLOWABLE.replace(b'"county_civil_affairs"', b'"county_relief_office"'), "h.bpmn20.xml")
    r = await api.post("admin", "/admin/users", user)
    assert r.status_code == 201, r.text


async def test_an_empty_timer_is_refused_with_what_to_write(api: Api):
    content = FLOWABLE.replace(DURATION_TIMER, b"<timeDuration />")
    r = await _upload(api, content, "h.bpmn20.xml")
    assert r.status_code == 422, r.text
    assert [(e["code"], e["element_id"], e["line"]) for e in r.json()["errors"]] == [
        ("invalid_timer", "publicity", _line_of(content, b'id="publicity"'))
    ], r.text
    assert "P7D" in r.json()["errors"][0]["message"]
