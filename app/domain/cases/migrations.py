"""Moving running cases to another version of their process, with a dry run first."""

from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field, model_validator
from sqlalchemy.ext.asyncio import AsyncConnection

from app import engine
from app.db.models import applications, tasks, timers
from app.domain.cases.change import CaseChange
from app.domain.errors import Invalid
from app.domain.people import divisions as division_service
from app.domain.programs import definitions


class MigrationFilter(BaseModel):
    division_code: str | None = Field(default=None, max_length=32)


class MigrationIn(BaseModel):
    from_version: int = Field(ge=1, le=2**31 - 1)
    to_version: int = Field(ge=1, le=2**31 - 1)
    task_mapping: dict[str, str] = Field(default_factory=dict)
    application_ids: list[str] | None = Field(default=None, max_length=10_000)
    filter: MigrationFilter | None = None
    dry_run: bool = True

    @model_validator(mode="after")
    def _versions_differ(self) -> "MigrationIn":
        if self.from_version == self.to_version:
            raise ValueError("from_version and to_version must differ")
        return self


async def candidates(conn: AsyncConnection, key: str, body: MigrationIn) -> list[str]:
    """Running cases of ``key`` on ``from_version`` that the request selects."""
    await definitions.version_of(conn, key, body.from_version)
    await definitions.version_of(conn, key, body.to_version)
    query = sa.select(applications.c.id).where(
        applications.c.program == key,
        applications.c.definition_version == body.from_version,
        applications.c.status == "in_progress",
    )
    if body.application_ids is not None:
        query = query.where(applications.c.id.in_(body.application_ids))
    if body.filter and body.filter.division_code:
        query = query.where(
            await division_service.at_or_below(conn, applications.c.division_path, body.filter.division_code)
        )
    return list((await conn.execute(query.order_by(applications.c.created_at))).scalars())


async def migrate_one(
    conn: AsyncConnection, key: str, application_id: str, body: MigrationIn, actor: str
) -> dict[str, Any]:
    app = dict(
        (await conn.execute(sa.select(applications).where(applications.c.id == application_id)))
        .mappings()
        .one()
    )
    result = {"application_id": application_id}
    if app["status"] != "in_progress" or app["definition_version"] != body.from_version:
        return {**result, "can_migrate": False, "reason": "no longer running on the source version"}
    old = await definitions.by_id(conn, app["definition_id"])
    new = await definitions.version_of(conn, key, body.to_version)
    change = await CaseChange.load(conn, app, old, actor)
    try:
        moved = await change.migrate(new, body.task_mapping)
    except engine.EngineError as exc:
        return {**result, "can_migrate": False, "reason": str(exc)}
    open_steps = sorted(name for _, name in moved["tasks"].values())
    for _, name in moved["tasks"].values():
        old_role = old.model.steps.get(next((o for o, n in body.task_mapping.items() if n == name), name))
        if old_role is not None and new.model.steps[name].role != old_role.role:
            return {**result, "can_migrate": False, "reason": f"step {name!r} changes role; not supported"}
    if body.dry_run:
        return {**result, "can_migrate": True, "open_steps": open_steps}

    for old_id, (new_id, name) in moved["tasks"].items():
        step = new.model.steps[name]
        await conn.execute(
            sa.update(tasks)
            .where(
                tasks.c.application_id == application_id,
                tasks.c.engine_task_id == old_id,
                tasks.c.state == "open",
            )
            .values(engine_task_id=new_id, name=name, title=step.title, form=new.config.steps[name].form)
        )
    for old_id, new_id in moved["timers"].items():
        await conn.execute(
            sa.update(timers)
            .where(
                timers.c.application_id == application_id,
                timers.c.engine_task_id == old_id,
                timers.c.fired_at.is_(None),
            )
            .values(engine_task_id=new_id)
        )
    await conn.execute(
        sa.update(applications)
        .where(applications.c.id == application_id)
        .values(definition_id=new.id, definition_version=new.version)
    )
    change.rec.add(
        "application.migrated",
        application_id,
        {"from_version": body.from_version, "to_version": new.version, "task_mapping": body.task_mapping},
        None,
        app["division_path"],
    )
    change.take_outcome_as_is()
    await change.save()
    return {**result, "can_migrate": True, "migrated": True, "open_steps": open_steps}


def check_mapping(body: MigrationIn) -> None:
    if any(not k or not v for k, v in body.task_mapping.items()):
        raise Invalid("invalid_task_mapping", "task_mapping maps step ids to step ids")
