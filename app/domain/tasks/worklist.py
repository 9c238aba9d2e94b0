"""Human tasks: the inbox, claiming, assigning and completing. Inbox queries read the tasks table
only; a workflow is loaded only to complete a step."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock
from app.db.models import applications, case_copies, tasks, users
from app.domain.audit import Recorder
from app.domain.cases import effects as case_effects
from app.domain.cases import privacy, search, views
from app.domain.cases.change import CaseChange
from app.domain.errors import Conflict, Forbidden, Invalid, NotFound
from app.domain.materials import signatures
from app.domain.notices import objections
from app.domain.people import accounts
from app.domain.people import divisions as division_service
from app.domain.people.principal import Principal, path_range
from app.domain.programs import definitions, forms
from app.domain.reports import durations
from app.domain.tasks import actions as task_actions
from app.domain.tasks import copies, pages, panels, separation, signers
from app.domain.timekeeping import calendar
from app.metrics import TASK_COMPLETIONS
from app.shapes import Json

# 待认领, 我的待办, everything in my places, 已办, 抄送我的, 我发起的.
SCOPES = ("candidate", "mine", "all", "done", "cc", "started")
STATES = ("open", "completed", "cancelled")
SORTS = pages.SORTS


async def inbox(
    conn: AsyncConnection,
    principal: Principal,
    *,
    scope: str,
    program: str | None,
    division_code: str | None,
    overdue: bool | None,
    state: str | None,
    limit: int,
    offset: int,
    due_before: datetime | None = None,
    sort: str = "due_at",
    q: str | None = None,
) -> Json:
    if scope not in SCOPES:
        raise Invalid("invalid_scope", f"scope must be one of {SCOPES}")
    if sort not in SORTS:
        raise Invalid("invalid_sort", f"sort must be one of {sorted(SORTS)}")
    if due_before is not None and due_before.tzinfo is None:
        raise Invalid("invalid_due_before", "due_before needs a timezone offset")
    if state is not None and state not in STATES:
        raise Invalid("invalid_state", f"state must be one of {STATES}")
    within = await division_service.path_of(conn, division_code) if division_code else None
    filters = []
    if program:
        filters.append(tasks.c.program == program)
    if overdue is not None:
        late = sa.and_(tasks.c.state == "open", tasks.c.due_at < clock.now())
        filters.append(late if overdue else sa.not_(late) | tasks.c.due_at.is_(None))
    if due_before is not None:
        filters.append(tasks.c.due_at < due_before)
    q = search.clean(q)
    if q:  # read from the few matching cases (their indexes), not from the scope's
        filters.append(tasks.c.application_id.in_(await search.found(conn, principal, q)))
    # A statement of disjoint parts (domain/tasks/pages.py); [] when no place is in scope; None for
    # the scopes of a person's own rows and searches, read with their one condition.
    query: pages.Page
    if q:
        query = None
    elif filters:
        parts = pages.disjoint_parts(principal, scope, state, within, STATES)
        query = pages.query(parts, filters, sort, limit, offset) if parts else parts
    else:
        query = pages.unfiltered(
            conn.dialect.name, principal, scope, state, within, STATES, sort, limit, offset
        )
    if isinstance(query, list):
        return {"items": [], "limit": limit, "offset": offset, "has_more": False}
    if query is None:  # a place filter is a range on the path
        where = [scope_condition(principal, scope, state), *filters]
        if within:
            where.append(path_range(tasks.c.division_path, within))
        query = sa.select(tasks).where(*where).order_by(*pages.order(tasks.c, sort))
        query = query.limit(limit + 1).offset(offset)
    rows = (await conn.execute(query)).mappings().all()
    # Working days left (the calendar: a round trip) only where a row has them: open with a deadline.
    days = await calendar.load(conn) if any(r["state"] == "open" and r["due_at"] for r in rows) else None
    return {
        "items": [views.listed_task_view(r, days, principal.name) for r in rows[:limit]],
        "limit": limit,
        "offset": offset,
        "has_more": len(rows) > limit,
    }


def scope_condition(principal: Principal, scope: str, state: str | None) -> sa.ColumnElement[bool]:
    if scope == "candidate":
        return sa.and_(
            tasks.c.state == "open",
            tasks.c.assignee.is_(None),
            principal.actionable(tasks.c.role, tasks.c.division_path),
        )
    if scope == "mine":  # held by me, or waiting for my opinion (委派) or my signature (加签, 会签)
        if principal.kind != "user":
            return sa.false()
        # Ids from each person's index, not one OR over the table (which walks every open task).
        mine = tasks.alias("mine")
        held = sa.select(mine.c.id).where(mine.c.state == (state or "open"))
        return sa.and_(
            tasks.c.state == (state or "open"),
            tasks.c.id.in_(
                sa.union(
                    held.where(mine.c.assignee == principal.name),
                    held.where(mine.c.delegated_to == principal.name),
                    signers.waiting_for(principal.name),
                )
            ),
        )
    if scope == "done":  # 已办: steps I decided
        return sa.and_(principal.personal(tasks.c.completed_by), tasks.c.state == (state or "completed"))
    if scope == "cc":
        return tasks.c.id.in_(sa.select(case_copies.c.task_id).where(copies.copied_to(principal)))
    if scope == "started":  # cases my portal or I submitted
        return sa.and_(
            tasks.c.state == (state or "open"),
            tasks.c.application_id.in_(
                sa.select(applications.c.id).where(applications.c.created_by == principal.name)
            ),
        )
    condition = principal.visible(tasks.c.division_path)
    return sa.and_(condition, tasks.c.state == state) if state else condition


async def counts(conn: AsyncConnection, principal: Principal, cap: int | None = None) -> Json:
    """How many tasks each inbox tab holds (open ones; 已办: all I decided), in one round trip.
    With ``cap``, a count stops there (the web UI shows "1000+"): a page then reads at most ``cap``
    index entries per tab instead of every task in a county's scope."""

    def count(scope: str) -> sa.Label[int]:
        rows = sa.select(tasks.c.id).where(scope_condition(principal, scope, None))
        if cap is not None:
            rows = rows.limit(cap)
        return sa.select(sa.func.count()).select_from(rows.subquery()).scalar_subquery().label(scope)

    columns = [count(scope) for scope in SCOPES if scope != "all"]
    return dict((await conn.execute(sa.select(*columns))).mappings().one())


