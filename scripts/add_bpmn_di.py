"""Writes BPMN DI (the diagram: a shape for the pool, every lane and every step, an edge with
waypoints for every sequence flow) into process files that have none, so they open laid out in
Camunda Modeler and bpmn.io. The layout is app/diagrams.py's automatic one.

    .venv/bin/python scripts/add_bpmn_di.py              # every file in processes/
    .venv/bin/python scripts/add_bpmn_di.py a.bpmn --force  # redraw a file that has DI

Idempotent: a file that already has a diagram is left as it is (it may have been arranged by hand
in a modeler) unless ``--force`` is given; the same file always gives the same diagram. The DI is
inserted as text before ``</…definitions>``, so the file's comments and formatting stay.
"""

import argparse
import re
import sys
from pathlib import Path

from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.diagrams import BPMN, BPMNDI, DC, DI, EVENTS, POOL_HEADER, auto_layout

PROCESSES = Path(__file__).resolve().parent.parent / "processes"
NAMESPACES = {"bpmndi": BPMNDI, "dc": DC, "di": DI}
DIAGRAM = re.compile(r"\n?[ \t]*<(\w+:)?BPMNDiagram\b.*?</(\w+:)?BPMNDiagram>", re.S)


def _number(value: float) -> str:
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"


def _bounds(x: float, y: float, w: float, h: float) -> str:
    return f'<dc:Bounds x="{_number(x)}" y="{_number(y)}" width="{_number(w)}" height="{_number(h)}" />'


def diagram(xml: bytes) -> str:
    """The ``bpmndi:BPMNDiagram`` element for the file's executable process, as text."""
    root = etree.fromstring(xml, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    process = next(p for p in root.iter(f"{{{BPMN}}}process") if p.get("isExecutable") == "true")
    shapes, edges = auto_layout(process)
    participant = next(
        (p for p in root.iter(f"{{{BPMN}}}participant") if p.get("processRef") == process.get("id")), None
    )
    kinds = {el.get("id"): etree.QName(el.tag).localname for el in process.iter() if isinstance(el.tag, str)}
    plane = process.get("id")
    lines = []
    if participant is not None:
        plane = participant.getparent().get("id")
        width = max(x + w for x, y, w, h in shapes.values()) + 20
        height = max(y + h for x, y, w, h in shapes.values())
        lines.append((participant.get("id"), _bounds(0, 0, width, height)))
        # Lanes reach the pool's right edge, so the pool has no strip without a lane.
        shapes = {
            k: (x, y, width - POOL_HEADER, h) if kinds.get(k) == "lane" else (x, y, w, h)
            for k, (x, y, w, h) in shapes.items()
        }
    lines += [(element_id, _bounds(*bounds)) for element_id, bounds in shapes.items()]
    out = [
        f'  <bpmndi:BPMNDiagram id="{plane}_diagram">',
        f'    <bpmndi:BPMNPlane id="{plane}_plane" bpmnElement="{plane}">',
    ]
    for element_id, bounds in lines:
        kind = kinds.get(element_id, "participant")
        horizontal = ' isHorizontal="true"' if kind in {"participant", "lane"} else ""
        out.append(f'      <bpmndi:BPMNShape id="{element_id}_di" bpmnElement="{element_id}"{horizontal}>')
        out.append(f"        {bounds}")
        if kind in EVENTS or kind.endswith("Gateway"):  # their names are written below them
            x, y, w, h = shapes[element_id]
            out.append(
                f"        <bpmndi:BPMNLabel>{_bounds(x - 22, y + h + 4, w + 44, 27)}</bpmndi:BPMNLabel>"
            )
        out.append("      </bpmndi:BPMNShape>")
    for flow_id, points in edges:
        if not flow_id:
            continue
        out.append(f'      <bpmndi:BPMNEdge id="{flow_id}_di" bpmnElement="{flow_id}">')
        out.extend(f'        <di:waypoint x="{_number(px)}" y="{_number(py)}" />' for px, py in points)
        out.append("      </bpmndi:BPMNEdge>")
    out += ["    </bpmndi:BPMNPlane>", "  </bpmndi:BPMNDiagram>"]
    return "\n".join(out)


def with_diagram(text: str, force: bool = False) -> str:
    """The file's text with a generated diagram; unchanged if it has one and ``force`` is off."""
    if DIAGRAM.search(text):
        if not force:
            return text
        text = DIAGRAM.sub("", text)
    root_tag = re.search(r"<(\w+:)?definitions\b", text)
    if root_tag is None:
        raise ValueError("no definitions element")
    declared = text[root_tag.end() : text.index(">", root_tag.end())]
    indent = " " * (root_tag.end() - text.rfind("\n", 0, root_tag.start()))  # under the first attribute
    missing = "".join(
        f'\n{indent}xmlns:{prefix}="{uri}"'
        for prefix, uri in NAMESPACES.items()
        if f"xmlns:{prefix}=" not in declared
    )
    # After the root tag's first line, among the other namespace declarations.
    at = min(text.index("\n", root_tag.end()), text.index(">", root_tag.end()))
    text = text[:at] + missing + text[at:]
    closing = text.rindex("</")
    body = diagram(text.encode("utf-8"))
    return text[:closing].rstrip("\n") + "\n" + body + "\n" + text[closing:]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--force", action="store_true", help="redraw files that already have a diagram")
    args = parser.parse_args()
    for path in args.files or sorted(PROCESSES.glob("*.bpmn")):
        text = path.read_text(encoding="utf-8")
        new = with_diagram(text, args.force)
        if new != text:
            path.write_text(new, encoding="utf-8")
            print(f"{path}: diagram written")


if __name__ == "__main__":
    main()
