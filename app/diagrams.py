"""Server-side SVG diagrams of a process, optionally with a case's progress highlighted.

Drawn from the file's BPMN DI (shapes, lanes, edges) when it has one; files written by hand
without DI get a simple automatic layout: lanes as bands, steps in columns by their distance
from the start.  Element ids are kept on the shapes (``data-element-id``), so portals can
style or link them.
"""

from collections import deque
from html import escape

import sqlalchemy as sa
from lxml import etree
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.models import tasks, timers
from app.domain.people.divisions import role_level
from app.domain.people.roles import role_label

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
DI = "http://www.omg.org/spec/DD/20100524/DI"
TASKS = {
    "userTask",
    "task",
    "scriptTask",
    "serviceTask",
    "manualTask",
    "sendTask",
    "receiveTask",
    "businessRuleTask",
    "callActivity",
    "subProcess",
}
EVENTS = {"startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent"}
GATEWAYS = {"exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway", "complexGateway"}
STYLE = """
.lane rect { fill: #fafafa; stroke: #999; } .lane text { font-size: 12px; fill: #555; }
.node { fill: #fff; stroke: #333; stroke-width: 1.5; } .label { font-size: 11px; text-anchor: middle; }
.flow { fill: none; stroke: #555; stroke-width: 1.2; marker-end: url(#arrow); }
.done .node { fill: #e3f4e1; stroke: #2e7d32; } .current .node { fill: #fff3e0; stroke: #e65100; stroke-width: 3; }
"""


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def _kind(tag) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""  # comments and processing instructions


def _layout_from_di(root) -> tuple[dict, list] | None:
    shapes = {s.get("bpmnElement"): s.find(f"{{{DC}}}Bounds") for s in root.iter(f"{{{BPMNDI}}}BPMNShape")}
    shapes = {
        k: tuple(float(b.get(a)) for a in ("x", "y", "width", "height"))
        for k, b in shapes.items()
        if b is not None
    }
    if not shapes:
        return None
    edges = [
        (e.get("bpmnElement"), [(float(w.get("x")), float(w.get("y"))) for w in e.iter(f"{{{DI}}}waypoint")])
        for e in root.iter(f"{{{BPMNDI}}}BPMNEdge")
    ]
    return shapes, edges


def _auto_layout(process) -> tuple[dict, list]:
    nodes = {
        el.get("id"): _kind(el.tag)
        for el in process
        if _kind(el.tag) in TASKS | EVENTS | GATEWAYS and el.get("id")
    }
    flows = [
        (f.get("id"), f.get("sourceRef"), f.get("targetRef")) for f in process.iter(f"{{{BPMN}}}sequenceFlow")
    ]
    for boundary in process.iter(f"{{{BPMN}}}boundaryEvent"):
        flows.append((None, boundary.get("attachedToRef"), boundary.get("id")))
    lanes = [
        (lane.get("id"), [r.text for r in lane.iter(f"{{{BPMN}}}flowNodeRef")])
        for lane in process.iter(f"{{{BPMN}}}lane")
    ]
    lane_of = {node: i for i, (_, refs) in enumerate(lanes) for node in refs}
    depth, queue = {}, deque(n for n, kind in nodes.items() if kind == "startEvent")
    for start in queue:
        depth[start] = 0
    while queue:
        node = queue.popleft()
        for _, source, target in flows:
            if source == node and target in nodes and target not in depth:
                depth[target] = depth[node] + 1
                queue.append(target)
    for node in nodes:
        depth.setdefault(node, max(depth.values(), default=0) + 1)
    column, row_height = 150, 80
    slots, stacked = {}, {}
    for node in sorted(nodes, key=lambda n: depth[n]):
        key = (lane_of.get(node, len(lanes)), depth[node])
        slots[node] = stacked.get(key, 0)
        stacked[key] = slots[node] + 1
    rows = len(lanes) + 1
    heights = [
        max([1] + [count for (row, _), count in stacked.items() if row == r]) * row_height + 40
        for r in range(rows)
    ]
    tops = [sum(heights[:r]) for r in range(rows)]
    width = 130 + (max(depth.values(), default=0) + 1) * column
    shapes = {}
    for node, kind in nodes.items():
        row = lane_of.get(node, len(lanes))
        w, h = (100, 60) if kind in TASKS else (36, 36) if kind in EVENTS else (50, 50)
        x = 130 + depth[node] * column + (column - w) / 2
        y = tops[row] + 20 + slots[node] * row_height + (row_height - h) / 2
        shapes[node] = (x, y, w, h)
    for i, (lane_id, _) in enumerate(lanes):
        shapes[lane_id] = (0, tops[i], width, heights[i])
    edges = []
    for flow_id, source, target in flows:
        if source in shapes and target in shapes:
            (sx, sy, sw, sh), (tx, ty, _, th) = shapes[source], shapes[target]
            edges.append((flow_id, [(sx + sw, sy + sh / 2), (tx, ty + th / 2)]))
    return shapes, edges


