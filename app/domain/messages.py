"""Messages from portals (materials supplemented, objection…), routed to cases in SQL."""

import sqlalchemy as sa
from pydantic import BaseModel, Field, model_validator
from sqlalchemy.ext.asyncio import AsyncConnection

from app import engine
from app.db.models import applications, message_waits
from app.domain import case_effects, cases, definitions, forms
from app.domain.audit import Recorder
from app.domain.errors import Conflict, Invalid, NotFound
from app.domain.principal import Principal


class MessageIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    application_id: str | None = Field(default=None, max_length=36)
    external_ref: str | None = Field(default=None, max_length=200)
    program: str | None = Field(default=None, max_length=100)
    payload: dict = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_target(self) -> "MessageIn":
        if (self.application_id is None) == (self.external_ref is None):
            raise ValueError("give exactly one of application_id or external_ref")
        return self


async def _find(conn: AsyncConnection, principal: Principal, body: MessageIn) -> dict:
    query = sa.select(applications)
    if body.application_id is not None:
        query = query.where(applications.c.id == body.application_id)
    else:
        query = query.where(applications.c.external_ref == body.external_ref)
        if body.program:
            query = query.where(applications.c.program == body.program)
    rows = [dict(r) for r in (await conn.execute(query.limit(2))).mappings()
            if principal.can_see(r["division_path"])]
    if not rows:
        raise NotFound("application_not_found", "no such application")
    if len(rows) > 1:
        raise Invalid("ambiguous_external_ref", "external_ref is used in several programs; add 'program'")
    return rows[0]


async def deliver(conn: AsyncConnection, principal: Principal, body: MessageIn) -> dict:
    return await deliver_to(conn, principal, await _find(conn, principal, body), body.name, body.payload)


async def deliver_to(conn: AsyncConnection, principal: Principal, app: dict, name: str, payload: dict) -> dict:
    """Deliver a message to a case that waits for it (409 otherwise), in the caller's transaction."""
    definition = await definitions.by_id(conn, app["definition_id"])
    if name in case_effects.enrolment_messages(definition.model):
        rec = Recorder(principal.name)
        result = await case_effects.end_by_message(conn, app, definition, name, payload, rec)
        await rec.flush(conn)
        return result
    waiting = (await conn.execute(sa.select(message_waits.c.id).where(
        message_waits.c.application_id == app["id"], message_waits.c.message_name == name))).first()
    if waiting is None:
        raise Conflict("no_waiting_receiver", f"the case is not waiting for {name!r} now")
    form = definition.model.message_forms.get(name)
    forms.validate(definition.forms.get(form) if form else None, payload, code="payload_invalid")
    case, ctx = await cases.load_case(conn, definition, app)
    try:
        delivered = case.deliver_message(name, payload)
    except engine.EngineError as exc:
        raise Invalid("engine_error", f"the process could not continue: {exc}") from exc
    if not delivered:
        raise Conflict("no_waiting_receiver", f"the case is not waiting for {name!r} now")
    rec = Recorder(principal.name)
    rec.add("message.received", app["id"], {"name": name, "payload": payload}, None, app["division_path"])
    opened = await cases.persist(conn, app, definition, cases.outcome_of(case, ctx.days), rec, ctx)
    await rec.flush(conn)
    return {"application_id": app["id"], "status": app["status"], "next_tasks": [cases.task_view(t, ctx.days) for t in opened]}