async def _load(conn: AsyncConnection, principal: Principal, task_id: str) -> Json:
    row = (await conn.execute(sa.select(tasks).where(tasks.c.id == task_id))).mappings().first()
    if row is None or not principal.can_see(row["division_path"]):
        raise NotFound("task_not_found", f"no task {task_id!r}")
    return dict(row)


def _require_act(principal: Principal, task: Json) -> None:
    if not principal.can_act(task["role"], task["division_path"]):
        raise Forbidden(
            "not_your_role",
            f"acting on this task needs role {task['role']} at {task['division_code']} or above it",
        )


def _require_open(task: Json) -> None:
    if task["state"] != "open":
        raise Conflict("task_not_open", f"the task is {task['state']}")


async def get(conn: AsyncConnection, principal: Principal, task_id: str) -> Json:
    task = await _load(conn, principal, task_id)
    app = await privacy.load_case(conn, principal, task["application_id"])
    definition = await definitions.by_id(conn, app["definition_id"])
    view = {
        **views.task_view(task, await calendar.load(conn)),
        "data": task["data"] if app[privacy.READABLE] else {},
        "note": task["note"] if app[privacy.READABLE] else None,
        "form_schema": definition.form_for_step(task["name"])
        if task["name"] in definition.model.steps
        else None,
        "application": privacy.shown(app, views.application_view(app)),
    }
    if task["name"] in objections.answering_steps(definition) and app[privacy.READABLE]:
        view["objections"] = await objections.of_application(conn, task["application_id"], open_only=True)
    return view


async def _set_assignee(conn: AsyncConnection, task: Json, new: str | None, expected: str | None) -> bool:
    result = await conn.execute(
        sa.update(tasks)
        .where(
            tasks.c.id == task["id"],
            tasks.c.state == "open",
            tasks.c.assignee.is_(None) if expected is None else tasks.c.assignee == expected,
        )
        .values(assignee=new, claimed_at=clock.now() if new else None)
    )
    return result.rowcount == 1


