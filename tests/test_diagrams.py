"""Server-side SVG diagrams: from DI when the file has it, laid out otherwise; a case's progress highlighted."""

from lxml import etree

from app.config import PROJECT_ROOT
from tests.helpers import Api

SVG = "{http://www.w3.org/2000/svg}"


def _shapes(svg: bytes) -> dict[str, etree._Element]:
    root = etree.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return {g.get("data-element-id"): g for g in root.iter(f"{SVG}g")}


async def test_definition_diagram_draws_every_step_in_its_lane(api: Api):
    r = await api.get("county", "/process-definitions/dibao/versions/1/diagram.svg")
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    shapes = _shapes(r.content)
    for step in (
        "accept_application",
        "initial_review",
        "public_notice",
        "reinvestigate",
        "county_confirm",
        "deliver_refusal_notice",
        "county_home_visit",
        "end_approved",
        "lane_township",
        "lane_county",
    ):
        assert step in shapes, step
    assert "县级审核确认" in r.text and 'data-role="township_civil_affairs"' in r.text
    # Lanes show their role's Chinese name, not the key.
    assert ">乡镇（街道）民政</text>" in r.text and ">township_civil_affairs</text>" not in r.text
    assert (await api.get("county", "/process-definitions/dibao/versions/5/diagram.svg")).status_code == 404


async def test_case_diagram_highlights_progress(api: Api):
    case = await api.apply()
    await api.step("town_a", case["id"], "accept_application", {"decision": "accept"})
    shapes = _shapes((await api.get("town_a", f"/applications/{case['id']}/diagram.svg")).content)
    assert "done" in shapes["accept_application"].get("class")
    assert "current" in shapes["initial_review"].get("class")
    assert "done" not in shapes["county_confirm"].get("class") and "current" not in shapes[
        "county_confirm"
    ].get("class")
    await api.step("town_a", case["id"], "initial_review", {"decision": "approve"})
    shapes = _shapes((await api.get("county", f"/applications/{case['id']}/diagram.svg")).content)
    assert "current" in shapes["public_notice"].get("class") and "done" in shapes["initial_review"].get(
        "class"
    )
    assert (await api.get("town_b", f"/applications/{case['id']}/diagram.svg")).status_code == 404


async def test_diagram_follows_the_files_own_layout(api: Api):
    await api.upload(
        (PROJECT_ROOT / "tests" / "bpmn" / "camunda_hardship.bpmn").read_bytes(), "camunda_hardship.bpmn"
    )
    r = await api.get("county", "/process-definitions/camunda_hardship/versions/1/diagram.svg")
    shapes = _shapes(r.content)
    rect = shapes["township_check"].find(f"{SVG}rect")
    assert (rect.get("x"), rect.get("y"), rect.get("width")) == ("240.0", "80.0", "100.0")
    flows = [p.get("data-element-id") for p in etree.fromstring(r.content).iter(f"{SVG}polyline")]
    assert flows == ["Flow_1", "Flow_2", "Flow_3"]


def test_the_pool_is_drawn_under_its_lanes_and_steps():
    from app import diagrams

    svg = diagrams.render((PROJECT_ROOT / "processes" / "dibao.bpmn").read_text(encoding="utf-8"))
    order = [g.get("data-element-id") for g in etree.fromstring(svg.encode()).iter(f"{SVG}g")]
    assert order[0] == "dibao_participant"  # first drawn, so under the rest
    assert order.index("lane_township") < order.index("accept_application")
    assert ".participant rect { fill: none;" in svg and ">最低生活保障</text>" in svg


def test_the_viewer_copy_names_lanes_in_chinese_and_finds_the_notice():
    from app import diagrams

    xml = (PROJECT_ROOT / "processes" / "dibao.bpmn").read_text(encoding="utf-8")
    shown = etree.fromstring(diagrams.for_viewer(xml).encode())
    lanes = {lane.get("id"): lane.get("name") for lane in shown.iter("{*}lane")}
    assert lanes == {"lane_township": "乡镇（街道）民政", "lane_county": "县级民政"}
    assert diagrams.notice_steps(xml) == ["public_notice"]


def test_a_group_is_a_frame_over_its_steps_named_by_its_category():
    from app import diagrams

    xml = (PROJECT_ROOT / "processes" / "dibao.bpmn").read_text(encoding="utf-8")
    xml = xml.replace(
        "<bpmn:collaboration ",
        '<bpmn:category id="cat"><bpmn:categoryValue id="cat_notice" value="公示阶段" /></bpmn:category>\n'
        "  <bpmn:collaboration ",
    )
    xml = xml.replace(
        '<bpmn:startEvent id="start"',
        '<bpmn:group id="notice_group" categoryValueRef="cat_notice" />\n    <bpmn:startEvent id="start"',
    )
    xml = xml.replace(
        "    </bpmndi:BPMNPlane>",
        '      <bpmndi:BPMNShape id="notice_group_di" bpmnElement="notice_group">'
        '<dc:Bounds x="900" y="20" width="300" height="200" /></bpmndi:BPMNShape>\n    </bpmndi:BPMNPlane>',
    )
    svg = diagrams.render(xml)
    groups = list(etree.fromstring(svg.encode()).iter(f"{SVG}g"))
    order = [g.get("data-element-id") for g in groups]
    assert order.index("notice_group") > order.index("public_notice")  # drawn over its steps...
    assert ".group rect { fill: none;" in svg  # ...without hiding them
    assert groups[order.index("notice_group")][1].text == "公示阶段"
