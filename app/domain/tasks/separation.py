"""Separation of duties: the four-eyes rule and staff relatives (national 低保 rules, Art. 11).

A step's ``separation_of_duties`` property says how strict it is:
- ``review`` (the default for steps whose form asks for a ``decision``): whoever decided
  another review step of the case may not decide this one;
- ``strict``: whoever completed any other step of the case may not;
- ``none``: no restriction (e.g. acceptance, a check of materials, not of eligibility).
Whatever the step, the staff member an application names as a close relative
(``data.staff_relative`` with ``data.related_staff``) may not handle the case at all.
"""

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
    declared = step.separation_of_duties
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
    conn: AsyncConnection, principal: Principal, definition: Definition, task: dict, application_data: dict
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
