"""A message to one case: it ends an enrolment, reaches the event waiting for it, is kept until the
case waits for it (``keep_early``), or is refused with a 409 — in the caller's transaction."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.audit import Recorder
from app.domain.cases import early_messages, effects, enrolment_ends, store, views
from app.domain.cases.change import CaseChange
from app.domain.errors import Conflict
from app.domain.people.principal import Principal
from app.domain.programs import definitions, forms


async def deliver_to(
    conn: AsyncConnection, principal: Principal, app: dict[str, Any], name: str, payload: dict[str, Any]
) -> dict[str, Any]:
    """Deliver a message to a case that waits for it, keep it if its BPMN says so, or 409 — in the caller's transaction."""
    definition = await definitions.by_id(conn, app["definition_id"])
    if name in effects.enrolment_messages(definition):
        return await enrolment_ends.end_by_message(
            conn, app, definition, name, payload, Recorder(principal.name)
        )
    form = definition.model.message_forms.get(name)
    forms.validate(definition.forms.get(form) if form else None, payload, code="payload_invalid")
    if not await store.waits_for(conn, app["id"], name):
        keep = definition.config.message(name).keep_early
        if keep and app["status"] == "in_progress":
            return await early_messages.keep(conn, principal, app, name, payload, keep)
        raise Conflict("no_waiting_receiver", f"the case is not waiting for {name!r} now")
    change = await CaseChange.load(conn, app, definition, principal.name)
    saved = await change.deliver(name, payload)
    return {
        "application_id": app["id"],
        "status": saved.status,
        "kept": False,
        "next_tasks": [views.task_view(t, change.days) for t in saved.opened],
    }
