"""Public notices (公示) and objections (异议).

When a case starts waiting on a BPMN element marked ``notice`` (a timer, or an event-based
gateway holding one), it becomes an entry of the notice of its place, program, step and day.
Only the program's declared public fields are stored on the entry, masked as they are
written (Personal Information Protection Law): the public endpoints read entries only and
never touch the application.
"""

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock
from app.db.models import divisions, notice_entries, notices, tasks
from app.domain.audit import Recorder
from app.domain.errors import NotFound
from app.domain.notices.publication import PUBLIC_FIELDS, mask_name, published
from app.domain.people.divisions import at_or_below
from app.domain.programs.config import CatchEventConfig, Deployed
from app.domain.timekeeping import calendar
from app.shapes import RowLike

POSTING_LABELS = {
    "village_board": "村（居）务公开栏",
    "website": "政府网站",
    "school": "校内公示栏",
    "kindergarten": "园内公示栏",
    "township_board": "乡镇（街道）政务公开栏",
}


def declared_fields(definition: Deployed) -> list[str]:
    return list(definition.config.process.notice_fields or PUBLIC_FIELDS)


def _public_view(definition: Deployed, app: dict[str, Any], village: str, number: int) -> dict[str, Any]:
    """The only data of a case that ever leaves through public endpoints."""
    children = definition.config.process.notice_subject == "child"
    values = {
        # Children appear by entry number only, never by name (student and preschool aid).
        "name": None if children else mask_name(app["applicant"]["name"]),
        "household_size": app["data"].get("household_size"),
        "proposed_decision": "approve",
        "amount": app["data"].get("proposed_amount"),
        "village": village,
    }
    return published({"entry_number": number, **{f: values[f] for f in declared_fields(definition)}})


async def _find_or_create_notice(
    conn: AsyncConnection, key: dict[str, Any], values: dict[str, Any]
) -> dict[str, Any]:
    query = sa.select(notices).where(*(notices.c[k] == v for k, v in key.items()))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()  # entries of one notice are numbered one at a time
    row = (await conn.execute(query)).mappings().first()
    if row is None:
        try:
            async with conn.begin_nested():
                await conn.execute(sa.insert(notices).values(**key, **values))
        except IntegrityError:
            pass  # another case opened the same notice at the same moment
        row = (await conn.execute(query)).mappings().one()
    return dict(row)


async def open_entry(
    conn: AsyncConnection,
    app: dict[str, Any],
    definition: Deployed,
    step: str,
    ends_at: datetime,
    issuer_code: str,
    rec: Recorder,
) -> None:
    now = clock.now()
    props = definition.config.catch_events.get(step) or CatchEventConfig()
    # The place names and how many notices of this step the case had before, in one statement.
    earlier_count = (
        sa.select(sa.func.count())
        .select_from(notice_entries.join(notices, notices.c.id == notice_entries.c.notice_id))
        .where(notice_entries.c.application_id == app["id"], notices.c.step == step)
        .scalar_subquery()
    )
    rows = (
        await conn.execute(
            sa.select(divisions.c.code, divisions.c.name, earlier_count).where(
                divisions.c.code.in_([app["division_code"], issuer_code])
            )
        )
    ).all()
    names = {code: name for code, name, _ in rows}
    earlier = rows[0][2]
    key = {
        "program": definition.key,
        "step": step,
        "division_code": app["division_code"],
        "posted_on": now.astimezone(calendar.SHANGHAI).date().isoformat(),
        "round": earlier + 1,
    }
    title = props.notice_title or f"{definition.name}{'重新' if earlier else ''}公示"
    notice = await _find_or_create_notice(
        conn,
        key,
        {
            "id": str(uuid.uuid4()),
            "title": title,
            "issuer": names[issuer_code] + props.notice_issuer_suffix,
            "division_path": app["division_path"],
            "starts_at": now,
            "ends_at": ends_at,
            "created_at": now,
            "postings": list(props.notice_postings),
        },
    )
    if ends_at > notice["ends_at"]:
        await conn.execute(sa.update(notices).where(notices.c.id == notice["id"]).values(ends_at=ends_at))
    number = (
        await conn.execute(
            sa.select(sa.func.coalesce(sa.func.max(notice_entries.c.number), 0)).where(
                notice_entries.c.notice_id == notice["id"]
            )
        )
    ).scalar_one() + 1
    entry_id = str(uuid.uuid4())
    await conn.execute(
        sa.insert(notice_entries).values(
            id=entry_id,
            notice_id=notice["id"],
            application_id=app["id"],
            number=number,
            status="listed",
            public=_public_view(definition, app, names[app["division_code"]], number),
            ends_at=ends_at,
            created_at=now,
        )
    )
    rec.add(
        "notice.opened",
        app["id"],
        {
            "notice_id": notice["id"],
            "entry_id": entry_id,
            "entry_number": number,
            "round": key["round"],
            "ends_at": ends_at.isoformat(),
        },
        None,
        app["division_path"],
    )


async def close_entries(
    conn: AsyncConnection,
    application_id: str,
    step: str,
    rec: Recorder,
    division_path: str,
    *,
    objected: bool,
    reason: str | None = None,
) -> None:
    """The case stopped waiting at its notice: the period ended, an objection took it away, or
    the case went back (``reason`` "returned") or was withdrawn."""
    listed = notice_entries.c.id.in_(
        sa.select(notice_entries.c.id)
        .join(notices, notices.c.id == notice_entries.c.notice_id)
        .where(
            notice_entries.c.application_id == application_id,
            notices.c.step == step,
            notice_entries.c.status == "listed",
        )
    )
    closed = await conn.execute(
        sa.update(notice_entries)
        .where(listed)
        .values(status=reason or ("objected" if objected else "passed"))
        .returning(notice_entries.c.notice_id)
    )
    for row in closed:
        kind = "notice.closed" if reason or not objected else "notice.objected"
        rec.add(
            kind,
            application_id,
            {"notice_id": row.notice_id, **({"reason": reason} if reason else {})},
            None,
            division_path,
        )


