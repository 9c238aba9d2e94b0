"""Steps decided by more than the holder: 加签/减签 (signers added before or after the holder)
and 会签/或签/依次 (a step's ``approval_mode``: all, any or sequence of deciders).

Signers and deciders are rows of ``task_signers``; this module records their votes and says
what a vote means for the step. Completing the engine step stays in ``domain.tasks``.

- ``before``: the added people decide first; the holder cannot decide until they have.
- ``after``: the holder decides first (the decision is held on the task), then the added people;
  the step completes with the holder's decision when all agree, and goes back to the holder
  with the refusal when one refuses.
- ``all`` (会签): every decider votes; approved when at least ``pass_ratio`` (default all) agree,
  refused as soon as that can no longer happen. ``any`` (或签): the first vote decides.
  ``sequence`` (依次): deciders vote in order; a refusal refuses, the last approval approves.
"""

import math
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock
from app.db.models import grants, task_signers, users
from app.domain.errors import Conflict, Invalid
from app.domain.programs.config import StepConfig

ADDED = ("before", "after")


class SignersIn(BaseModel):
    usernames: list[str] = Field(min_length=1, max_length=20)
    position: str = Field(pattern="^(before|after)$")
    note: str | None = Field(default=None, max_length=2000)


class SignIn(BaseModel):
    decision: str = Field(pattern="^(approve|refuse)$")
    opinion: str | None = Field(default=None, max_length=2000)


@dataclass(frozen=True)
class Verdict:
    """What a vote means for the step: complete it with this decision, send it back to the
    holder, or nothing yet."""

    decision: str | None = None
    back_to_holder: bool = False


def mode_of(step: StepConfig) -> str | None:
    """The step's ``approval_mode`` (``config.StepConfig``), if its deciders vote."""
    return step.approval_mode


def declaration_problems(step_id: str, step: StepConfig) -> list[str]:
    """An ``approval_mode`` step names its deciders (the values' forms are checked by ``config``)."""
    if step.approval_mode is None:
        return []
    if not (step.assignees_role or step.assignees_variable):
        return [f"{step_id}: approval_mode needs assignees_role or assignees_variable"]
    return []


def waiting_for(username: str) -> sa.Select[tuple[str]]:
    """SQL: ids of open tasks where it is this person's turn to sign or vote."""
    earlier = sa.alias(task_signers)
    not_first = sa.exists().where(
        earlier.c.task_id == task_signers.c.task_id,
        earlier.c.state == "pending",
        earlier.c.kind == "sequence",
        earlier.c.seq < task_signers.c.seq,
    )
    return sa.select(task_signers.c.task_id).where(
        task_signers.c.username == username,
        task_signers.c.state == "pending",
        sa.or_(task_signers.c.kind != "sequence", ~not_first),
    )


async def rows_of(conn: AsyncConnection, task_id: str) -> list[dict[str, Any]]:
    rows = await conn.execute(
        sa.select(task_signers)
        .where(task_signers.c.task_id == task_id)
        .order_by(task_signers.c.seq, task_signers.c.id)
    )
    return [dict(r) for r in rows.mappings()]


def view(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {k: r[k] for k in ("username", "kind", "seq", "state", "decision", "opinion", "decided_at")}
        for r in rows
        if r["state"] != "removed"
    ]


async def pending_before(conn: AsyncConnection, task_id: str) -> list[str]:
    return [
        r["username"]
        for r in await rows_of(conn, task_id)
        if r["kind"] == "before" and r["state"] == "pending"
    ]


async def has_after(conn: AsyncConnection, task_id: str) -> bool:
    return any(
        r["kind"] == "after" and r["state"] in ("queued", "pending") for r in await rows_of(conn, task_id)
    )


async def add(
    conn: AsyncConnection, task: dict[str, Any], usernames: list[str], position: str, added_by: str
) -> None:
    present = {r["username"] for r in await rows_of(conn, task["id"]) if r["state"] != "removed"}
    again = sorted(set(usernames) & present)
    if again or len(set(usernames)) != len(usernames):
        raise Conflict("already_a_signer", f"{again or usernames} already sign this step")
    await conn.execute(
        sa.insert(task_signers),
        [
            {
                "task_id": task["id"],
                "username": u,
                "kind": position,
                "seq": i,
                "added_by": added_by,
                "state": "pending" if position == "before" else "queued",
                "added_at": clock.now(),
            }
            for i, u in enumerate(usernames)
        ],
    )


