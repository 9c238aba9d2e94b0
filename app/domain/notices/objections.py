"""Objections to a notice entry, routed to their case in the same transaction.

Two ways in, one path: the public form (``submit``, no login) and a portal relaying a citizen's
objection as the message ``objection`` (``relay``, from ``POST /messages``). Both create an
objection record with a number and check code, which the answering step must answer.
"""

import hashlib
import secrets
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock
from app.db.models import applications, notice_entries, objections
from app.domain.audit import Recorder
from app.domain.cases import receiving, store
from app.domain.errors import Conflict, Invalid, NotFound
from app.domain.notices import entries as notices
from app.domain.people.principal import Principal
from app.domain.programs import definitions
from app.domain.timekeeping import calendar
from app.shapes import RowLike

PUBLIC = Principal(name="public", kind="system")


class ObjectionIn(BaseModel):
    entry_id: str = Field(min_length=1, max_length=36)
    reason: str = Field(min_length=5, max_length=2000)
    name: str | None = Field(default=None, max_length=100)
    contact: str | None = Field(default=None, max_length=200)


def answering_steps(definition: definitions.Definition) -> set[str]:
    return {step_id for step_id, step in definition.config.steps.items() if step.answers_objections}


def _closed() -> Conflict:
    return Conflict(
        "notice_closed", "the notice period of this entry is over; objections are no longer accepted"
    )


async def submit(conn: AsyncConnection, notice_id: str, body: ObjectionIn) -> dict[str, Any]:
    await notices.get(conn, notice_id)
    entry = (
        (
            await conn.execute(
                sa.select(notice_entries).where(
                    notice_entries.c.id == body.entry_id, notice_entries.c.notice_id == notice_id
                )
            )
        )
        .mappings()
        .first()
    )
    if entry is None:
        raise NotFound("entry_not_found", "no such entry on this notice")
    app = dict(
        (await conn.execute(sa.select(applications).where(applications.c.id == entry["application_id"])))
        .mappings()
        .one()
    )
    number, code = await _record(conn, PUBLIC, dict(entry), app, body.reason, body.name, body.contact)
    return {
        "number": number,
        "check_code": code,
        "status": "received",
        "detail": "请妥善保存异议编号和查询码，凭此查询处理结果。",
    }


async def relay(
    conn: AsyncConnection, principal: Principal, app: dict[str, Any], payload: dict[str, Any]
) -> dict[str, Any]:
    """A portal passes on a citizen's objection to a case on notice: the same record as the public
    form's (number and check code for the citizen), and the case reacts alike."""
    entry = (
        (
            await conn.execute(
                sa.select(notice_entries)
                .where(
                    notice_entries.c.application_id == app["id"],
                    notice_entries.c.status.in_(("listed", "objected", "resolved")),
                )
                .order_by(notice_entries.c.created_at.desc())
                .limit(1)
            )
        )
        .mappings()
        .first()
    )
    if entry is None:
        raise Conflict(
            "no_waiting_receiver", "the case is not on a notice now; an objection cannot be received"
        )
    number, code = await _record(
        conn, principal, dict(entry), app, str(payload.get("reason", "")), None, payload.get("contact")
    )
    return {
        "application_id": app["id"],
        "status": app["status"],
        "kept": False,
        "objection_number": number,
        "check_code": code,
    }


async def _record(
    conn: AsyncConnection,
    principal: Principal,
    entry: dict[str, Any],
    app: dict[str, Any],
    reason: str,
    name: str | None,
    contact: str | None,
) -> tuple[str, str]:
    """Check the entry still takes objections, store one, and move the case if it waits for one.

    An entry takes objections for its whole period (issue 15: a second objection after the first
    was answered got 409 while the page said 公示中): while it is listed, while its case is being
    re-investigated (that step answers this one too), and after an answer while its case waits for
    the period to end (the objection sends it back to re-investigation)."""
    now = clock.now()
    if now >= entry["ends_at"] or entry["status"] not in ("listed", "objected", "resolved"):
        raise _closed()
    definition = await definitions.by_id(conn, app["definition_id"])
    answered_by_open_step = entry["status"] != "listed" and await notices.has_open_answering_task(
        conn, app["id"], answering_steps(definition)
    )
    if (
        entry["status"] == "resolved"
        and not answered_by_open_step
        and not await store.waits_for(conn, app["id"], "objection")
    ):
        raise _closed()  # the case has left the notice's path (refused, withdrawn): nobody would answer
    number = f"YY{now.astimezone(calendar.SHANGHAI):%Y%m%d}{secrets.randbelow(10**8):08d}"
    code = new_check_code()
    await conn.execute(
        sa.insert(objections).values(
            number=number,
            check_hash=hash_code(normalized_code(code)),
            notice_id=entry["notice_id"],
            entry_id=entry["id"],
            application_id=app["id"],
            reason=reason,
            name=name,
            contact=contact,
            status="received",
            created_at=now,
        )
    )
    rec = Recorder(principal.name)
    data = {"objection_number": number, "notice_id": entry["notice_id"], "entry_id": entry["id"]}
    if principal is not PUBLIC:
        data["relayed_by"] = principal.name
    rec.add("objection.received", app["id"], data, None, app["division_path"])
    await rec.flush(conn)
    if not answered_by_open_step:
        payload = {"objection_number": number, "reason": reason}
        if contact:
            payload["contact"] = contact
        await receiving.deliver_to(conn, principal, app, "objection", payload)
        if entry["status"] == "resolved":  # back under re-investigation
            await conn.execute(
                sa.update(notice_entries).where(notice_entries.c.id == entry["id"]).values(status="objected")
            )
    return number, code


CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_check_code() -> str:
    """12 characters (about 59 bits), shown in groups of four: K7QM-2WXP-9RHT."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(12))
    return "-".join(raw[i : i + 4] for i in range(0, 12, 4))


def normalized_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def hash_code(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def objection_view(row: RowLike, *, private: bool) -> dict[str, Any]:
    view = {
        "number": row["number"],
        "status": row["status"],
        "outcome": row["outcome"],
        "reply": row["reply"],
        "received_at": row["created_at"],
        "answered_at": row["answered_at"],
    }
    if private:  # reviewers see who objected and how to reach them; the public never does
        view.update(
            reason=row["reason"],
            name=row["name"],
            contact=row["contact"],
            entry_id=row["entry_id"],
            notice_id=row["notice_id"],
            answered_by=row["answered_by"],
        )
    return view


async def follow(conn: AsyncConnection, number: str, code: str) -> dict[str, Any]:
    """Number and code as people type them: spaces, lower case and the dashes of the printed code
    do not matter (codes made before they were grouped are compared as given)."""
    number = "".join(number.split()).upper()
    row = (await conn.execute(sa.select(objections).where(objections.c.number == number))).mappings().first()
    # A wrong code answers like an unknown number: numbers cannot be probed.
    if row is None or not any(
        secrets.compare_digest(row["check_hash"], hash_code(candidate))
        for candidate in (normalized_code(code), code.strip())
    ):
        raise NotFound("objection_not_found", "no objection with this number and check code")
    return objection_view(row, private=False)


async def of_application(
    conn: AsyncConnection, application_id: str, open_only: bool = False
) -> list[dict[str, Any]]:
    query = sa.select(objections).where(objections.c.application_id == application_id)
    if open_only:
        query = query.where(objections.c.status == "received")
    rows = (await conn.execute(query.order_by(objections.c.id))).mappings()
    return [objection_view(r, private=True) for r in rows]


async def answer(
    conn: AsyncConnection,
    application_id: str,
    outcomes: object,
    actor: str,
    rec: Recorder,
    division_path: str,
) -> None:
    """Record the outcome of every open objection of the case (the step that answers them)."""
    pending = {o["number"] for o in await of_application(conn, application_id, open_only=True)}
    if not isinstance(outcomes, list):
        outcomes = []
    given = {}
    for item in outcomes:
        if not (
            isinstance(item, dict)
            and item.get("outcome") in ("upheld", "dismissed")
            and isinstance(item.get("reply"), str)
            and item["reply"].strip()
            and item.get("objection_number") in pending
        ):
            raise Invalid(
                "objection_outcome_invalid",
                "each objection outcome needs an open objection_number, "
                "outcome 'upheld' or 'dismissed' and a reply",
                item=item,
            )
        given[item["objection_number"]] = item
    missing = sorted(pending - set(given))
    if missing:
        raise Invalid("objection_outcomes_missing", "every open objection needs an outcome", missing=missing)
    now = clock.now()
    for number, item in given.items():
        await conn.execute(
            sa.update(objections)
            .where(objections.c.number == number)
            .values(
                status="answered",
                outcome=item["outcome"],
                reply=item["reply"].strip(),
                answered_by=actor,
                answered_at=now,
            )
        )
        rec.add(
            "objection.answered",
            application_id,
            {"objection_number": number, "outcome": item["outcome"]},
            None,
            division_path,
        )
    await conn.execute(
        sa.update(notice_entries)
        .where(notice_entries.c.application_id == application_id, notice_entries.c.status == "objected")
        .values(status="resolved")
    )
