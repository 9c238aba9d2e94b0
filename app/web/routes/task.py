"""The task page (/ui/tasks/{id}): the step's form from its JSON Schema, the case beside it, decide.

通过/不通过 are the values of the form's decision enum (their ``x-labels``), submitted as buttons.
The form is checked against the step's schema first (messages in Chinese, nothing changed),
then ``domain.tasks.complete`` checks everything again in its transaction.
"""

from urllib.parse import urlencode

from fastapi import APIRouter
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from app.domain.cases import lookup
from app.domain.errors import DomainError, Invalid
from app.domain.materials import attachments
from app.domain.people import divisions
from app.domain.people.directory import Directory
from app.domain.programs import definitions
from app.domain.tasks import candidates, step_signatures
from app.domain.tasks import worklist as tasks
from app.web import capabilities, drafts, labels, schema_form
from app.web.context import WebCtx
from app.web.render import flash, page

router = APIRouter()
_APPROVING = ("approve", "accept", "agree", "continue")
_REFUSING = ("refuse", "incomplete", "disagree", "terminate")


def decision_buttons(schema: dict | None) -> tuple[str | None, list[dict]]:
    name = schema_form.decision_field(schema)
    if name is None:
        return None, [{"value": None, "label": "办理完成", "style": "primary"}]
    field = next(f for f in schema_form.fields_of(schema) if f.name == name)
    buttons = []
    for value, label in field.options:
        if value in _APPROVING:
            buttons.append({"value": value, "label": f"通过（{label}）", "style": "approve"})
        elif value in _REFUSING:
            buttons.append({"value": value, "label": f"不通过（{label}）", "style": "refuse"})
        else:
            buttons.append({"value": value, "label": label, "style": "primary"})
    return name, buttons


def opinions(events: list[dict], definition, directory: Directory) -> list[dict]:
    """Earlier decisions of the case: who (as a person) decided which step, when, with what opinion."""
    result = []
    for event in events:
        if event["type"] in (
            "task.resolved",
            "task.signed",
        ):  # 委派 opinions and signatures (reviewer actions)
            step = definition.model.steps.get(event["task"])
            data = event["data"] or {}
            entries = [
                (
                    "结论",
                    {"approve": "通过", "refuse": "不通过"}.get(
                        data.get("decision") or "", data.get("decision")
                    ),
                )
            ]
            entries = [e for e in entries if e[1]] + (
                [("意见", data["opinion"])] if data.get("opinion") else []
            )
            result.append(
                {
                    "at": event["at"],
                    "actor": directory.text(event["actor"]),
                    "entries": entries,
                    "step": f"{step.title if step else event['task']}（{labels.EVENTS[event['type']]}）",
                }
            )
            continue
        if event["type"] != "task.completed":
            continue
        step = definition.model.steps.get(event["task"])
        schema = definition.form_for_step(event["task"]) if step else None
        shown = {f.name: f for f in schema_form.fields_of(schema)}
        items = []
        for key, value in (event["data"] or {}).items():
            f = shown.get(key)
            if f is None or f.kind == "rows":
                continue
            text = dict(f.options).get(str(value).lower() if isinstance(value, bool) else str(value), value)
            items.append((f.label, "、".join(map(str, text)) if isinstance(text, list) else text))
        result.append(
            {
                "at": event["at"],
                "actor": directory.text(event["actor"]),
                "step": step.title if step else event["task"],
                "entries": items,
            }
        )
    return result


# The task page's reviewer actions that choose people, and the candidates' action for each.
PICKED = {"transfer": "transfer", "delegate": "delegate", "signers": "add_signer", "cc": "copy"}


async def _pickers(conn, me, task_id: str, actions: list[dict]) -> dict[str, list[dict]]:
    """For each offered action that chooses people, whom it may choose (see ``tasks.candidates``)."""
    found = {}
    for action in actions:
        if action["key"] in PICKED:
            try:
                found[action["key"]] = await candidates.of_task(
                    conn, me.principal, task_id, PICKED[action["key"]]
                )
            except DomainError:
                found[action["key"]] = []
    return found


