"""BPMN properties are parsed into typed, frozen models at deploy: unknown names and malformed values
are refused with the element id and the line, all at once; docs/bpmn-properties.md is generated
from the same models."""

import subprocess
import sys

import pytest
from pydantic import ValidationError

from app import engine
from app.config import PROJECT_ROOT
from app.domain.programs import config, definitions
from tests.helpers import Api

PROCESSES = PROJECT_ROOT / "processes"
DIBAO = (PROCESSES / "dibao.bpmn").read_bytes()
SHIPPED = sorted(PROCESSES.glob("*.bpmn")) + sorted((PROJECT_ROOT / "tests" / "bpmn").glob("*.bpmn"))


def _model(xml: bytes) -> engine.ProcessModel:
    return engine.parse_bpmn(xml, definitions.load_decisions(xml, PROCESSES / "decisions"))


def _line_of(xml: bytes, marker: bytes) -> int:
    return xml[: xml.index(marker)].count(b"\n") + 1


def _property(name: str, value: str) -> bytes:
    return f'<spiffworkflow:property name="{name}" value="{value}" />'.encode()


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_process_passes_and_reads_as_typed_values(path):
    model = _model(path.read_bytes())
    assert config.read(model)[1] == []
    definitions.check_model(model, PROCESSES / "forms")
    parsed = config.parse(model)
    assert set(parsed.steps) == set(model.steps) and set(parsed.end_events) == set(model.end_events)
    assert all(end.outcome in config.OUTCOMES for end in parsed.end_events.values())


def test_dibao_reads_as_attributes():
    parsed = config.parse(_model(DIBAO))
    assert parsed.process.starters == ("portal", "township_civil_affairs")
    assert parsed.process.division_levels == ("village", "township")
    assert parsed.process.settings["recheck_months_c"] == 6
    assert parsed.process.setting_ranges["recheck_months_c"] == (1.0, 12.0)
    assert parsed.process.setting_authorities["recheck_months_c"].direction == "ceiling"
    assert parsed.steps["accept_application"].separation_of_duties == "none"
    assert parsed.steps["deliver_refusal_notice"].time_limit == "3 working days"
    assert parsed.catch_events["public_notice"].notice is True
    assert parsed.catch_events["public_notice"].notice_postings == ("village_board", "website")
    assert parsed.messages["materials_supplemented"].senders == ("portal", "township_civil_affairs")
    assert parsed.message("never_declared").senders == ("portal",)
    assert parsed.end_events["end_approved"].outcome == "approved"
    with pytest.raises(ValidationError):
        parsed.steps["accept_application"].form = "other.json"  # frozen with the definition


async def test_unknown_and_malformed_properties_are_refused_at_deploy_all_at_once(api: Api):
    broken = (
        DIBAO.replace(  # a misspelt name on a user task
            _property("separation_of_duties", "none"),
            _property("separation_of_duties", "none") + _property("seperation_of_duties", "none"),
            1,
        )
        .replace(  # a flag that is not true/false on the notice gateway
            _property("notice", "true"), _property("notice", "yes"), 1
        )
        .replace(  # a name no message takes
            _property("senders", "portal"), _property("senders", "portal") + _property("notice_days", "abc")
        )
        .replace(  # a value outside its closed set on the process
            _property("case_time_limit", "30 working days"),
            _property("case_time_limit", "30 working days") + _property("about", "places"),
        )
        .replace(  # an element that takes no properties at all
            b'<bpmn:startEvent id="start" name="\xe6\x8f\x90\xe5\x87\xba\xe7\x94\xb3\xe8\xaf\xb7">',
            b'<bpmn:startEvent id="start" name="x"><bpmn:extensionElements><spiffworkflow:properties>'
            + _property("form", "x.json")
            + b"</spiffworkflow:properties></bpmn:extensionElements>",
        )
    )
    assert broken.count(b"seperation_of_duties") == 1 and b'name="x"' in broken
    before = (await api.get("county", "/process-definitions/dibao")).json()
    r = await api.client.post(
        "/api/v1/process-definitions",
        files={"file": ("dibao.bpmn", broken, "application/xml")},
        headers=api.headers["admin"],
    )
    assert r.status_code == 422 and r.json()["code"] == "invalid_bpmn", r.text
    assert r.headers["content-type"] == "application/problem+json"
    found = {(e["code"], e["element_id"], e.get("property"), e["line"]) for e in r.json()["errors"]}
    assert found == {
        (
            "unknown_property",
            "accept_application",
            "seperation_of_duties",
            _line_of(broken, b'id="accept_application"'),
        ),
        ("invalid_property", "public_notice", "notice", _line_of(broken, b'id="public_notice"')),
        ("unknown_property", "objection", "notice_days", _line_of(broken, b'<bpmn:message id="objection"')),
        ("invalid_property", "dibao", "about", _line_of(broken, b'<bpmn:process id="dibao"')),
        ("unknown_property", "start", "form", _line_of(broken, b'id="start"')),
    }
    messages = {e["element_id"]: e["message"] for e in r.json()["errors"]}
    assert "did you mean 'separation_of_duties'" in messages["accept_application"]
    assert "must be true or false" in messages["public_notice"]
    # Nothing was deployed.
    assert (await api.get("county", "/process-definitions/dibao")).json() == before