def _state(row: RowLike) -> str:
    return "open" if clock.now() < row["ends_at"] else "closed"


async def how_to_object(conn: AsyncConnection, notice: dict[str, Any], base_url: str | None) -> str:
    """How to object, in words for the board and the web page: the deadline, the web address (when
    the installation knows its public one), the issuer, and the complaint telephone of the nearest
    place at or above the notice that has one (监督电话). No API paths: people read this."""
    end = notice["ends_at"].astimezone(calendar.SHANGHAI)
    where = (
        f"登录 {base_url.rstrip('/')}/ui/public/notices/{notice['id']} 在网上提交，"
        if base_url
        else "在政府网站“公示公告”栏目中找到本公示在网上提交，"
    )
    text = (
        f"对公示对象有异议的，请于公示期内（{end.year}年{end.month}月{end.day}日{end:%H:%M}前）提出，写明异议对象的"
        f"公示序号和理由（5至2000字），可留下联系方式。可{where}也可向{notice['issuer']}当面或书面反映。"
        "提交后请保存异议编号和查询码，凭此查询处理结果。"
    )
    codes = [c for c in notice["division_path"].split("/") if c]
    phones = (
        await conn.execute(
            sa.select(divisions.c.name, divisions.c.complaint_phone, divisions.c.path).where(
                divisions.c.code.in_(codes), divisions.c.complaint_phone.is_not(None)
            )
        )
    ).all()
    if phones:
        nearest = max(phones, key=lambda r: len(r.path))
        text += f"监督电话：{nearest.complaint_phone}（{nearest.name}）。"
    return text


def notice_view(
    notice: dict[str, Any], entries: list[dict[str, Any]] | None = None, how_to_object: str | None = None
) -> dict[str, Any]:
    view = {
        k: notice[k]
        for k in (
            "id",
            "program",
            "step",
            "title",
            "issuer",
            "division_code",
            "posted_on",
            "round",
            "starts_at",
            "ends_at",
        )
    }
    view["state"] = _state(notice)
    view["postings"] = [{"code": p, "label": POSTING_LABELS.get(p, p)} for p in notice["postings"]]
    if entries is not None:
        # Checked again on the way out: an entry stored before values were typed may hold anything.
        view["entries"] = [
            {"id": e["id"], **published(e["public"] if isinstance(e["public"], dict) else {})}
            for e in entries
        ]
        view["how_to_object"] = how_to_object
    return view


async def list_open(
    conn: AsyncConnection, division_code: str | None, limit: int = 200
) -> list[dict[str, Any]]:
    query = sa.select(notices).where(notices.c.ends_at > clock.now())
    if division_code:
        query = query.where(await at_or_below(conn, notices.c.division_path, division_code))
    rows = (
        await conn.execute(query.order_by(notices.c.starts_at.desc(), notices.c.id).limit(limit))
    ).mappings()
    return [notice_view(dict(r)) for r in rows]


async def get(conn: AsyncConnection, notice_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    notice = (await conn.execute(sa.select(notices).where(notices.c.id == notice_id))).mappings().first()
    if notice is None:
        raise NotFound("notice_not_found", "no such notice")
    entries = (
        (
            await conn.execute(
                sa.select(notice_entries)
                .where(notice_entries.c.notice_id == notice_id)
                .order_by(notice_entries.c.number)
            )
        )
        .mappings()
        .all()
    )
    return dict(notice), [dict(e) for e in entries]


# Read aloud on the phone and typed from paper: no 0/O, 1/I/L look-alikes, no case to get wrong.
# Ordered, not max(): the column's own type reads the instant back on SQLite too. Built once: a
# process using notice_end() asks this on every change of a case.
_PERIOD_END = (
    sa.select(notice_entries.c.ends_at)
    .where(
        notice_entries.c.application_id == sa.bindparam("app_id"),
        notice_entries.c.status.in_(("listed", "objected", "resolved")),
    )
    .order_by(notice_entries.c.ends_at.desc())
    .limit(1)
)


async def open_period_end(conn: AsyncConnection, application_id: str) -> datetime | None:
    """When the notice period of the case's newest entry ends (None: the case was never posted)."""
    end: datetime | None = (await conn.execute(_PERIOD_END, {"app_id": application_id})).scalar()
    return end


async def has_open_answering_task(
    conn: AsyncConnection, application_id: str, answering_steps: set[str]
) -> bool:
    return bool(
        (
            await conn.execute(
                sa.select(tasks.c.id)
                .where(
                    tasks.c.application_id == application_id,
                    tasks.c.state == "open",
                    tasks.c.name.in_(answering_steps),
                )
                .limit(1)
            )
        ).first()
    )


async def entries_of_application(conn: AsyncConnection, application_id: str) -> list[dict[str, Any]]:
    """The notices a case was posted on, with its entry there (number, status, period)."""
    rows = await conn.execute(
        sa.select(
            notices.c.id.label("notice_id"),
            notices.c.title,
            notices.c.round,
            notices.c.starts_at,
            notices.c.ends_at,
            notice_entries.c.id.label("entry_id"),
            notice_entries.c.number,
            notice_entries.c.status,
        )
        .join(notices, notices.c.id == notice_entries.c.notice_id)
        .where(notice_entries.c.application_id == application_id)
        .order_by(notices.c.starts_at, notices.c.id)
    )
    return [dict(r) for r in rows.mappings()]