def picker_groups(people: list[dict]) -> list[tuple[str, list[dict]]]:
    """Candidates grouped by place and department (濉溪镇 · 乡镇（街道）民政), nearest place first."""
    groups: dict[str, list[dict]] = {}
    for person in people:
        groups.setdefault(f"{person['place']} · {person['role_label']}", []).append(person)
    return list(groups.items())


async def _return_targets(conn, me, view: dict) -> list[dict]:
    """Earlier steps a case may be returned to (退回), when that action exists and applies."""
    found = capabilities.resolve("return")
    targets = capabilities.domain_attr("app.domain.tasks.actions", "return_targets")
    if found is None or targets is None or view["state"] != "open" or view["assignee"] != me.name:
        return []
    try:
        return await targets(conn, me.principal, view["id"])
    except DomainError:
        return []


async def _task_page(
    ctx,
    conn,
    me,
    task_id: str,
    *,
    status: int = 200,
    errors: dict | None = None,
    raw: dict | None = None,
    error: str = "",
):
    view = await tasks.get(conn, me.principal, task_id)
    app = view["application"]
    definition = await definitions.by_id(
        conn, (await lookup.load_row(conn, me.principal, app["id"]))["definition_id"]
    )
    place = await divisions.lookup(conn, [view["division_code"], app["division_code"]])
    path = place.get(view["division_code"], {}).get("path", "/")
    can_act = me.principal.can_act(view["role"], path)
    schema = view["form_schema"]
    fields = schema_form.fields_of(schema)
    decision, buttons = decision_buttons(schema)
    raw = dict(raw or {})
    materials_panel = await attachments.panel(conn, me.principal, app["id"])
    missing = materials_panel["checklist"]["missing"] if materials_panel else []
    # 材料不齐 chosen without a list: the form comes back with the checklist's missing items proposed
    # as the one-time notice (一次性告知), for the reviewer to confirm or change.
    errors = dict(errors or {})
    if raw.get("decision") == "incomplete" and not str(raw.get("missing_materials", "")).strip():
        raw["missing_materials"] = "\n".join(missing)
        if missing and "missing_materials" in errors:
            errors["missing_materials"] += "。已按材料清单列出缺少的必交材料，请核对后再次提交"
    for f in fields:  # answering objections: one row per open objection, its number filled in
        if f.kind == "rows" and f.name == "objection_outcomes" and f.name not in raw:
            raw[f.name] = [
                {"objection_number": o["number"], "outcome": "", "reply": ""}
                for o in view.get("objections", [])
            ]
    directory = Directory()
    events = await lookup.timeline(
        conn,
        me.principal,
        app["id"],
        internal=False,
        directory=directory,
        personal=app["personal_data"] == "full",  # decided with the task (tasks.get)
    )
    await directory.load(conn, (view["assignee"], view["delegated_to"], view["completed_by"]))
    actions = capabilities.enabled_actions(*await capabilities.situations(conn, me, view, can_act))
    return page(
        ctx.request,
        "task.html",
        status,
        me=me,
        csrf=ctx.csrf,
        nav="inbox",
        task=view,
        app=app,
        program_name=definition.name,
        place=place,
        can_act=can_act,
        fields=fields,
        decision=decision,
        buttons=list(buttons),
        errors=errors,
        raw=raw,
        error=error,
        opinions=opinions(events, definition, directory),
        person=directory.text,
        actions=actions,
        pickers=await _pickers(conn, me, task_id, actions),
        picker_groups=picker_groups,
        return_targets=await _return_targets(conn, me, view),
        application_form=schema_form.fields_of(definition.application_form),
        materials_panel=materials_panel,
        signatures=await step_signatures.of_task(conn, me.principal, view["id"])
        if view["state"] == "open"
        else None,
        upload_task=view["id"] if can_act and view["state"] == "open" else None,
    )


@router.get("/tasks/{task_id}")
async def show(ctx: WebCtx, task_id: str):
    async with ctx.begin() as (conn, me):
        draft = await drafts.recall(ctx, conn)  # a refused completion: its values and messages
        return await _task_page(
            ctx,
            conn,
            me,
            task_id,
            status=int(draft.get("status", 200)),
            errors=draft.get("errors"),
            raw=draft.get("raw"),
            error=str(draft.get("error", "")),
        )