async def _check_separation(conn: AsyncConnection, principal: Principal, task: Json) -> None:
    app = (
        await conn.execute(
            sa.select(applications.c.definition_id, applications.c.data).where(
                applications.c.id == task["application_id"]
            )
        )
    ).one()
    await separation.check(conn, principal, await definitions.by_id(conn, app.definition_id), task, app.data)


async def claim(conn: AsyncConnection, principal: Principal, task_id: str) -> Json:
    task = await _load(conn, principal, task_id)
    task_actions.require_person(principal)
    _require_act(principal, task)
    _require_open(task)
    await _check_separation(conn, principal, task)
    if principal.is_user(task["assignee"]):
        return views.task_view(task)
    if task["assignee"] is not None or not await _set_assignee(conn, task, principal.name, None):
        raise Conflict("task_claimed", "someone else holds this task")
    rec = Recorder(principal.name)
    task["assignee"] = principal.name
    rec.add("task.claimed", task["application_id"], {}, task, task["division_path"])
    await rec.flush(conn)
    return views.task_view(task)


async def unclaim(conn: AsyncConnection, principal: Principal, task_id: str) -> Json:
    task = await _load(conn, principal, task_id)
    _require_act(principal, task)
    _require_open(task)
    if task["assignee"] is None:
        return views.task_view(task)
    if not principal.is_user(task["assignee"]) and not principal.is_admin:
        raise Conflict("task_claimed", "someone else holds this task")
    if not await _set_assignee(conn, task, None, task["assignee"]):
        raise Conflict("task_claimed", "the task changed hands meanwhile")
    rec = Recorder(principal.name)
    rec.add(
        "task.unclaimed",
        task["application_id"],
        {"previous_assignee": task["assignee"]},
        task,
        task["division_path"],
    )
    task["assignee"] = None
    await rec.flush(conn)
    return views.task_view(task)


async def assign(conn: AsyncConnection, principal: Principal, task_id: str, username: str) -> Json:
    task = await _load(conn, principal, task_id)
    _require_act(principal, task)
    _require_open(task)
    if task["assignee"] is not None and not principal.is_user(task["assignee"]) and not principal.is_admin:
        raise Conflict("task_claimed", "someone else holds this task")
    if not (await conn.execute(sa.select(users.c.id).where(users.c.username == username))).first():
        raise Invalid("unknown_user", f"no user {username!r}")
    target = await accounts.principal_for_user(conn, username)
    if not target.can_act(task["role"], task["division_path"]):
        raise Invalid(
            "assignee_cannot_act", f"{username} does not hold {task['role']} for {task['division_code']}"
        )
    await _check_separation(conn, target, task)
    if not await _set_assignee(conn, task, username, task["assignee"]):
        raise Conflict("task_claimed", "the task changed hands meanwhile")
    rec = Recorder(principal.name)
    rec.add(
        "task.assigned",
        task["application_id"],
        {"assignee": username, "previous_assignee": task["assignee"]},
        task,
        task["division_path"],
    )
    task["assignee"] = username
    await rec.flush(conn)
    return views.task_view(task)


async def _task_and_case(conn: AsyncConnection, principal: Principal, task_id: str) -> tuple[Json, Json]:
    # The task and its case in one round trip: this is the hottest path of the service.
    return await task_actions.load(conn, principal, task_id)


