"""Bulk completion (/ui/bulk/{program}/{step}): one shared decision and opinion for several claimed
tasks of one step. Each case is still its own transaction and audit trail; results are per case.

Only steps whose form needs nothing case-specific allow it (``schema_form.bulk_fields``): a
decision, an opinion and texts required by the decision (e.g. the reason for a refusal).
"""

from typing import Any

from fastapi import APIRouter

from app.domain.cases import lookup
from app.domain.errors import DomainError, Invalid
from app.domain.programs import definitions
from app.domain.tasks import worklist as tasks
from app.web import drafts, labels, schema_form
from app.web.context import WebCtx
from app.web.render import page
from app.web.routes.inbox import case_number
from app.web.routes.task import decision_buttons

router = APIRouter()
MAX_BULK = 100


async def _claimed(conn, me, program: str, step: str) -> tuple[dict | None, list[dict], object]:
    definition = await definitions.latest(conn, program)
    if step not in definition.model.steps:
        raise Invalid("unknown_step", f"{program} has no step {step!r}")
    schema = definition.form_for_step(step)
    result = await tasks.inbox(
        conn,
        me.principal,
        scope="mine",
        program=program,
        division_code=None,
        overdue=None,
        state=None,
        limit=200,
        offset=0,
    )
    rows = [t for t in result["items"] if t["name"] == step]
    people = await lookup.applicants(conn, [t["application_id"] for t in rows])
    for t in rows:
        t["case_number"] = case_number(t)
        t["applicant"] = (people.get(t["application_id"]) or {}).get("name", "")
    return schema, rows, definition


def _page(ctx, me, schema, rows, definition, step, status=200, **extra):
    fields = schema_form.bulk_fields(schema)
    decision, buttons = decision_buttons(schema)
    extra.setdefault("errors", {})
    extra.setdefault("raw", {})
    extra.setdefault("results", None)
    extra.setdefault("chosen", set())
    return page(
        ctx.request,
        "bulk.html",
        status,
        me=me,
        csrf=ctx.csrf,
        nav="inbox",
        rows=rows,
        fields=fields or [],
        allowed=fields is not None,
        decision=decision,
        buttons=buttons,
        program_name=definition.name,
        step_title=definition.model.steps[step].title,
        action=ctx.request.url.path,
        **extra,
    )


@router.get("/bulk/{program}/{step}")
async def show(ctx: WebCtx, program: str, step: str):
    async with ctx.begin() as (conn, me):
        schema, rows, definition = await _claimed(conn, me, program, step)
        draft = await drafts.recall(ctx, conn)  # a refused form, or the results of the last submit
    chosen = draft.get("chosen")
    if isinstance(chosen, list):  # the ticked rows stay ticked
        draft["chosen"] = {str(c) for c in chosen}
    status = drafts.status(draft)
    draft.pop("status", None)
    return _page(ctx, me, schema, rows, definition, step, status, **draft)


@router.post("/bulk/{program}/{step}")
async def complete(ctx: WebCtx, program: str, step: str):
    form = await ctx.form()
    chosen = [str(i) for i in form.getlist("task_id")][:MAX_BULK]
    async with ctx.begin() as (conn, me):
        schema, rows, _ = await _claimed(conn, me, program, step)
    fields = schema_form.bulk_fields(schema)
    if schema is None or fields is None:  # (no schema has no bulk fields)
        raise Invalid(
            "bulk_not_allowed", "this step needs case-specific data; complete each task on its own page"
        )
    shared = {"properties": {f.name: schema["properties"][f.name] for f in fields}}
    data, errors, raw = schema_form.parse({**schema, **shared}, form)
    errors = {**schema_form.explain(schema, data), **errors}
    if not chosen:
        errors["_tasks"] = "请勾选要办理的任务"
    here = ctx.request.url.path
    if errors:
        body = {"status": 422, "errors": errors, "raw": raw, "chosen": chosen}
        return await drafts.redirect(ctx, here, {**body, "error": "表单填写有误，没有办理任何任务。"})
    titles = {t["id"]: {"case_number": t["case_number"], "applicant": t["applicant"]} for t in rows}
    results: list[dict[str, Any]] = []
    for task_id in chosen:  # one transaction per case: one refusal by the rules stops no other case
        try:
            async with ctx.begin() as (conn, me):
                await tasks.complete(conn, me.principal, task_id, data)
            results.append({"task": titles.get(task_id), "id": task_id, "ok": True, "message": "已办结"})
        except DomainError as exc:
            results.append(
                {
                    "task": titles.get(task_id),
                    "id": task_id,
                    "ok": False,
                    "message": labels.problem(exc),
                }
            )
    done = sum(r["ok"] for r in results)
    summary = f"办结{done}件" + (f"，{len(results) - done}件未能办结" if done < len(results) else "")
    return await drafts.redirect(ctx, here, {"results": results, "summary": summary})
