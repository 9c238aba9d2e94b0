"""Actions that move a case back: 退回 (return to an earlier step), 撤回 (withdraw one's own
step) and 撤销 (cancel the application).

Each is one transaction: the engine is reset or cancelled, the task rows, timers, notices and
audit/outbox rows follow through the unit of work (``cases.change``), and the optimistic version check on the
case makes a racing completion and this action end with one winner and one 409.
"""

from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncConnection

from app import engine
from app.db.models import applications, events, tasks, timers
from app.domain.audit import Recorder
from app.domain.cases import lookup, views
from app.domain.cases import store as cases
from app.domain.cases.change import CaseChange
from app.domain.errors import Conflict, Forbidden, Invalid, NotFound
from app.domain.people import divisions as division_service
from app.domain.people.principal import Principal
from app.domain.programs import definitions
from app.domain.tasks import separation

CONFIRMING_LEVELS = ("county", "city", "province")


class ReturnIn(BaseModel):
    to: str = Field(min_length=1, max_length=100)
    reason: str = Field(min_length=1, max_length=2000)


class ReasonIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


# The hottest read of the service, built once.
_TASK_AND_CASE = (
    sa.select(tasks, *(c.label(f"app_{c.name}") for c in applications.c))
    .join(applications, applications.c.id == tasks.c.application_id)
    .where(tasks.c.id == sa.bindparam("task_id"))
)


