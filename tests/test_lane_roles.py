"""Lanes are named in Chinese and carry their role key as a property; every shipped user task
names its role in candidateGroups. The engine reads roles from there, never from a display name;
older files (lanes named by role key) still read as before."""

import re
from pathlib import Path

import pytest
from lxml import etree

from app.config import PROJECT_ROOT
from app.diagrams import BPMN
from app.domain.errors import Invalid
from app.domain.people.roles import role_label
from app.domain.programs import validation

FORMS = PROJECT_ROOT / "processes" / "forms"
SHIPPED = sorted((PROJECT_ROOT / "processes").glob("*.bpmn"))
DIBAO = (PROJECT_ROOT / "processes" / "dibao.bpmn").read_bytes()
CAMUNDA = "{http://camunda.org/schema/1.0/bpmn}"


def _roles(xml: bytes) -> tuple[dict[str, str | None], dict[str, str]]:
    model = validation.validate(xml, FORMS).model
    return {k: s.role for k, s in model.steps.items()}, model.element_lanes


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_lanes_are_chinese_and_every_user_task_names_its_role(path: Path):
    root = etree.parse(str(path)).getroot()
    lane_of = {}
    for lane in root.iter(f"{{{BPMN}}}lane"):
        role = lane.find(f"{{{BPMN}}}extensionElements/{{*}}properties/{{*}}property[@name='role']")
        assert role is not None, lane.get("id")
        assert lane.get("name") == role_label(role.get("value")) != role.get("value")
        lane_of |= {ref.text.strip(): role.get("value") for ref in lane.iter(f"{{{BPMN}}}flowNodeRef")}
    for task in root.iter(f"{{{BPMN}}}userTask"):
        assert task.get(f"{CAMUNDA}candidateGroups") == lane_of[task.get("id")], task.get("id")


def test_a_task_without_candidate_groups_takes_its_lanes_role_property():
    steps, lanes = _roles(DIBAO)
    plain = re.sub(rb' camunda:candidateGroups="[^"]+"', b"", DIBAO)
    assert b"candidateGroups" not in plain
    assert _roles(plain) == (steps, lanes)
    assert (
        steps["accept_application"] == "township_civil_affairs"
        and steps["county_confirm"] == "county_civil_affairs"
    )
    # The notice is issued by the office of the gateway's lane.
    assert lanes["public_notice"] == "township_civil_affairs"


def test_a_file_with_lanes_named_by_role_key_reads_as_before():
    legacy = re.sub(
        rb'name="[^"]+">\s*<bpmn:extensionElements>\s*<spiffworkflow:properties>\s*'
        rb'<spiffworkflow:property name="role" value="([a-z_]+)" />\s*</spiffworkflow:properties>\s*'
        rb"</bpmn:extensionElements>",
        rb'name="\1">',
        re.sub(rb' camunda:candidateGroups="[^"]+"', b"", DIBAO),
    )
    assert b'<bpmn:lane id="lane_county" name="county_civil_affairs">' in legacy
    assert _roles(legacy) == _roles(DIBAO)


def test_a_lane_role_that_is_no_role_key_is_refused_at_its_line():
    broken = DIBAO.replace(b'name="role" value="county_civil_affairs"', b'name="role" value="county"')
    with pytest.raises(Invalid) as caught:
        validation.validate(broken, FORMS)
    (problem,) = caught.value.extra["errors"]
    assert problem["code"] == "invalid_role" and problem["element_id"] == "lane_county"
    assert problem["line"] == validation.validate(DIBAO, FORMS).model.element_lines["lane_county"]