@pytest.mark.parametrize(
    ("old", "new", "code", "element_id"),
    [
        (
            _property("time_limit", "3 working days"),
            _property("time_limit", "abc"),
            "invalid_time_limit",
            None,
        ),
        (_property("notice", "true"), _property("notice", "1"), "invalid_property", "public_notice"),
        (
            _property("division_levels", "village,township"),
            _property("division_levels", "village,galaxy"),
            "invalid_level",
            "dibao",
        ),
        (
            _property("setting_range.recheck_months_c", "1..12"),
            _property("setting_range.recheck_months_c", "1-12"),
            "invalid_setting",
            "dibao",
        ),
        (
            _property("setting_authority.recheck_months_c", "county:ceiling"),
            _property("setting_authority.recheck_months_c", "county:lower"),
            "invalid_setting",
            "dibao",
        ),
        (
            _property("case_number_prefix", "DB"),
            _property("case_number_prefix", "db-1"),
            "invalid_property",
            "dibao",
        ),
        (
            _property("senders", "portal, township_civil_affairs"),
            _property("senders", "portal,,township_civil_affairs"),
            "invalid_role",
            "materials_supplemented",
        ),
        (_property("outcome", "refused"), _property("outcome", "rejected"), "invalid_outcome", "end_refused"),
    ],
)
def test_a_malformed_value_is_refused_naming_property_element_and_line(old, new, code, element_id):
    assert DIBAO.count(old) >= 1, old
    broken = DIBAO.replace(old, new, 1)
    with pytest.raises(engine.BpmnError) as refused:
        definitions.check_model(_model(broken), PROCESSES / "forms")
    name = new.split(b'"')[1].decode()
    # (a refused setting_authority also leaves its setting without one: a second problem)
    (error,) = [e for e in refused.value.errors if e.get("property")]
    assert (error["code"], error["property"]) == (code, name), error
    if element_id is not None:
        assert error["element_id"] == element_id
    assert error["line"] is not None and broken.splitlines()[error["line"] - 1].strip().startswith(b"<bpmn:")
    assert name in error["message"]


def test_a_stored_version_loads_without_what_it_would_now_be_refused_for():
    """A version deployed before a property was checked keeps running: the property reads as undeclared."""
    stored = DIBAO.replace(
        _property("separation_of_duties", "none"),
        _property("separation_of_duties", "none") + _property("legacy_flag", "x"),
        1,
    ).replace(_property("notice_postings", "village_board,website"), _property("notice", "yes"), 1)
    model = _model(stored)
    with pytest.raises(engine.BpmnError):
        config.parse(model)
    loaded = config.parse(model, stored=True)
    assert loaded.steps["accept_application"].separation_of_duties == "none"
    assert loaded.catch_events["public_notice"].notice is False


def test_the_properties_page_is_generated_from_the_models():
    done = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "scripts" / "gen_bpmn_properties.py"), "--check"],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    page = (PROJECT_ROOT / "docs" / "bpmn-properties.md").read_text(encoding="utf-8")
    for cls in (config.ProcessConfig, config.StepConfig, config.EndEventConfig, config.MessageConfig):
        for name, f in cls.model_fields.items():
            assert f"`{f.alias or name}`".replace(".*", ".<name>") in page, name
    assert "bpmn-properties.md" in (PROJECT_ROOT / "docs" / "bpmn.md").read_text(encoding="utf-8")
