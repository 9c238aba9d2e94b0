"""Nothing in an uploaded BPMN file runs as code; broken files are refused with reasons."""

from pathlib import Path

import pytest

from app import engine
from app.config import PROJECT_ROOT
from tests.helpers import Api

DIBAO = (PROJECT_ROOT / "processes" / "dibao.bpmn").read_bytes()
CONDITION = b'decision == "approve"'

ESCAPES = [
    b"().__class__.__base__.__subclasses__()",
    b"__import__('os').system('touch /tmp/aidflow-pwned')",
    b"[c for c in ().__class__.__bases__[0].__subclasses__() if c.__name__ == 'Popen']",
    b"getattr(decision, '__class__')",
    b"decision.format.__globals__",
    b"10 ** 10 ** 10",
    b"9 ** 999999999",
    b"open('/etc/passwd').read()",
    b"eval('1')",
    b"exec('import os')",
]
# The upload's compile step checks constructs, not names: this one names a function the sandbox does
# not offer, so it deploys and fails when it runs. Every other escape is refused at upload.
RUNS_AND_FAILS = {b"getattr(decision, '__class__')"}
# The element (and its line in dibao.bpmn) whose condition the escapes replace.
CONDITION_FLOW = "flow_review_approve"
CONDITION_LINE = next(
    n for n, line in enumerate(DIBAO.decode().splitlines(), 1) if f'id="{CONDITION_FLOW}"' in line
)


async def _upload(api: Api, content: bytes, dry_run: bool = False):
    return await api.client.post(
        "/api/v1/process-definitions",
        params={"dry_run": str(dry_run).lower()},
        files={"file": ("x.bpmn", content, "application/xml")},
        headers=api.headers["admin"],
    )


@pytest.mark.parametrize("escape", ESCAPES)
async def test_escapes_in_conditions_are_refused_or_inert(api: Api, escape: bytes):
    r = await _upload(api, DIBAO.replace(CONDITION, escape.replace(b"'", b"&apos;"), 1))
    if escape not in RUNS_AND_FAILS:
        assert r.status_code == 422 and r.json()["code"] == "invalid_bpmn", r.text
        assert [(e["code"], e["element_id"], e["line"]) for e in r.json()["errors"]] == [
            ("invalid_expression", CONDITION_FLOW, CONDITION_LINE)
        ], r.text
        assert await api.count("process_definitions", "key = 'dibao'") == 1  # nothing deployed
    else:
        assert r.status_code == 201, r.text
        case = await api.apply()
        await api.step("town_a", case["id"], "accept_application", {"decision": "accept"})
        task = await api.open_task(case["id"], "initial_review")
        done = await api.post("town_a", f"/tasks/{task['id']}/complete", {"data": {"decision": "approve"}})
        assert done.status_code == 422 and done.json()["code"] == "engine_error", done.text
        # Refused as a whole: the step is still open and the case where it was.
        assert (await api.open_task(case["id"], "initial_review"))["id"] == task["id"]
    assert not Path("/tmp/aidflow-pwned").exists()


# The sandbox itself, and its bounds: tests/test_bpmn_limits.py.