async def remove(conn: AsyncConnection, task: dict[str, Any], username: str) -> None:
    done = await conn.execute(
        sa.update(task_signers)
        .where(
            task_signers.c.task_id == task["id"],
            task_signers.c.username == username,
            task_signers.c.kind.in_(ADDED),
            task_signers.c.state.in_(("pending", "queued")),
        )
        .values(state="removed")
    )
    if done.rowcount != 1:
        raise Conflict("not_removable", f"{username} is not a signer added to this step who has yet to sign")


async def hand_to_after_signers(conn: AsyncConnection, task_id: str) -> None:
    await conn.execute(
        sa.update(task_signers)
        .where(
            task_signers.c.task_id == task_id,
            task_signers.c.kind == "after",
            task_signers.c.state == "queued",
        )
        .values(state="pending")
    )


async def create_deciders(
    conn: AsyncConnection, task: dict[str, Any], props: StepConfig, case_data: dict[str, Any]
) -> list[str]:
    """The deciders of an ``approval_mode`` step (``props``: its ``config.StepConfig``): holders of a
    role at the task's place, or a list of usernames in the case data."""
    if props.assignees_variable:
        names = case_data.get(props.assignees_variable)
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise Invalid(
                "no_deciders", f"{task['name']} needs a list of usernames in {props.assignees_variable!r}"
            )
    else:
        path = task["division_path"]
        rows = await conn.execute(
            sa.select(users.c.username, grants.c.division_code)
            .join(grants, grants.c.user_id == users.c.id)
            .where(grants.c.role == props.assignees_role, users.c.active)
            .order_by(users.c.username)
        )
        codes = [c for c in path.strip("/").split("/") if c]
        names = sorted({u for u, code in rows if code in codes})
        if not names:
            raise Invalid("no_deciders", f"nobody holds {props.assignees_role} for {task['division_code']}")
    kind = props.approval_mode
    await conn.execute(
        sa.insert(task_signers),
        [
            {
                "task_id": task["id"],
                "username": u,
                "kind": kind,
                "seq": i,
                "state": "pending",
                "added_by": "process",
                "added_at": clock.now(),
            }
            for i, u in enumerate(names)
        ],
    )
    return names


async def vote(
    conn: AsyncConnection, task: dict[str, Any], username: str, body: SignIn, props: StepConfig
) -> Verdict:
    """Record one signature or vote; returns what it means for the step."""
    rows = await rows_of(conn, task["id"])
    turn = set(
        (await conn.execute(waiting_for(username).where(task_signers.c.task_id == task["id"]))).scalars()
    )
    mine = next((r for r in rows if r["username"] == username and r["state"] == "pending"), None)
    if mine is None or task["id"] not in turn:
        raise Conflict("not_your_turn", "this step does not wait for your signature now")
    done = await conn.execute(
        sa.update(task_signers)
        .where(task_signers.c.id == mine["id"], task_signers.c.state == "pending")
        .values(state="decided", decision=body.decision, opinion=body.opinion, decided_at=clock.now())
    )
    if done.rowcount != 1:
        raise Conflict("not_your_turn", "your signature was recorded meanwhile")
    mine.update(state="decided", decision=body.decision)
    kind = mine["kind"]
    group = [r for r in rows if r["kind"] == kind and r["state"] != "removed"]
    agreed = sum(r["decision"] == "approve" for r in group if r["state"] == "decided")
    refused = sum(r["decision"] == "refuse" for r in group if r["state"] == "decided")
    waiting = sum(r["state"] == "pending" for r in group)
    if kind == "before":
        return Verdict()
    if kind == "after":
        if refused:
            return Verdict(back_to_holder=True)
        return Verdict(decision="holder") if waiting == 0 else Verdict()
    if kind == "any":
        return Verdict(decision=body.decision)
    if kind == "sequence":
        if body.decision == "refuse":
            return Verdict(decision="refuse")
        return Verdict(decision="approve") if waiting == 0 else Verdict()
    needed = math.ceil((props.pass_ratio or 1) * len(group) - 1e-9)
    if agreed >= needed:
        return Verdict(decision="approve")
    if refused > len(group) - needed:
        return Verdict(decision="refuse")
    return Verdict()


async def close_open(conn: AsyncConnection, task_id: str) -> None:
    """Votes no longer needed once the step is decided."""
    await conn.execute(
        sa.update(task_signers)
        .where(task_signers.c.task_id == task_id, task_signers.c.state.in_(("pending", "queued")))
        .values(state="removed")
    )