def _shown_name(element) -> str:
    """A lane named by its role key (``township_civil_affairs``, see docs/bpmn.md) shows the role's
    Chinese name (乡镇（街道）民政); every other name as written."""
    name = element.get("name") or ""
    if _kind(element.tag) == "lane" and role_level(name) is not None:
        return role_label(name)
    return name


def render(xml: str, completed: set[str] = frozenset(), current: set[str] = frozenset()) -> str:
    root = etree.fromstring(xml.encode("utf-8"), parser=_parser())
    process = next(p for p in root.iter(f"{{{BPMN}}}process") if p.get("isExecutable") == "true")
    elements = {el.get("id"): el for el in root.iter() if el.get("id")}
    shapes, edges = _layout_from_di(root) or _auto_layout(process)
    width = max((x + w for x, y, w, h in shapes.values()), default=100) + 20
    height = max((y + h for x, y, w, h in shapes.values()), default=100) + 20
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'width="{width:.0f}" height="{height:.0f}" font-family="sans-serif">',
        f"<style>{STYLE}</style>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" '
        'orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>',
    ]
    ordered = sorted(
        shapes.items(),
        key=lambda item: _kind(elements[item[0]].tag) != "lane" if item[0] in elements else True,
    )
    for element_id, (x, y, w, h) in ordered:
        element = elements.get(element_id)
        if element is None:
            continue
        kind, name = _kind(element.tag), escape(_shown_name(element))
        state = "done" if element_id in completed else "current" if element_id in current else ""
        attrs = f'id="shape-{escape(element_id)}" data-element-id="{escape(element_id)}" class="{(kind + " " + state).strip()}"'
        if kind == "lane":
            role = element.get("name") or ""
            attrs += f' data-role="{escape(role)}"' if role_level(role) is not None else ""
            out.append(
                f'<g {attrs}><rect x="{x}" y="{y}" width="{w}" height="{h}"/>'
                f'<text x="{x + 8}" y="{y + 18}">{name}</text></g>'
            )
        elif kind in EVENTS:
            r = min(w, h) / 2
            stroke = ' stroke-width="3"' if kind == "endEvent" else ""
            out.append(
                f'<g {attrs}><circle class="node" cx="{x + r}" cy="{y + r}" r="{r}"{stroke}/>'
                f'<text class="label" x="{x + r}" y="{y + h + 14}">{name}</text></g>'
            )
        elif kind in GATEWAYS:
            cx, cy = x + w / 2, y + h / 2
            out.append(
                f'<g {attrs}><polygon class="node" points="{cx},{y} {x + w},{cy} {cx},{y + h} {x},{cy}"/>'
                f'<text class="label" x="{cx}" y="{y + h + 14}">{name}</text></g>'
            )
        else:
            out.append(
                f'<g {attrs}><rect class="node" x="{x}" y="{y}" width="{w}" height="{h}" rx="8"/>'
                f'<text class="label" x="{x + w / 2}" y="{y + h / 2 + 4}">{name}</text></g>'
            )
    for flow_id, points in edges:
        if len(points) >= 2:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
            out.append(f'<polyline class="flow" data-element-id="{escape(flow_id or "")}" points="{path}"/>')
    out.append("</svg>")
    return "\n".join(out)


async def of_application(conn: AsyncConnection, application_id: str, xml: str) -> str:
    """The case's version, with the steps it went through and where it stands now."""
    rows = (
        await conn.execute(
            sa.select(tasks.c.name, tasks.c.state).where(tasks.c.application_id == application_id)
        )
    ).all()
    waits = (
        await conn.execute(
            sa.select(timers.c.name, timers.c.fired_at, timers.c.cancelled).where(
                timers.c.application_id == application_id
            )
        )
    ).all()
    completed = {r.name for r in rows if r.state == "completed"} | {
        w.name for w in waits if w.fired_at and not w.cancelled
    }
    current = {r.name for r in rows if r.state == "open"} | {w.name for w in waits if w.fired_at is None}
    return render(xml, completed, current - completed)
