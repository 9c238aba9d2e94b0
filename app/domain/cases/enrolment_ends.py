"""An approved case's support ends without a step of its process: a person's death or move reported
by message (``enrolment_messages``), or a gradual exit (渐退期) that ran out. The ledger stops paying
and the case becomes terminated through ``change.EndedCaseChange``."""

from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.audit import Recorder
from app.domain.cases.change import EndedCaseChange
from app.domain.cases.effects import enrolment_messages
from app.domain.errors import Conflict, Invalid
from app.domain.money import ledger
from app.domain.programs.definitions import Definition
from app.domain.timekeeping import calendar

GRADUAL_EXIT_ENDED = "gradual exit ended"


async def end_by_message(
    conn: AsyncConnection,
    app: dict[str, Any],
    definition: Definition,
    name: str,
    payload: dict[str, Any],
    rec: Recorder,
) -> dict[str, Any]:
    """Stop an approved case's support: monthly payments end with the month of the event,
    scheduled payments after it are cancelled, and the case is terminated."""
    field = enrolment_messages(definition)[name]
    try:
        day = date.fromisoformat(str(payload.get(field)))
    except ValueError:
        raise Invalid(
            "payload_invalid", f"payload.{field} must be a date (YYYY-MM-DD)", field=field
        ) from None
    if day > calendar.today():
        raise Invalid("payload_invalid", f"payload.{field} is in the future", field=field)
    if app["status"] != "approved":
        raise Conflict(
            "no_waiting_receiver", f"{name!r} ends an approved case's support; this case is {app['status']}"
        )
    ended = await ledger.end_enrolment(conn, app["id"], ledger.end_of_month(day), name)
    cancelled = await ledger.cancel_after(conn, app["id"], day)
    rec.add("message.received", app["id"], {"name": name, "payload": payload}, None, app["division_path"])
    rec.add(
        "enrolment.ended",
        app["id"],
        {"by": name, "on": day.isoformat(), "benefits": ended, "cancelled_payments": cancelled},
        None,
        app["division_path"],
    )
    saved = await EndedCaseChange(conn, app, rec).terminate(name)
    return {"application_id": app["id"], "status": saved.status, "next_tasks": []}


async def end_expired(conn: AsyncConnection, limit: int = 100) -> int:
    """Enrolments whose gradual exit ran out: the enrolment ends and its case is terminated."""
    expired = await ledger.expired(conn, calendar.today(), limit)
    for benefit in expired:
        subject = await ledger.subject_of(conn, benefit["application_id"])
        ended = await ledger.end_enrolment(conn, subject["id"], benefit["ends_on"], GRADUAL_EXIT_ENDED)
        rec = Recorder("system")
        # Recorded like an ending by message, so the reports count the enrolment as ended.
        rec.add(
            "enrolment.ended",
            subject["id"],
            {"by": GRADUAL_EXIT_ENDED, "on": benefit["ends_on"].isoformat(), "benefits": ended},
            None,
            subject["division_path"],
        )
        if subject["status"] == "approved":
            await EndedCaseChange(conn, subject, rec).terminate(GRADUAL_EXIT_ENDED)
        else:
            await rec.flush(conn)
    return len(expired)