@router.post("/tasks/{task_id}/complete")
async def complete(ctx: WebCtx, task_id: str):
    form = await ctx.form()
    async with ctx.begin() as (conn, me):
        view = await tasks.get(conn, me.principal, task_id)
        schema = view["form_schema"]
        data, errors, raw = schema_form.parse(schema, form)
        errors = {**schema_form.explain(schema, data), **errors}
        labelled = {f.name: f.label for f in schema_form.fields_of(schema)}
    here = f"/ui/tasks/{task_id}"
    if errors:
        body = {
            "status": 422,
            "errors": errors,
            "raw": raw,
            "error": "表单填写有误，请按红字提示修改后再提交。",
        }
        return await drafts.redirect(ctx, here, body)
    try:
        async with ctx.begin() as (conn, me):
            result = await tasks.complete(conn, me.principal, task_id, data)
    except DomainError as exc:
        message = labels.problem(exc, labelled)
        field = exc.extra.get("field")  # an amount the rules refuse: said beside its field too
        beside = {str(field): message} if isinstance(field, str) and field in labelled else {}
        body = {"status": exc.status, "errors": beside, "raw": raw, "error": message}
        return await drafts.redirect(ctx, here, body)
    status = labels.STATUSES.get(result["application"]["status"], "")
    nxt = "、".join(t["title"] for t in result["next_tasks"]) or status
    msg = f"已办结：{view['title']}。案件进入：{nxt}" if nxt else f"已办结：{view['title']}"
    return RedirectResponse(
        "/ui/?" + urlencode({"scope": "mine", **flash(ctx.request, msg)}), status_code=303
    )


@router.post("/tasks/{task_id}/claim")
async def claim(ctx: WebCtx, task_id: str):
    await ctx.form()
    try:
        async with ctx.begin() as (conn, me):
            await tasks.claim(conn, me.principal, task_id)
        msg = "已认领，请办理。"
    except DomainError as exc:
        msg = labels.problem(exc)
    return RedirectResponse(f"/ui/tasks/{task_id}?" + urlencode({**flash(ctx.request, msg)}), status_code=303)


@router.post("/tasks/{task_id}/actions/{action}")
async def reviewer_action(ctx: WebCtx, task_id: str, action: str):
    """退回, 转办, 委派, 加签, 抄送, 催办, 撤回 through the reviewer-actions domain functions, with the same
    body models as their REST routes; offered only when they exist (``capabilities``)."""
    form = await ctx.form()
    found = capabilities.resolve(action)
    if found is None:
        raise Invalid("action_unavailable", f"the action {action!r} is not available")
    function, model = found
    label, fields = capabilities.REVIEWER_ACTIONS[action][0], capabilities.REVIEWER_ACTIONS[action][4]
    values: dict[str, str | list[str]] = {}
    for name in fields:
        value = str(form.get(name, "")).strip()
        if name == "usernames":  # chosen in a multiple <select>, or typed with commas by hand
            chosen = [str(v) for v in form.getlist(name)]
            values[name] = [v.strip() for c in chosen for v in c.replace("，", ",").split(",") if v.strip()]
        elif value:
            values[name] = value
    try:
        args = (model(**values),) if model is not None else ()
        async with ctx.begin() as (conn, me):
            await function(conn, me.principal, task_id, *args)
        msg = f"已{label}"
    except ValidationError:
        msg = f"{label}：请把" + "、".join(capabilities.FIELD_LABELS[f] for f in fields) + "填写完整"
    except DomainError as exc:
        msg = labels.problem(exc)
    return RedirectResponse(f"/ui/tasks/{task_id}?" + urlencode({**flash(ctx.request, msg)}), status_code=303)


@router.post("/tasks/{task_id}/unclaim")
async def unclaim(ctx: WebCtx, task_id: str):
    await ctx.form()
    async with ctx.begin() as (conn, me):
        await tasks.unclaim(conn, me.principal, task_id)
    return RedirectResponse(
        "/ui/?" + urlencode({**flash(ctx.request, "已放弃认领，任务回到待认领。")}), status_code=303
    )
