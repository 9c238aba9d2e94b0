"""Who may add and read a case's materials, the rows that say what is stored, and the audit of
every upload, download and preview (who read whose household register, when, which bytes).

Adding follows the case (``lookup.load_row``): a portal adds only on the cases it submitted itself,
a reviewer on an open step they may act on, an administrator on any case in progress. Reading is
stricter than the case (``materials.access``: the program's department, the step's holder, the
portal's own uploads). The bytes are put into the store before the row is written (``add``); a
refused file never reaches either.
"""

import re
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.models import attachments, tasks
from app.domain.audit import Recorder
from app.domain.cases import lookup
from app.domain.errors import Conflict, Forbidden, Invalid, NotFound
from app.domain.materials import access, checklists, signatures
from app.domain.materials.access import Reading
from app.domain.materials.files import PREVIEWABLE, CleanFile
from app.domain.people.principal import Principal
from app.domain.programs import definitions
from app.domain.programs.config.values import ChecklistItem

CHECKLIST_KEY = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
ADDED = "application.attachment_added"
DOWNLOADED, PREVIEWED = "attachment.downloaded", "attachment.previewed"

Row = dict[str, Any]


async def _case_of(conn: AsyncConnection, principal: Principal, case_ref: str) -> Row:
    """The case as the caller may read it; a portal only its own; anything else answers like a
    missing case."""
    case = await lookup.load_row(conn, principal, case_ref)
    if principal.kind == "api_key" and case["created_by"] != principal.name:
        raise NotFound("application_not_found", f"no application {case_ref!r}")
    return case


async def case_for_reading(conn: AsyncConnection, principal: Principal, case_ref: str) -> tuple[Row, Reading]:
    """The case and how the caller reads its materials (``materials.access``); a case they may read
    whose materials they may not answers 403 ``materials_not_readable``, the same whether it has
    documents or none."""
    case = await _case_of(conn, principal, case_ref)
    how = await access.reading(conn, principal, case)
    if how is None:
        raise Forbidden(
            "materials_not_readable",
            "a case's materials are read by the offices working on its program and its open step's holder",
        )
    return case, how


async def _open_tasks_i_may_act_on(conn: AsyncConnection, principal: Principal, case_id: str) -> list[Row]:
    rows = await conn.execute(
        sa.select(tasks)
        .where(tasks.c.application_id == case_id, tasks.c.state == "open")
        .order_by(tasks.c.id)
    )
    return [dict(r) for r in rows.mappings() if principal.can_act(r["role"], r["division_path"])]


async def case_for_upload(
    conn: AsyncConnection, principal: Principal, case_ref: str, key: str, task_id: str | None = None
) -> tuple[Row, Row | None]:
    """The case (and the step, when one is named) a caller may add materials to, or the problem;
    ``key`` must be on the program's checklist when it declares one, with room for one more."""
    case = await _case_of(conn, principal, case_ref)
    if case["status"] != "in_progress":
        raise Conflict("case_closed", f"the case is {case['status']}; materials can no longer be added")
    config = (await definitions.by_id(conn, case["definition_id"])).config
    checklists.check_key(config, check_key(key))
    mine = [] if principal.kind == "api_key" else await _open_tasks_i_may_act_on(conn, principal, case["id"])
    task: Row | None = None
    if task_id is not None:
        task = next((t for t in mine if t["id"] == task_id), None)
        if task is None:
            raise Forbidden("not_your_task", "materials can be added only on an open step you may act on")
    elif principal.kind != "api_key" and not (mine or principal.is_admin):
        raise Forbidden(
            "not_allowed_to_add", "only the submitting portal or a reviewer of an open step may add materials"
        )
    signatures.check_step(config, key, task)
    checklists.check_room(checklists.item_of(config, key), await _count_of(conn, case["id"], key))
    return case, task


async def _count_of(conn: AsyncConnection, case_id: str, key: str) -> int:
    return int(
        await conn.scalar(
            sa.select(sa.func.count())
            .select_from(attachments)
            .where(
                attachments.c.application_id == case_id,
                attachments.c.checklist_key == key,
                attachments.c.deleted_at.is_(None),
            )
        )
        or 0
    )


async def item_for_upload(
    conn: AsyncConnection, case_ref: str, principal: Principal, key: str
) -> ChecklistItem | None:
    """The checklist item an upload names (None when the program declares none by that key): what
    kinds of file it accepts is checked on the cleaned file, before the store sees it."""
    case = await _case_of(conn, principal, case_ref)
    return checklists.item_of((await definitions.by_id(conn, case["definition_id"])).config, key)


def check_key(key: str) -> str:
    if not CHECKLIST_KEY.match(key):
        raise Invalid(
            "invalid_checklist_key",
            "the checklist key is 1-64 characters: lower-case letters, digits, '_', '.', '-'",
        )
    return key


def view(row: Row) -> Row:
    return {
        "id": row["id"],
        "application_id": row["application_id"],
        "key": row["checklist_key"],
        "file_name": row["file_name"],
        "content_type": row["content_type"],
        "size": row["size"],
        "sha256": row["sha256"],
        "uploaded_by": row["uploaded_by"],
        "uploaded_at": row["uploaded_at"],
        "task_id": row["task_id"],
        "previewable": row["content_type"] in PREVIEWABLE,
        "signer_name": row.get("signer_name"),
        "signed_at": row.get("signed_at"),
    }


