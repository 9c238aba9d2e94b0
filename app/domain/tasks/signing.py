"""加签/减签 and signing: the holder adds or removes signers of a step, and signers and deciders
(会签, 或签, 依次) sign it; when the votes decide, the step completes (``worklist.finish``)."""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.models import task_signers, tasks
from app.domain.audit import Recorder
from app.domain.errors import Conflict, Invalid
from app.domain.people import accounts
from app.domain.people.principal import Principal
from app.domain.programs import definitions
from app.domain.tasks import separation, signers, worklist


async def add_signers(
    conn: AsyncConnection, principal: Principal, task_id: str, body: signers.SignersIn
) -> dict[str, Any]:
    """加签: only the holder, to people who work at or above the step's place."""
    task, app = await worklist._task_and_case(conn, principal, task_id)
    worklist._require_open(task)
    if not principal.is_user(task["assignee"]):
        raise Conflict("claim_first", "claim the task before adding signers to it")
    if task["note"] and task["note"].get("pending_decision"):
        raise Conflict("task_decided", "you have decided; the signers after you are deciding now")
    definition = await definitions.by_id(conn, app["definition_id"])
    for username in body.usernames:
        if principal.is_user(username):
            raise Invalid("cannot_sign", "you hold the task already")
        target = await accounts.principal_for_user(conn, username)
        if not target.grants or not target.can_see(task["division_path"]):
            raise Invalid("cannot_sign", f"{username} works for no place at or above {task['division_code']}")
        await separation.check(conn, target, definition, task, app["data"])
    await signers.add(conn, task, body.usernames, body.position, principal.name)
    await conn.execute(
        sa.update(tasks)
        .where(tasks.c.id == task["id"])
        .values(note={**(task["note"] or {}), "has_signers": True})
    )
    rec = Recorder(principal.name)
    rec.add(
        "task.signers_added",
        app["id"],
        {"usernames": body.usernames, "position": body.position, "note": body.note},
        task,
        task["division_path"],
    )
    await rec.flush(conn)
    return {"task_id": task["id"], "signers": signers.view(await signers.rows_of(conn, task["id"]))}


async def remove_signer(
    conn: AsyncConnection, principal: Principal, task_id: str, username: str
) -> dict[str, Any]:
    """减签: only signers added this way, only before they have signed."""
    task, app = await worklist._task_and_case(conn, principal, task_id)
    worklist._require_open(task)
    if not principal.is_user(task["assignee"]):
        raise Conflict("claim_first", "only the task's holder removes signers")
    await signers.remove(conn, task, username)
    rec = Recorder(principal.name)
    rec.add("task.signer_removed", app["id"], {"username": username}, task, task["division_path"])
    await rec.flush(conn)
    return {"task_id": task["id"], "signers": signers.view(await signers.rows_of(conn, task["id"]))}


async def sign(
    conn: AsyncConnection, principal: Principal, task_id: str, body: signers.SignIn
) -> dict[str, Any]:
    """A signer's or decider's vote; the step completes when the votes decide it."""
    task, app = await worklist._task_and_case(conn, principal, task_id)
    worklist._require_open(task)
    definition = await definitions.by_id(conn, app["definition_id"])
    props = definition.config.steps[task["name"]]
    await separation.check(conn, principal, definition, task, app["data"])
    verdict = await signers.vote(conn, task, principal.name, body, props)
    rec = Recorder(principal.name)
    rec.add(
        "task.signed",
        app["id"],
        {"decision": body.decision, "opinion": body.opinion},
        task,
        task["division_path"],
    )
    await rec.flush(conn)
    if verdict.back_to_holder:
        note = {**(task["note"] or {}), "refused_by_signer": {"by": principal.name, "opinion": body.opinion}}
        note.pop("pending_decision", None)
        await conn.execute(sa.update(tasks).where(tasks.c.id == task["id"]).values(note=note))
        await conn.execute(
            sa.update(task_signers)
            .where(
                task_signers.c.task_id == task["id"],
                task_signers.c.kind == "after",
                task_signers.c.state.in_(("pending", "decided")),
            )
            .values(state="queued", decision=None, opinion=None)
        )
        return {
            "task_id": task["id"],
            "back_to": task["assignee"],
            "signers": signers.view(await signers.rows_of(conn, task["id"])),
        }
    if verdict.decision is None:
        return {"task_id": task["id"], "signers": signers.view(await signers.rows_of(conn, task["id"]))}
    await signers.close_open(conn, task["id"])
    if verdict.decision == "holder":  # the last signer after the holder agreed: the holder's decision stands
        held = task["note"]["pending_decision"]
        return await worklist.finish(conn, held["by"], task, app, definition, held["data"])
    votes = signers.view(await signers.rows_of(conn, task["id"]))
    data = {
        "decision": verdict.decision,
        "votes": [
            {k: v[k] for k in ("username", "decision", "opinion")} for v in votes if v["state"] == "decided"
        ],
    }
    return await worklist.finish(conn, principal.name, task, app, definition, data)
