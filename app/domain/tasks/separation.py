"""Separation of duties: the four-eyes rule and staff relatives (national 低保 rules, Art. 11).

A step's ``separation_of_duties`` property says how strict it is:
- ``review`` (the default for steps whose form asks for a ``decision``): whoever decided
  another review step of the case may not decide this one;
- ``strict``: whoever completed any other step of the case may not;
- ``none``: no restriction (e.g. acceptance, a check of materials, not of eligibility).
Whatever the step, the staff member an application names as a close relative
(``data.staff_relative`` with ``data.related_staff``) may not handle the case at all.
"""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.models import task_signers, tasks
from app.domain.errors import Forbidden
from app.domain.people.principal import Principal
from app.domain.programs.definitions import Definition


def mode_of(definition: Definition, step_name: str) -> str:
    step = definition.config.steps.get(step_name)
    if step is None:
        return "none"
    declared: str | None = step.separation_of_duties
    if declared:
        return declared
    form = definition.form_for_step(step_name) or {}
    return "review" if "decision" in form.get("properties", {}) else "none"


# Completing a step, or signing or voting on it (加签, 会签), is deciding it: one statement, built once.
_DECIDED_BY = sa.union(
    sa.select(tasks.c.name).where(
        tasks.c.application_id == sa.bindparam("app_id"),
        tasks.c.completed_by == sa.bindparam("who"),
        tasks.c.state == "completed",
        tasks.c.name != sa.bindparam("step"),
    ),
    sa.select(tasks.c.name)
    .join(task_signers, task_signers.c.task_id == tasks.c.id)
    .where(
        tasks.c.application_id == sa.bindparam("app_id"),
        task_signers.c.username == sa.bindparam("who"),
        task_signers.c.state == "decided",
        tasks.c.name != sa.bindparam("step"),
    ),
)


async def check(
    conn: AsyncConnection,
    principal: Principal,
    definition: Definition,
    task: dict[str, Any],
    application_data: dict[str, Any],
) -> None:
    """Raise 403 if ``principal`` may not handle ``task`` of this case."""
    if principal.kind == "system":
        return
    if application_data.get("staff_relative") and application_data.get("related_staff") == principal.name:
        raise Forbidden(
            "related_staff",
            "the applicant is a close relative of yours: the case must be handled by "
            "someone else (最低生活保障审核确认办法 第十一条)",
        )
    mode = mode_of(definition, task["name"])
    if mode == "none":
        return
    done = set(
        (
            await conn.execute(
                _DECIDED_BY, {"app_id": task["application_id"], "who": principal.name, "step": task["name"]}
            )
        ).scalars()
    )
    if mode == "strict":
        clash = done
    else:
        clash = {name for name in done if mode_of(definition, name) != "none"}
    if clash:
        raise Forbidden(
            "four_eyes",
            f"you decided {sorted(clash)} of this case; another person must decide {task['name']}",
            steps=sorted(clash),
        )


# Everyone who decided some other step of a case, with the step: the four-eyes rule for a whole list.
_DECIDERS = sa.union(
    sa.select(tasks.c.completed_by.label("who"), tasks.c.name).where(
        tasks.c.application_id == sa.bindparam("app_id"),
        tasks.c.completed_by.is_not(None),
        tasks.c.state == "completed",
        tasks.c.name != sa.bindparam("step"),
    ),
    sa.select(task_signers.c.username.label("who"), tasks.c.name)
    .join(task_signers, task_signers.c.task_id == tasks.c.id)
    .where(
        tasks.c.application_id == sa.bindparam("app_id"),
        task_signers.c.state == "decided",
        tasks.c.name != sa.bindparam("step"),
    ),
)


async def barred(
    conn: AsyncConnection, definition: Definition, task: dict[str, Any], application_data: dict[str, Any]
) -> set[str]:
    """The users ``check`` would refuse for ``task``, found in one query (for pickers of people)."""
    found: set[str] = set()
    if application_data.get("staff_relative") and isinstance(application_data.get("related_staff"), str):
        found.add(application_data["related_staff"])
    mode = mode_of(definition, task["name"])
    if mode == "none":
        return found
    rows = await conn.execute(_DECIDERS, {"app_id": task["application_id"], "step": task["name"]})
    for who, step in rows:
        if mode == "strict" or mode_of(definition, step) != "none":
            found.add(who)
    return found