SCRIPT_PROCESS = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d">
  <bpmn:process id="script_demo" name="script" isExecutable="true">
    <bpmn:extensionElements><spiffworkflow:properties>
      <spiffworkflow:property name="starters" value="portal" />
    </spiffworkflow:properties></bpmn:extensionElements>
    <bpmn:laneSet id="ls"><bpmn:lane id="l" name="township_civil_affairs">
      <bpmn:flowNodeRef>s</bpmn:flowNodeRef><bpmn:flowNodeRef>compute</bpmn:flowNodeRef><bpmn:flowNodeRef>check</bpmn:flowNodeRef><bpmn:flowNodeRef>e</bpmn:flowNodeRef>
    </bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="compute" />
    <bpmn:scriptTask id="compute"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>SCRIPT</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="compute" targetRef="check" />
    <bpmn:userTask id="check" name="check"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing></bpmn:userTask>
    <bpmn:sequenceFlow id="f3" sourceRef="check" targetRef="e" />
    <bpmn:endEvent id="e"><bpmn:extensionElements><spiffworkflow:properties>
      <spiffworkflow:property name="outcome" value="approved" />
    </spiffworkflow:properties></bpmn:extensionElements><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>"""


async def test_scripts_run_restricted_and_within_a_time_budget(api: Api):
    r = await _upload(api, SCRIPT_PROCESS.replace(b"SCRIPT", b"import os"))
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "invalid_expression"
    assert (
        await _upload(api, SCRIPT_PROCESS.replace(b"SCRIPT", b"amount = household_size * 300"))
    ).status_code == 201
    case = await api.apply(program="script_demo", data={"household_size": 3})
    assert case["open_tasks"][0]["name"] == "check"

    endless = SCRIPT_PROCESS.replace(b"SCRIPT", b"n = 0\nwhile True:\n    n += 1")
    r = await _upload(api, endless)
    assert r.status_code == 422 and "never ends" in r.json()["errors"][0]["message"]
    looping = SCRIPT_PROCESS.replace(b"SCRIPT", b"n = 0\nwhile n &gt;= 0:\n    n += 1")
    assert (await _upload(api, looping)).status_code == 201  # it compiles; it cannot run forever
    before = await api.count("applications")
    r = await api.post(
        "portal",
        "/applications",
        {
            "program": "script_demo",
            "division_code": "340621100201",
            "applicant": {"name": "x", "id_number": "11010519491231002X"},
        },
    )
    assert (
        r.status_code == 422
        and r.json()["code"] == "script_limit_exceeded"
        and "CPU time" in r.json()["detail"]
    )
    assert await api.count("applications") == before


async def test_gateways_need_conditions_and_dry_run_stores_nothing(api: Api):
    no_condition = DIBAO.replace(
        b'<bpmn:conditionExpression>decision == "approve"</bpmn:conditionExpression>', b"", 1
    )
    r = await _upload(api, no_condition)
    assert r.status_code == 422
    error = r.json()["errors"][0]
    assert (
        error["code"] == "flow_without_condition"
        and error["element_id"] == "flow_review_approve"
        and error["line"]
    )
    revised = DIBAO.replace(b'"P7D"', b'"P5D"')
    r = await _upload(api, revised, dry_run=True)
    assert r.status_code == 200 and r.json() == {
        "key": "dibao",
        "version": 2,
        "name": "最低生活保障",
        "dry_run": True,
        "created": False,
    }
    assert await api.count("process_definitions", "key = 'dibao'") == 1
    lane_portal = DIBAO.replace(b'="county_civil_affairs"', b'="portal"')  # the lane's role and its steps
    r = await _upload(api, lane_portal)
    assert r.status_code == 422 and {e["code"] for e in r.json()["errors"]} == {"invalid_role"}
    assert await api.count("process_definitions", "key = 'dibao'") == 1


def test_parse_reports_every_gateway_problem_at_once():
    broken = DIBAO.replace(b'<bpmn:conditionExpression>decision == "approve"</bpmn:conditionExpression>', b"")
    with pytest.raises(engine.BpmnError) as caught:
        engine.parse_bpmn(broken)
    assert len(caught.value.errors) == 3


async def test_camunda_modeler_files_route_by_candidate_groups(api: Api):
    await api.set_clock("2026-11-23T09:00:00+08:00")  # a Monday
    await api.upload(
        (PROJECT_ROOT / "tests" / "bpmn" / "camunda_hardship.bpmn").read_bytes(), "camunda_hardship.bpmn"
    )
    case = await api.apply(program="camunda_hardship")
    township = case["open_tasks"][0]
    assert (township["name"], township["role"], township["division_code"]) == (
        "township_check",
        "township_civil_affairs",
        "340621100",
    )
    assert township["due_at"] == "2026-11-30T15:59:59Z"  # camunda:property time_limit, 5 working days
    r = await api.post("town_b", f"/tasks/{township['id']}/complete", {"data": {}})
    assert r.status_code == 404
    done = await api.complete("town_a", township["id"], {})
    county = done["next_tasks"][0]
    assert (county["role"], county["division_code"]) == ("county_civil_affairs", "340621")
    assert (
        county["due_at"] is not None and county["form"] == "county_approve.formData"
    )  # camunda:dueDate, formData
    schema = (await api.get("county", f"/tasks/{county['id']}")).json()["form_schema"]
    assert schema["properties"]["decision"]["enum"] == ["approve", "refuse"] and schema["required"] == [
        "decision"
    ]
    r = await api.post("county", f"/tasks/{county['id']}/complete", {"data": {"amount": 300}})
    assert r.status_code == 422 and r.json()["code"] == "form_invalid"
    done = await api.complete("county", county["id"], {"decision": "approve", "amount": 300})
    assert done["application"]["status"] == "approved"
    r = await api.post(
        "county",
        "/applications",
        {
            "program": "camunda_hardship",
            "division_code": "340621100201",
            "applicant": {"name": "x", "id_number": "11010519491231002X"},
        },
    )
    assert r.status_code == 403  # candidateStarterGroups: portals and townships only


async def test_more_broken_files_each_with_its_reason(api: Api):
    cases = [
        ("invalid_outcome", DIBAO.replace(b'<spiffworkflow:property name="outcome" value="refused" />', b"")),
        ("invalid_time_limit", DIBAO.replace(b'value="3 working days"', b'value="three days"')),
        ("invalid_time_limit", DIBAO.replace(b'value="3 working days"', b'value="99999 working days"')),
        (
            "message_without_name",
            DIBAO.replace(
                b'<bpmn:message id="objection" name="objection">', b'<bpmn:message id="objection" name="">'
            ),
        ),
        (
            "invalid_role",
            DIBAO.replace(
                b'name="senders" value="portal, township_civil_affairs"',
                b'name="senders" value="portal, anyone"',
            ),
        ),
        ("invalid_timer", DIBAO.replace(b'"P7D"', b'"P7X"')),
        # Durations SpiffWorkflow would count out month by month for days, or that overflow a timedelta.
        ("invalid_timer", DIBAO.replace(b'"P7D"', b'"P99999999999M"')),
        ("invalid_timer", DIBAO.replace(b'"P7D"', b'"P99999999999D"')),
        ("invalid_timer", DIBAO.replace(b'"P7D"', b'"R/P99999999999M"')),
        ("invalid_timer", DIBAO.replace(b'"P7D"', b'"P10Y1D"')),
        # A parser recursing per operator: refused, not a 500.
        ("invalid_expression", DIBAO.replace(CONDITION, b"1+" * 20_000 + b"1")),
    ]
    for code, content in cases:
        r = await _upload(api, content)
        assert r.status_code == 422, code
        errors = r.json()["errors"]
        assert {e["code"] for e in errors} == {code}, errors
        assert all(e["element_id"] for e in errors)
    assert await api.count("process_definitions", "key = 'dibao'") == 1


def test_working_day_counts_are_bounded():
    from app.domain.timekeeping import calendar

    days = calendar.WorkingDays({})
    assert days.add(calendar.date(2030, 1, 1), calendar.MAX_DAYS).provisional is True
    with pytest.raises(ValueError):
        days.add(calendar.date(2030, 1, 1), calendar.MAX_DAYS + 1)


async def test_a_doctype_is_not_kept(api: Api):
    """Inert here, but the stored file is served to portals and modelers whose parsers may resolve it."""
    doctype = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    )
    r = await _upload(api, DIBAO.replace(b'<?xml version="1.0" encoding="UTF-8"?>', doctype, 1))
    assert r.status_code == 422 and [e["code"] for e in r.json()["errors"]] == ["doctype_not_allowed"], r.text
    assert await api.count("process_definitions", "key = 'dibao'") == 1


def test_thousands_of_gateways_are_checked_in_linear_time():
    """Every gateway used to be compared with every flow: 7,000 gateways held an upload for minutes.
    Counted, not timed: the check looks at each flow a bounded number of times."""
    from lxml import etree

    from app.engine import checks
    from app.engine.model import BPMN_NS

    n = 3000
    parts = [f'<process xmlns="{BPMN_NS}" id="p">']
    for i in range(n):
        parts.append(f'<exclusiveGateway id="g{i}"/>')
        parts.append(f'<sequenceFlow id="a{i}" sourceRef="g{i}" targetRef="g{(i + 1) % n}"/>')
        parts.append(f'<sequenceFlow id="b{i}" sourceRef="g{i}" targetRef="g{(i + 2) % n}"/>')
    parts.append("</process>")
    looked = 0
    real_get = etree._Element.get

    class Counting(etree.ElementBase):
        def get(self, key, default=None):
            nonlocal looked
            looked += 1
            return real_get(self, key, default)

    lookup = etree.ElementDefaultClassLookup(element=Counting)
    parser = etree.XMLParser()
    parser.set_element_class_lookup(lookup)
    process = etree.fromstring("".join(parts).encode(), parser)
    problems = checks.gateway_problems(process)
    assert len(problems) == 2 * n  # each flow has no condition and no default
    assert looked < 40 * n, looked  # quadratic would be about 2 * n * n = 18,000,000
