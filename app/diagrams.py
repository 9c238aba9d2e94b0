"""Server-side SVG diagrams of a process, optionally with a case's progress highlighted.

Drawn from the file's BPMN DI (shapes, lanes, edges) when it has one; files written by hand
without DI get a simple automatic layout: lanes as bands, steps in columns by their distance
from the start (the same layout scripts/add_bpmn_di.py writes into the shipped files as DI).
Element ids are kept on the shapes (``data-element-id``), so portals can style or link them.
Browsers show processes with bpmn-js (``for_viewer``); this SVG is for the A4 sheet and pages
without scripts.
"""

from collections import deque
from collections.abc import Set as AbstractSet
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
.participant rect { fill: none; stroke: #333; } .participant text { font-size: 13px; font-weight: bold; }
.group rect { fill: none; stroke: #777; stroke-dasharray: 8 4 1 4; } .group text { font-size: 12px; fill: #555; }
.lane rect { fill: #fafafa; stroke: #999; } .lane text { font-size: 12px; fill: #555; }
.node { fill: #fff; stroke: #333; stroke-width: 1.5; } .label { font-size: 11px; text-anchor: middle; }
.flow { fill: none; stroke: #555; stroke-width: 1.2; marker-end: url(#arrow); }
.done .node { fill: #e3f4e1; stroke: #2e7d32; } .current .node { fill: #fff3e0; stroke: #e65100; stroke-width: 3; }
"""


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def _kind(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""  # comments and processing instructions


def _layout_from_di(root: etree._Element) -> tuple[dict, list] | None:
    bounds = {s.get("bpmnElement"): s.find(f"{{{DC}}}Bounds") for s in root.iter(f"{{{BPMNDI}}}BPMNShape")}
    shapes = {
        k: tuple(float(b.get(a) or 0) for a in ("x", "y", "width", "height"))
        for k, b in bounds.items()
        if b is not None
    }
    if not shapes:
        return None
    edges = [
        (
            e.get("bpmnElement"),
            [(float(w.get("x") or 0), float(w.get("y") or 0)) for w in e.iter(f"{{{DI}}}waypoint")],
        )
        for e in root.iter(f"{{{BPMNDI}}}BPMNEdge")
    ]
    return shapes, edges


POOL_HEADER = 30  # the pool's name is written in a band this wide, left of its lanes
LEFT, COLUMN = 130, 150  # steps stand in columns, at least 25 px from a column's edges


def auto_layout(process: etree._Element) -> tuple[dict, list]:
    """Shapes ``{id: (x, y, width, height)}`` for the process's steps and lanes, and edges
    ``[(flow id, [(x, y), ...])]`` routed at right angles; flows going back run under their steps."""
    nodes = {
        el.get("id") or "": _kind(el.tag)
        for el in process
        if _kind(el.tag) in TASKS | EVENTS | GATEWAYS and el.get("id")
    }
    flows = [
        (f.get("id"), f.get("sourceRef"), f.get("targetRef")) for f in process.iter(f"{{{BPMN}}}sequenceFlow")
    ]
    for boundary in process.iter(f"{{{BPMN}}}boundaryEvent"):
        flows.append((None, boundary.get("attachedToRef"), boundary.get("id")))
    lanes = [
        (lane.get("id") or "", [r.text for r in lane.iter(f"{{{BPMN}}}flowNodeRef")])
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
    column, row_height = COLUMN, 80
    slots: dict[str, int] = {}
    stacked: dict[tuple[int, int], int] = {}
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
    width = LEFT + (max(depth.values(), default=0) + 1) * column
    shapes = {}
    for node, kind in nodes.items():
        row = lane_of.get(node, len(lanes))
        w, h = (100, 60) if kind in TASKS else (36, 36) if kind in EVENTS else (50, 50)
        x = LEFT + depth[node] * column + (column - w) / 2
        y = tops[row] + 20 + slots[node] * row_height + (row_height - h) / 2
        shapes[node] = (x, y, w, h)
    for i, (lane_id, _) in enumerate(lanes):
        shapes[lane_id] = (POOL_HEADER, tops[i], width - POOL_HEADER, heights[i])
    edges: list[tuple[str | None, list[tuple[float, float]]]] = []
    backs: dict[int, int] = {}
    for flow_id, source, target in flows:
        if source in shapes and target in shapes:
            # A flow going back runs along the free strip at the bottom of its source's lane,
            # a few pixels apart from the others there.
            row = lane_of.get(source, len(lanes))
            if depth[target] <= depth[source]:
                backs[row] = backs.get(row, 0) + 1
            strip = tops[row] + heights[row] - 5 - 5 * (backs.get(row, 0) % 3)
            edges.append((flow_id, _route(shapes[source], shapes[target], strip)))
    return shapes, edges


def _column_start(x: float) -> float:
    return LEFT + (x - LEFT) // COLUMN * COLUMN


def _route(source: tuple[float, ...], target: tuple[float, ...], strip: float) -> list[tuple[float, float]]:
    """Right angles, turning in the gaps between columns, where no step stands."""
    (sx, sy, sw, sh), (tx, ty, _, th) = source, target
    start, end = (sx + sw, sy + sh / 2), (tx, ty + th / 2)
    if _column_start(tx) > _column_start(sx):
        if start[1] == end[1]:
            return [start, end]
        middle = _column_start(tx)
        return [start, (middle, start[1]), (middle, end[1]), end]
    out, back = _column_start(sx) + COLUMN - 8, _column_start(tx) + 8
    return [start, (out, start[1]), (out, strip), (back, strip), (back, end[1]), end]


def _lane_role(lane: etree._Element) -> str:
    """A lane's role key: its ``role`` property, or its name in files written before lanes were
    named in Chinese (docs/bpmn.md)."""
    for prop in lane.iterfind("./{*}extensionElements/{*}properties/{*}property"):
        if prop.get("name") == "role" and prop.get("value"):
            return prop.get("value") or ""
    return lane.get("name") or ""


def _shown_name(element: etree._Element) -> str:
    """A lane named by its role key (``township_civil_affairs``, older files) shows the role's
    Chinese name (乡镇（街道）民政); every other name as written."""
    name = element.get("name") or ""
    if _kind(element.tag) == "group" and element.get(
        "categoryValueRef"
    ):  # a group is named by its category value
        ref = element.get("categoryValueRef")
        value = next(
            (v for v in element.getroottree().iter(f"{{{BPMN}}}categoryValue") if v.get("id") == ref), None
        )
        return (value.get("value") or "") if value is not None else ""
    if _kind(element.tag) == "lane" and role_level(name) is not None:
        return role_label(name)
    return name


def render(
    xml: str, completed: AbstractSet[str] = frozenset(), current: AbstractSet[str] = frozenset()
) -> str:
    root = etree.fromstring(xml.encode("utf-8"), parser=_parser())
    process = next(p for p in root.iter(f"{{{BPMN}}}process") if p.get("isExecutable") == "true")
    elements = {el.get("id"): el for el in root.iter() if el.get("id")}
    shapes, edges = _layout_from_di(root) or auto_layout(process)
    width = max((x + w for x, y, w, h in shapes.values()), default=100) + 20
    height = max((y + h for x, y, w, h in shapes.values()), default=100) + 20
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'width="{width:.0f}" height="{height:.0f}" font-family="sans-serif">',
        f"<style>{STYLE}</style>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" '
        'orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>',
    ]
    # Pools, then lanes, then steps: what is drawn later lies on top.
    layer = {"participant": 0, "lane": 1, "group": 3}  # a group is a frame: over its steps, not hiding them
    ordered = sorted(
        shapes.items(),
        key=lambda item: layer.get(_kind(elements[item[0]].tag), 2) if item[0] in elements else 2,
    )
    for element_id, (x, y, w, h) in ordered:
        element = elements.get(element_id)
        if element is None:
            continue
        kind, name = _kind(element.tag), escape(_shown_name(element))
        state = "done" if element_id in completed else "current" if element_id in current else ""
        attrs = f'id="shape-{escape(element_id)}" data-element-id="{escape(element_id)}" class="{(kind + " " + state).strip()}"'
        if kind == "participant":
            out.append(
                f'<g {attrs}><rect x="{x}" y="{y}" width="{w}" height="{h}"/>'
                f'<text x="{x + 20}" y="{y + h / 2}" transform="rotate(-90 {x + 20} {y + h / 2})" '
                f'text-anchor="middle">{name}</text></g>'
            )
        elif kind == "group":
            out.append(
                f'<g {attrs}><rect x="{x}" y="{y}" width="{w}" height="{h}" rx="6"/>'
                f'<text x="{x + 8}" y="{y + 16}">{name}</text></g>'
            )
        elif kind == "lane":
            role = _lane_role(element)
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


def for_viewer(xml: str) -> str:
    """The definition as bpmn-js shows it: lanes named by their roles' Chinese names (shipped files
    name them so; a version from before keeps the role key as the lane's name, docs/bpmn.md)."""
    root = etree.fromstring(xml.encode("utf-8"), parser=_parser())
    for lane in root.iter(f"{{{BPMN}}}lane"):
        lane.set("name", _shown_name(lane))
    return etree.tostring(root, encoding="unicode")


def notice_steps(xml: str) -> list[str]:
    """Ids of the elements that post a public notice (a ``notice`` property set to true)."""
    root = etree.fromstring(xml.encode("utf-8"), parser=_parser())
    found = []
    for prop in root.iter("{*}property"):
        # property → properties → extensionElements → the element carrying them
        holder = next(
            (a for a in prop.iterancestors() if _kind(a.tag) not in {"properties", "extensionElements"}), None
        )
        if prop.get("name") == "notice" and prop.get("value") == "true" and holder is not None:
            found.append(holder.get("id") or "")
    return found


async def progress(conn: AsyncConnection, application_id: str) -> tuple[set[str], set[str]]:
    """The steps (and waits) a case went through, and those it is at now."""
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
    return completed, current - completed


async def of_application(conn: AsyncConnection, application_id: str, xml: str) -> str:
    """The case's version, with the steps it went through and where it stands now."""
    completed, current = await progress(conn, application_id)
    return render(xml, completed, current)