async def complete(conn: AsyncConnection, principal: Principal, task_id: str, data: Json) -> Json:
    task, app = await _task_and_case(conn, principal, task_id)
    _require_act(principal, task)
    _require_open(task)
    if task["assignee"] is not None and not principal.is_user(task["assignee"]):
        raise Conflict("task_claimed", "someone else holds this task")
    if task["delegated_to"]:
        raise Conflict("task_delegated", f"the task waits for {task['delegated_to']}'s opinion (委派)")
    definition = await definitions.by_id(conn, app["definition_id"])
    props = definition.config.steps[task["name"]]
    if signers.mode_of(props):
        raise Conflict(
            "decided_by_votes", f"{task['name']} is decided by its deciders' votes (POST .../sign)"
        )
    # Only a task someone added signers to has rows to look at (the hot path stays one query).
    has_signers = bool(task["note"] and task["note"].get("has_signers"))
    before = await signers.pending_before(conn, task["id"]) if has_signers else []
    if before:
        raise Conflict("signers_pending", f"{before} sign before you decide (加签)", signers=before)
    await separation.check(conn, principal, definition, task, app["data"])
    forms.validate(definition.form_for_step(task["name"]), data)
    # 签字: the receiver and two staff on an emergency cash payment, the head on a 学前 decision…
    await signatures.require(conn, definition.config, task, app["data"] or {}, data)
    if props.panel:
        data = await panels.decide(conn, task["division_code"], data)
    if has_signers and await signers.has_after(conn, task["id"]):
        return await _hold_for_signers(conn, principal, task, app, data)
    return await finish(conn, principal.name, task, app, definition, data)


async def _hold_for_signers(
    conn: AsyncConnection, principal: Principal, task: Json, app: Json, data: Json
) -> Json:
    """The holder decided; the signers added after them decide next (the decision waits on the task)."""
    note = {**(task["note"] or {}), "pending_decision": {"by": principal.name, "data": data}}
    done = await conn.execute(
        sa.update(tasks)
        .where(
            tasks.c.id == task["id"],
            tasks.c.state == "open",
            sa.or_(tasks.c.assignee.is_(None), tasks.c.assignee == principal.name),
        )
        .values(assignee=principal.name, note=note)
    )
    if done.rowcount != 1:
        raise Conflict("task_not_open", "the task was completed or taken by someone else meanwhile")
    await signers.hand_to_after_signers(conn, task["id"])
    rec = Recorder(principal.name)
    rec.add("task.decided_awaiting_signers", app["id"], data, task, task["division_path"])
    await rec.flush(conn)
    task.update(assignee=principal.name, note=note)
    return {
        "application": views.application_view(app, await views.open_tasks_of(conn, app["id"])),
        "next_tasks": [],
        "waiting_for_signers": True,
    }


_COMPLETE = (
    sa.update(tasks)
    .where(
        tasks.c.id == sa.bindparam("task_id"),
        tasks.c.state == "open",
        sa.or_(tasks.c.assignee.is_(None), tasks.c.assignee == sa.bindparam("actor")),
    )
    .values(
        state="completed",
        assignee=sa.bindparam("actor"),
        completed_at=sa.bindparam("now"),
        completed_by=sa.bindparam("actor"),
        data=sa.bindparam("data"),
    )
)


async def finish(
    conn: AsyncConnection, actor: str, task: Json, app: Json, definition: definitions.Definition, data: Json
) -> Json:
    """Complete the engine step with ``data`` as ``actor`` and persist what follows."""
    change = await CaseChange.load(conn, app, definition, actor)
    rec = change.rec
    if task["name"] in objections.answering_steps(definition):
        await objections.answer(
            conn, app["id"], data.get("objection_outcomes"), actor, rec, app["division_path"]
        )
    if not change.case.is_ready(task["engine_task_id"]):
        raise Conflict("task_not_open", "the case has moved past this step")
    await change.act(
        change.case.complete, task["engine_task_id"], data, failure="the process could not continue"
    )
    # The guarded update is the race referee: of two reviewers, exactly one matches it.
    done = await conn.execute(_COMPLETE, {"task_id": task["id"], "actor": actor, "now": rec.at, "data": data})
    if done.rowcount != 1:
        raise Conflict("task_not_open", "the task was completed or taken by someone else meanwhile")
    # With the working days it took, for the reports' histograms (docs/reports.md).
    timed_task = await durations.with_days_taken(conn, task, rec.at)
    rec.add("task.completed", task["application_id"], data, timed_task, task["division_path"])
    # A step that pays at once (急难型 act first) enters the ledger with its own amount.
    if definition.config.steps[task["name"]].benefit:
        await case_effects.record_benefit(
            conn, app, definition, task["name"], change.case.data_of(task["engine_task_id"]), rec
        )
    change.outcome.closed_engine_task_ids.discard(task["engine_task_id"])
    saved = await change.save()
    TASK_COMPLETIONS.labels(program=definition.key).inc()
    return await change.answer(saved)
