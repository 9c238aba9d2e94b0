"""Objections from the public, routed to their case in the same transaction."""

import secrets

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock
from app.db.models import applications, notice_entries, objections
from app.domain import calendar, definitions, messages, notices
from app.domain.audit import Recorder
from app.domain.errors import Conflict, NotFound
from app.domain.principal import Principal

PUBLIC = Principal(name="public", kind="system")


class ObjectionIn(BaseModel):
    entry_id: str = Field(min_length=1, max_length=36)
    reason: str = Field(min_length=5, max_length=2000)
    name: str | None = Field(default=None, max_length=100)
    contact: str | None = Field(default=None, max_length=200)


def answering_steps(definition: definitions.Definition) -> set[str]:
    return {s.id for s in definition.model.steps.values() if s.properties.get("answers_objections") == "true"}


async def submit(conn: AsyncConnection, notice_id: str, body: ObjectionIn) -> dict:
    await notices.get(conn, notice_id)
    entry = (await conn.execute(sa.select(notice_entries).where(
        notice_entries.c.id == body.entry_id, notice_entries.c.notice_id == notice_id))).mappings().first()
    if entry is None:
        raise NotFound("entry_not_found", "no such entry on this notice")
    now = clock.now()
    closed = Conflict("notice_closed", "the notice period of this entry is over; objections are no longer accepted")
    if now >= entry["ends_at"] or entry["status"] not in ("listed", "objected"):
        raise closed
    app = dict((await conn.execute(sa.select(applications).where(
        applications.c.id == entry["application_id"]))).mappings().one())
    if entry["status"] == "objected":
        # Already under re-investigation: the open step will have to answer this one too.
        definition = await definitions.by_id(conn, app["definition_id"])
        if not await notices.has_open_answering_task(conn, app["id"], answering_steps(definition)):
            raise closed
    number = f"YY{now.astimezone(calendar.SHANGHAI):%Y%m%d}{secrets.randbelow(10**8):08d}"
    code = secrets.token_urlsafe(9)
    await conn.execute(sa.insert(objections).values(
        number=number, check_hash=notices.hash_code(code), notice_id=notice_id, entry_id=entry["id"],
        application_id=app["id"], reason=body.reason, name=body.name, contact=body.contact, status="received",
        created_at=now))
    rec = Recorder(PUBLIC.name)
    rec.add("objection.received", app["id"], {"objection_number": number, "notice_id": notice_id,
                                              "entry_id": entry["id"]}, None, app["division_path"])
    await rec.flush(conn)
    if entry["status"] == "listed":
        payload = {"objection_number": number, "reason": body.reason}
        if body.contact:
            payload["contact"] = body.contact
        await messages.deliver_to(conn, PUBLIC, app, "objection", payload)
    return {"number": number, "check_code": code, "status": "received",
            "detail": "请妥善保存异议编号和查询码，凭此查询处理结果。"}