async def load(
    conn: AsyncConnection, principal: Principal, task_id: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The task and its case, as one row; 404 outside the caller's places."""
    row = (await conn.execute(_TASK_AND_CASE, {"task_id": task_id})).mappings().first()
    if row is None or not principal.can_see(row["division_path"]):
        raise NotFound("task_not_found", f"no task {task_id!r}")
    return (
        {k: v for k, v in row.items() if not k.startswith("app_")},
        {k[4:]: v for k, v in row.items() if k.startswith("app_")},
    )


def require_holder(principal: Principal, task: dict[str, Any]) -> None:
    """The person who may act on an open task now: its role, and it is theirs or nobody's."""
    if task["state"] != "open":
        raise Conflict("task_not_open", f"the task is {task['state']}")
    if not principal.can_act(task["role"], task["division_path"]):
        raise Forbidden(
            "not_your_role", f"this needs role {task['role']} at {task['division_code']} or above it"
        )
    if task["assignee"] is not None and not principal.is_user(task["assignee"]):
        raise Conflict("task_claimed", "someone else holds this task")


def require_person(principal: Principal) -> None:
    """Holding a task (claim, 委派) is for users: an API key has no inbox, and its name may be a user's."""
    if principal.kind != "user":
        raise Forbidden("not_a_person", "an API key holds no tasks; claiming and delegating are for users")


def _allowed_targets(
    definition: definitions.Definition, task: dict[str, Any], case: engine.Case
) -> list[tuple[str, str]]:
    found = case.return_targets(task["engine_task_id"])
    # A step may narrow where it returns to (property return_targets = "a,b").
    allowed = definition.config.steps[task["name"]].return_targets
    if allowed:
        found = [(engine_id, name) for engine_id, name in found if name in allowed]
    return found


async def return_targets(conn: AsyncConnection, principal: Principal, task_id: str) -> list[dict[str, Any]]:
    task, app = await load(conn, principal, task_id)
    definition = await definitions.by_id(conn, app["definition_id"])
    if task["state"] != "open":
        return []
    case, _ = await cases.load_case(conn, definition, app)
    return [
        {"step": name, "title": definition.model.steps[name].title}
        for _, name in _allowed_targets(definition, task, case)
    ]


async def _finish_current(
    conn: AsyncConnection, principal: Principal, task: dict[str, Any], note: dict[str, Any], rec: Recorder
) -> None:
    # The guarded update referees a race with a reviewer completing the same step.
    done = await conn.execute(
        sa.update(tasks)
        .where(
            tasks.c.id == task["id"],
            tasks.c.state == "open",
            sa.or_(tasks.c.assignee.is_(None), tasks.c.assignee == principal.name),
        )
        .values(state="cancelled", completed_at=rec.at, completed_by=principal.name, note=note)
    )
    if done.rowcount != 1:
        raise Conflict("task_not_open", "the task was completed or taken by someone else meanwhile")


async def return_to(
    conn: AsyncConnection, principal: Principal, task_id: str, body: ReturnIn
) -> dict[str, Any]:
    task, app = await load(conn, principal, task_id)
    require_holder(principal, task)
    definition = await definitions.by_id(conn, app["definition_id"])
    await separation.check(conn, principal, definition, task, app["data"])
    change = await CaseChange.load(conn, app, definition, principal.name)
    targets = {name: engine_id for engine_id, name in _allowed_targets(definition, task, change.case)}
    if body.to not in targets:
        raise Invalid(
            "invalid_return_target",
            f"{task['name']} can return to {sorted(targets)} only",
            targets=sorted(targets),
        )
    await change.act(change.case.reset_to, targets[body.to], failure="the case could not go back")
    rec = change.rec
    await _finish_current(conn, principal, task, {"returned_to": body.to, "reason": body.reason}, rec)
    change.outcome.closed_engine_task_ids.discard(task["engine_task_id"])
    saved = await change.save(closing="returned")
    note = {"returned_from": task["name"], "reason": body.reason, "by": principal.name}
    if saved.opened:
        await conn.execute(
            sa.update(tasks).where(tasks.c.id.in_([t["id"] for t in saved.opened])).values(note=note)
        )
        for row in saved.opened:
            row["note"] = note
    rec.add("task.returned", app["id"], {"to": body.to, "reason": body.reason}, task, task["division_path"])
    await rec.flush(conn)
    return await change.answer(saved)


async def _moved_on_since(conn: AsyncConnection, task: dict[str, Any]) -> str | None:
    """Why the case has moved past a completed step, or None if nothing happened after it."""
    since = task["completed_at"]
    later = (
        await conn.execute(
            sa.select(tasks.c.name, tasks.c.state, tasks.c.assignee).where(
                tasks.c.application_id == task["application_id"],
                tasks.c.id != task["id"],
                sa.or_(tasks.c.created_at >= since, tasks.c.completed_at > since),
            )
        )
    ).all()
    for name, state, assignee in later:
        if state == "completed" or assignee is not None:
            return f"the next step {name} was already {'completed' if state == 'completed' else 'claimed'}"
    fired = (
        await conn.execute(
            sa.select(sa.func.count())
            .select_from(timers)
            .where(
                timers.c.application_id == task["application_id"],
                timers.c.fired_at > since,
                timers.c.cancelled.is_(False),
            )
        )
    ).scalar_one()
    received = (
        await conn.execute(
            sa.select(sa.func.count())
            .select_from(events)
            .where(
                events.c.application_id == task["application_id"],
                events.c.at > since,
                events.c.type == "message.received",
            )
        )
    ).scalar_one()
    if fired or received:
        return "the case has moved on since (a time limit ran out or a message arrived)"
    return None


async def withdraw(conn: AsyncConnection, principal: Principal, task_id: str) -> dict[str, Any]:
    """撤回: reopen one's own completed step while nothing after it has been touched."""
    task, app = await load(conn, principal, task_id)
    if task["state"] != "completed" or not principal.is_user(task["completed_by"]):
        raise Conflict("not_withdrawable", "only the person who completed a step may withdraw it")
    definition = await definitions.by_id(conn, app["definition_id"])
    if not definition.config.steps[task["name"]].withdrawable:
        raise Conflict("not_withdrawable", f"the process does not allow withdrawing {task['name']}")
    if app["status"] != "in_progress":
        raise Conflict("not_withdrawable", f"the case is {app['status']}")
    reason = await _moved_on_since(conn, task)
    if reason:
        raise Conflict("not_withdrawable", reason)
    change = await CaseChange.load(conn, app, definition, principal.name)
    try:
        await change.act(change.case.reset_to, task["engine_task_id"], failure="the step cannot be reopened")
    except Invalid as exc:
        if exc.code == "script_limit_exceeded":
            raise
        raise Conflict("not_withdrawable", exc.detail) from exc
    rec = change.rec
    saved = await change.save(closing="withdrawn")
    mine = [t for t in saved.opened if t["name"] == task["name"]]
    if mine:  # the step reopens for the person who withdrew it
        await conn.execute(
            sa.update(tasks)
            .where(tasks.c.id == mine[0]["id"])
            .values(assignee=principal.name, claimed_at=rec.at, note={"withdrawn_from": task["id"]})
        )
        mine[0].update(assignee=principal.name, note={"withdrawn_from": task["id"]})
    rec.add("task.withdrawn", app["id"], {}, task, task["division_path"])
    await rec.flush(conn)
    return await change.answer(saved)


async def cancel_application(
    conn: AsyncConnection, principal: Principal, application_id: str, body: ReasonIn
) -> dict[str, Any]:
    """撤销: the applicant (through the portal that submitted it) or the township withdraws a case
    until the county has confirmed it."""
    app = await lookup.load_row(conn, principal, application_id)
    township_office = any(
        division_service.role_level(g.role) == "township"
        and g.division_path
        and app["division_path"].startswith(g.division_path)
        for g in principal.grants
    )
    if not (principal.is_admin or principal.name == app["created_by"] or township_office):
        raise Forbidden(
            "not_allowed", "only the submitting portal or the township may withdraw an application"
        )
    if app["status"] != "in_progress":
        raise Conflict("not_cancellable", f"the case is {app['status']}")
    decided = (
        (
            await conn.execute(
                sa.select(tasks.c.role).where(
                    tasks.c.application_id == app["id"], tasks.c.state == "completed"
                )
            )
        )
        .scalars()
        .all()
    )
    if any(division_service.role_level(role) in CONFIRMING_LEVELS for role in decided):
        raise Conflict(
            "already_confirmed", "the county has already decided on this case; it can no longer be withdrawn"
        )
    definition = await definitions.by_id(conn, app["definition_id"])
    change = await CaseChange.load(conn, app, definition, principal.name)
    change.case.cancel()
    outcome = change.outcome
    outcome.completed, outcome.end_outcome, outcome.end_event = True, "withdrawn", None
    await change.save(closing="withdrawn")
    change.rec.add("application.withdrawn", app["id"], {"reason": body.reason}, None, app["division_path"])
    await change.rec.flush(conn)
    return views.application_view(app, [])
