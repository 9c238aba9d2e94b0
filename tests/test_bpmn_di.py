"""Every shipped process carries BPMN DI (scripts/add_bpmn_di.py) so modelers open it laid out: a
shape for the pool, each lane and each step, an edge with waypoints for each sequence flow."""

import importlib.util

import pytest
from lxml import etree

from app.config import PROJECT_ROOT
from app.diagrams import BPMN, BPMNDI, DC, DI, EVENTS, GATEWAYS, TASKS
from tests.helpers import Api

SHIPPED = sorted((PROJECT_ROOT / "processes").glob("*.bpmn"))
_spec = importlib.util.spec_from_file_location("add_bpmn_di", PROJECT_ROOT / "scripts" / "add_bpmn_di.py")
add_bpmn_di = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(add_bpmn_di)


def _bounds(shape: etree._Element) -> tuple[float, float, float, float]:
    b = shape.find(f"{{{DC}}}Bounds")
    return tuple(float(b.get(a)) for a in ("x", "y", "width", "height"))


def _inside(inner: tuple, outer: tuple) -> bool:
    (x, y, w, h), (ox, oy, ow, oh) = inner, outer
    return ox <= x and oy <= y and x + w <= ox + ow and y + h <= oy + oh


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_process_has_a_diagram_of_every_element(path):
    root = etree.parse(str(path)).getroot()
    diagrams = root.findall(f"{{{BPMNDI}}}BPMNDiagram")
    assert len(diagrams) == 1
    plane = diagrams[0].find(f"{{{BPMNDI}}}BPMNPlane")
    shapes = {s.get("bpmnElement"): _bounds(s) for s in plane.iter(f"{{{BPMNDI}}}BPMNShape")}
    edges = {
        e.get("bpmnElement"): e.findall(f"{{{DI}}}waypoint") for e in plane.iter(f"{{{BPMNDI}}}BPMNEdge")
    }
    process = next(p for p in root.iter(f"{{{BPMN}}}process") if p.get("isExecutable") == "true")
    participant = root.find(f".//{{{BPMN}}}participant[@processRef='{process.get('id')}']")
    # The plane shows the collaboration when there is one (the pool), else the process.
    assert plane.get("bpmnElement") == (
        participant.getparent().get("id") if participant is not None else process.get("id")
    )
    pool = shapes[participant.get("id")] if participant is not None else None
    lane_of = {
        ref.text: lane.get("id")
        for lane in process.iter(f"{{{BPMN}}}lane")
        for ref in lane.iter(f"{{{BPMN}}}flowNodeRef")
    }
    for element in process.iter():
        kind = etree.QName(element).localname if isinstance(element.tag, str) else ""
        if kind in TASKS | EVENTS | GATEWAYS:
            assert element.get("id") in shapes, element.get("id")
            if element.get("id") in lane_of:  # drawn inside its lane: the lane says who does it
                assert _inside(shapes[element.get("id")], shapes[lane_of[element.get("id")]]), element.get(
                    "id"
                )
        elif kind == "lane":
            assert pool is None or _inside(shapes[element.get("id")], pool)
        elif kind == "sequenceFlow":
            assert len(edges.get(element.get("id"), [])) >= 2, element.get("id")
    # Nothing in the diagram that the file does not have.
    ids = {el.get("id") for el in root.iter() if isinstance(el.tag, str)}
    assert set(shapes) | set(edges) <= ids


def test_the_script_leaves_a_drawn_file_alone_and_draws_the_same_twice(tmp_path):
    for path in SHIPPED:
        text = path.read_text(encoding="utf-8")
        assert add_bpmn_di.with_diagram(text) == text, path.name
    plain = (PROJECT_ROOT / "tests" / "bpmn" / "escalation_demo.bpmn").read_text(encoding="utf-8")
    assert "BPMNDiagram" not in plain
    drawn = add_bpmn_di.with_diagram(plain)
    assert "BPMNDiagram" in drawn and add_bpmn_di.with_diagram(drawn) == drawn
    assert add_bpmn_di.with_diagram(drawn, force=True) == drawn
    # Only DI is added: the process itself is untouched, comments included.
    stripped = add_bpmn_di.DIAGRAM.sub("", drawn)
    for prefix, uri in add_bpmn_di.NAMESPACES.items():
        stripped = stripped.replace(f'\n{" " * 18}xmlns:{prefix}="{uri}"', "")
    assert etree.tostring(etree.fromstring(stripped.encode())) == etree.tostring(
        etree.fromstring(plain.encode())
    )


async def test_a_file_given_a_diagram_still_deploys_and_draws_from_it(api: Api):
    plain = (PROJECT_ROOT / "tests" / "bpmn" / "escalation_demo.bpmn").read_text(encoding="utf-8")
    # Moved as if by hand in a modeler: the start event goes far down, where no layout puts it.
    drawn = add_bpmn_di.with_diagram(plain)
    root = etree.fromstring(drawn.encode())
    start = root.find(f".//{{{BPMN}}}startEvent").get("id")
    bounds = root.find(f".//{{{BPMNDI}}}BPMNShape[@bpmnElement='{start}']/{{{DC}}}Bounds")
    old = f'bpmnElement="{start}">\n        <dc:Bounds x="{bounds.get("x")}" y="{bounds.get("y")}"'
    assert old in drawn
    drawn = drawn.replace(old, f'bpmnElement="{start}">\n        <dc:Bounds x="{bounds.get("x")}" y="9000"')
    await api.upload(drawn.encode("utf-8"), "escalation_demo.bpmn")
    key = root.find(f"{{{BPMN}}}process").get("id")
    svg = etree.fromstring(
        (await api.get("county", f"/process-definitions/{key}/versions/1/diagram.svg")).content
    )
    circle = next(g for g in svg.iter("{http://www.w3.org/2000/svg}g") if g.get("data-element-id") == start)[
        0
    ]
    assert float(circle.get("cy")) == 9000 + float(bounds.get("height")) / 2