async def add(
    conn: AsyncConnection,
    principal: Principal,
    case_ref: str,
    key: str,
    clean: CleanFile,
    storage_key: str,
    backend: str,
    task_id: str | None = None,
    signer_name: str | None = None,
) -> Row:
    """Record a file already put into the store; the right to add it is checked again here, in the
    transaction that writes the row (it may have changed while the file was being checked).
    ``signer_name``: a signature drawn on the task page, signed now by that person."""
    case, task = await case_for_upload(conn, principal, case_ref, key, task_id)
    rec = Recorder(principal.name)
    row: Row = {
        "id": str(uuid.uuid4()),
        "application_id": case["id"],
        "checklist_key": key,
        "file_name": clean.file_name,
        "content_type": clean.content_type,
        "size": len(clean.content),
        "sha256": storage_key,
        "storage_key": storage_key,
        "storage_backend": backend,
        "uploaded_by": principal.name,
        "uploaded_by_kind": principal.kind,
        "task_id": task["id"] if task else None,
        "uploaded_at": rec.at,
        "deleted_at": None,
        "signer_name": signer_name,
        "signed_at": rec.at if signer_name is not None else None,
    }
    await conn.execute(sa.insert(attachments).values(**row))
    # No file name in the trail: people name files after themselves ("张三身份证.jpg"); the hash says
    # which bytes. The webhook (published by the Recorder) carries key and size only.
    rec.add(
        ADDED,
        case["id"],
        {
            "attachment_id": row["id"],
            "key": key,
            "size": row["size"],
            "sha256": row["sha256"],
            "content_type": row["content_type"],
            "original_size": clean.original_size,
        },
        task,
        case["division_path"],
    )
    if signer_name is not None:
        # Who signed is on the row (the case's record, read like its documents); the trail says
        # which signature of which step, when, and which bytes — no name, as for every document.
        rec.add(
            signatures.RECORDED,
            case["id"],
            {
                "attachment_id": row["id"],
                "key": key,
                "sha256": row["sha256"],
                "signed_at": rec.at.isoformat(),
            },
            task,
            case["division_path"],
        )
    await rec.flush(conn)
    return view(row)


async def of_case(conn: AsyncConnection, principal: Principal, case_ref: str) -> list[Row]:
    case, how = await case_for_reading(conn, principal, case_ref)
    return await _documents(conn, principal, case, how)


async def _documents(conn: AsyncConnection, principal: Principal, case: Row, how: Reading) -> list[Row]:
    query = sa.select(attachments).where(
        attachments.c.application_id == case["id"], attachments.c.deleted_at.is_(None)
    )
    if how is Reading.OWN_UPLOADS:
        query = query.where(
            attachments.c.uploaded_by_kind == principal.kind, attachments.c.uploaded_by == principal.name
        )
    rows = await conn.execute(query.order_by(attachments.c.uploaded_at, attachments.c.id))
    return [view(dict(r)) for r in rows.mappings()]


async def panel(conn: AsyncConnection, principal: Principal, case_ref: str) -> Row | None:
    """The 材料 panel of a case or task page: its documents and checklist, or None when the caller
    reads the case but not its materials (the page then says so, and shows neither)."""
    case = await _case_of(conn, principal, case_ref)
    how = await access.reading(conn, principal, case)
    if how is None:
        return None
    return {
        "materials": await _documents(conn, principal, case, how),
        "checklist": await _checklist_of(conn, case),
    }


async def checklist(conn: AsyncConnection, principal: Principal, case_ref: str) -> Row:
    """The case's checklist (what the program asks for, what is there, what is missing) and the
    keys an upload may name."""
    case, _ = await case_for_reading(conn, principal, case_ref)
    return await _checklist_of(conn, case)


async def _checklist_of(conn: AsyncConnection, case: Row) -> Row:
    config = (await definitions.by_id(conn, case["definition_id"])).config
    present = await conn.execute(
        sa.select(attachments.c.checklist_key).where(
            attachments.c.application_id == case["id"], attachments.c.deleted_at.is_(None)
        )
    )
    reached = await conn.execute(sa.select(tasks.c.name).where(tasks.c.application_id == case["id"]))
    items = checklists.status(config, present.scalars(), reached.scalars(), case["data"] or {})
    return {
        "items": items,
        "missing": [i["label"] for i in items if i["missing"]],
        "choices": checklists.choices(config),
        "signatures": [
            {"key": k, "label": i.label} for k, (i, _) in checklists.signature_items(config).items()
        ],
    }


async def open_for_reading(
    conn: AsyncConnection, principal: Principal, attachment_id: str, *, preview: bool
) -> tuple[Row, bool]:
    """The row of a document the caller may read, and whether it is shown inline; the read is
    recorded in the caller's transaction (a failed read of the store rolls the record back)."""
    row = (
        (await conn.execute(sa.select(attachments).where(attachments.c.id == attachment_id[:36])))
        .mappings()
        .first()
    )
    missing = NotFound("attachment_not_found", f"no attachment {attachment_id!r}")
    if row is None or row["deleted_at"] is not None:
        raise missing
    # Not the caller's to read answers exactly like no such document: another office learns nothing.
    try:
        case, how = await case_for_reading(conn, principal, row["application_id"])
    except (NotFound, Forbidden):
        raise missing from None
    if not access.may_read_document(principal, how, dict(row)):
        raise missing
    inline = preview and row["content_type"] in PREVIEWABLE
    rec = Recorder(principal.name)
    rec.add(
        PREVIEWED if inline else DOWNLOADED,
        case["id"],
        {
            "attachment_id": row["id"],
            "key": row["checklist_key"],
            "sha256": row["sha256"],
            "reader_kind": principal.kind,
        },
        None,
        case["division_path"],
    )
    await rec.flush(conn)
    return dict(row), inline
