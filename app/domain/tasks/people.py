"""Actions that change who works on a step without moving the case: 转办 (transfer), 委派
(delegate for an opinion, then resolve), 抄送 (copy) and 催办 (urge)."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field, model_validator
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock
from app.db.models import events, tasks, users
from app.domain.audit import Recorder
from app.domain.cases import views
from app.domain.errors import Conflict, Forbidden, Invalid, TooMany
from app.domain.people import accounts
from app.domain.people import divisions as division_service
from app.domain.people.principal import Principal
from app.domain.programs import definitions
from app.domain.tasks import copies, separation
from app.domain.tasks.actions import load, require_holder, require_person
from app.domain.timekeeping import calendar


class TransferIn(BaseModel):
    username: str = Field(min_length=1, max_length=100)
    reason: str = Field(min_length=1, max_length=2000)


class DelegateIn(BaseModel):
    username: str = Field(min_length=1, max_length=100)
    note: str = Field(min_length=1, max_length=2000)


class OpinionIn(BaseModel):
    opinion: str = Field(min_length=1, max_length=2000)


class CopyIn(BaseModel):
    usernames: list[str] = Field(default_factory=list, max_length=50)
    roles: list[str] = Field(default_factory=list, max_length=20)
    note: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _someone(self) -> "CopyIn":
        if not self.usernames and not self.roles:
            raise ValueError("give usernames or roles to copy to")
        return self


class UrgeIn(BaseModel):
    note: str | None = Field(default=None, max_length=2000)


async def _user(conn: AsyncConnection, username: str) -> Principal:
    if not (
        await conn.execute(sa.select(users.c.id).where(users.c.username == username, users.c.active))
    ).first():
        raise Invalid("unknown_user", f"no active user {username!r}")
    return await accounts.principal_for_user(conn, username)


def _view(task: dict[str, Any]) -> dict[str, Any]:
    return {**views.task_view(task), "delegated_to": task["delegated_to"], "note": task["note"]}


async def transfer(
    conn: AsyncConnection, principal: Principal, task_id: str, body: TransferIn
) -> dict[str, Any]:
    """转办: the new holder replaces the old one; only someone who may act on the task."""
    task, app = await load(conn, principal, task_id)
    require_holder(principal, task)
    if task["delegated_to"]:
        raise Conflict("task_delegated", f"the task waits for {task['delegated_to']}'s opinion")
    target = await _user(conn, body.username)
    if principal.is_user(body.username) or not target.can_act(task["role"], task["division_path"]):
        raise Invalid(
            "cannot_take_task", f"{body.username} does not hold {task['role']} for {task['division_code']}"
        )
    await separation.check(
        conn, target, await definitions.by_id(conn, app["definition_id"]), task, app["data"]
    )
    done = await conn.execute(
        sa.update(tasks)
        .where(
            tasks.c.id == task["id"],
            tasks.c.state == "open",
            tasks.c.assignee.is_(None) if task["assignee"] is None else tasks.c.assignee == task["assignee"],
        )
        .values(assignee=body.username, claimed_at=clock.now())
    )
    if done.rowcount != 1:
        raise Conflict("task_claimed", "the task changed hands meanwhile")
    rec = Recorder(principal.name)
    rec.add(
        "task.transferred",
        app["id"],
        {"from": principal.name, "to": body.username, "reason": body.reason},
        task,
        task["division_path"],
    )
    await rec.flush(conn)
    task["assignee"] = body.username
    return _view(task)


async def delegate(
    conn: AsyncConnection, principal: Principal, task_id: str, body: DelegateIn
) -> dict[str, Any]:
    """委派: ask someone (any role at or above the task's place) for an opinion; the holder decides."""
    task, app = await load(conn, principal, task_id)
    require_person(principal)
    require_holder(principal, task)
    if task["delegated_to"]:
        raise Conflict("task_delegated", f"the task already waits for {task['delegated_to']}'s opinion")
    target = await _user(conn, body.username)
    if principal.is_user(body.username) or not target.can_see(task["division_path"]):
        raise Invalid(
            "cannot_give_opinion", f"{body.username} works for no place at or above {task['division_code']}"
        )
    await separation.check(
        conn, target, await definitions.by_id(conn, app["definition_id"]), task, app["data"]
    )
    # Delegating claims the task for the holder, so it comes back to them.
    done = await conn.execute(
        sa.update(tasks)
        .where(
            tasks.c.id == task["id"],
            tasks.c.state == "open",
            tasks.c.delegated_to.is_(None),
            sa.or_(tasks.c.assignee.is_(None), tasks.c.assignee == principal.name),
        )
        .values(assignee=principal.name, delegated_to=body.username, claimed_at=clock.now())
    )
    if done.rowcount != 1:
        raise Conflict("task_claimed", "the task changed hands meanwhile")
    rec = Recorder(principal.name)
    rec.add(
        "task.delegated", app["id"], {"to": body.username, "note": body.note}, task, task["division_path"]
    )
    await rec.flush(conn)
    task.update(assignee=principal.name, delegated_to=body.username)
    return _view(task)


async def resolve(
    conn: AsyncConnection, principal: Principal, task_id: str, body: OpinionIn
) -> dict[str, Any]:
    """The delegate's opinion: recorded with the task, and the task is back with its holder."""
    task, app = await load(conn, principal, task_id)
    if task["state"] != "open" or not principal.is_user(task["delegated_to"]):
        raise Conflict("not_delegated_to_you", "this task does not wait for your opinion")
    note = dict(task["note"] or {})
    note["opinions"] = [
        *note.get("opinions", []),
        {"by": principal.name, "opinion": body.opinion, "at": clock.now().isoformat()},
    ]
    done = await conn.execute(
        sa.update(tasks)
        .where(tasks.c.id == task["id"], tasks.c.state == "open", tasks.c.delegated_to == principal.name)
        .values(delegated_to=None, note=note)
    )
    if done.rowcount != 1:
        raise Conflict("not_delegated_to_you", "this task does not wait for your opinion")
    rec = Recorder(principal.name)
    rec.add(
        "task.resolved",
        app["id"],
        {"opinion": body.opinion, "holder": task["assignee"]},
        task,
        task["division_path"],
    )
    await rec.flush(conn)
    task.update(delegated_to=None, note=note)
    return _view(task)


def _program_roles(definition: definitions.Definition) -> set[str]:
    return {s.role for s in definition.model.steps.values() if s.role}


async def copy(conn: AsyncConnection, principal: Principal, task_id: str, body: CopyIn) -> dict[str, Any]:
    """抄送: the copied people (or holders of a role at the task's place) can read the case.

    Only the task's holder copies (a step's ``cc_roles`` are copied by the service when it opens),
    and only to people who could be reached anyway: a grant of one of the program's roles at the
    case's place or a place above it (a supervising office). A copy opens the applicant's private
    data, so it never goes to another county, department or program."""
    task, app = await load(conn, principal, task_id)
    require_holder(principal, task)
    definition = await definitions.by_id(conn, app["definition_id"])
    roles = _program_roles(definition)
    for username in body.usernames:
        target = await _user(conn, username)
        if not any(target.can_act(role, app["division_path"]) for role in roles):
            raise Invalid(
                "cannot_receive_copy",
                f"{username} works on {app['program']} for no place at or above {app['division_code']}",
                username=username,
            )
    for role in body.roles:
        division_service.check_role(role)
        if role not in roles:
            raise Invalid("cannot_receive_copy", f"{role} is not a role of {app['program']}", role=role)
    rec = Recorder(principal.name)
    await copies.add(conn, app, task, body.usernames, body.roles, body.note, rec)
    await rec.flush(conn)
    return {"task_id": task["id"], "usernames": body.usernames, "roles": body.roles}


def _supervises(principal: Principal, task: dict[str, Any]) -> bool:
    """Same department, a higher level, covering the task's place (a county office over a township)."""
    level = division_service.role_level(task["role"])
    department = task["role"][len(level) + 1 :] if level else None
    for grant in principal.grants:
        grant_level = division_service.role_level(grant.role)
        if (
            grant_level
            and grant.division_path
            and task["division_path"].startswith(grant.division_path)
            and grant.role[len(grant_level) + 1 :] == department
            and level in division_service.levels_below(grant_level)
        ):
            return True
    return False


async def urge(conn: AsyncConnection, principal: Principal, task_id: str, body: UrgeIn) -> dict[str, Any]:
    """催办: a supervisor or the submitting portal reminds the holders, once per working day."""
    task, app = await load(conn, principal, task_id)
    if task["state"] != "open":
        raise Conflict("task_not_open", f"the task is {task['state']}")
    if not (principal.is_admin or principal.name == app["created_by"] or _supervises(principal, task)):
        raise Forbidden(
            "not_allowed", "only a supervising office or the submitting portal may urge this task"
        )
    if (
        conn.dialect.name == "postgresql"
    ):  # two urges at once, through any replicas: the second sees the first
        await conn.execute(sa.select(tasks.c.id).where(tasks.c.id == task["id"]).with_for_update())
    today = calendar.today()
    last = (
        await conn.execute(
            sa.select(sa.func.max(events.c.at)).where(
                events.c.task_id == task["id"], events.c.type == "task.urged"
            )
        )
    ).scalar()
    if last is not None and last.astimezone(calendar.SHANGHAI).date() == today:
        days = await calendar.load(conn)
        next_day = days.add(today, 1).value
        start = datetime.combine(next_day, datetime.min.time(), calendar.SHANGHAI)
        wait = max(1, int((start - clock.now()).total_seconds()))
        raise TooMany(
            "urged_today",
            "this task was already urged today; urge again on the next working day",
            retry_after=wait,
            next_working_day=next_day.isoformat(),
        )
    holders = [task["assignee"]] if task["assignee"] else [f"{task['role']}@{task['division_code']}"]
    rec = Recorder(principal.name)
    rec.add("task.urged", app["id"], {"note": body.note, "holders": holders}, task, task["division_path"])
    await rec.flush(conn)
    return {"task_id": task["id"], "urged": holders, "at": rec.at}
