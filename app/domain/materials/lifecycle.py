"""The end of materials: deletion by the program's retention, and of objects no row names.

**Retention.** A program keeps a case's materials ``materials_retention_years`` after the case ends
(its BPMN; absent: for good). Then each row is marked deleted (reads already ignore such a row) with
an ``attachment.deleted`` event on the case naming the bytes by their SHA-256 — never the file's
name. The row stays: the trail keeps pointing at what was there.

**Orphans.** An object no live row names is deleted once it is older than the grace period
(``AIDFLOW_STORAGE_ORPHAN_GRACE_SECONDS``): the bytes of expired rows (identical files are one
object, so an object goes only when no live row of any case names it), and objects whose row was
never written (a crash between the put and the insert). An upload writes the object before its row
and renews the object's time when the bytes were already there, so an object being uploaded is never
older than the grace; the sweep checks that time again just before deleting.

**Unfinished writes.** The local store writes beside the target and renames; a crash in between
leaves a ``.incoming-*`` file, removed once an hour old (``UNFINISHED_WRITE_AGE``).

All three run from ``aidflow prune``, in batches, safe beside the service and other prune runs: the
update that marks a row deleted only takes rows not yet deleted, and returns the ones it took.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app import clock
from app.db.engine import transaction
from app.db.models import applications, attachments
from app.domain.audit import Recorder
from app.domain.programs import definitions
from app.storage import ObjectStore

DELETED = "attachment.deleted"
# A local write lasts seconds; its temporary file still there after an hour was left by a crash.
UNFINISHED_WRITE_AGE = timedelta(hours=1)
log = structlog.get_logger(__name__)


@dataclass
class Sweep:
    expired: int = 0  # rows past their program's retention, marked deleted
    orphans: int = 0  # objects no live row names, deleted from the store
    unfinished: int = 0  # temporary files of local writes a crash interrupted

    def as_dict(self) -> dict[str, int]:
        return {
            "attachments (retention)": self.expired,
            "stored objects without a row": self.orphans,
            "unfinished writes (.incoming-*)": self.unfinished,
        }


def years_before(moment: datetime, years: int) -> datetime:
    """The same day and time ``years`` earlier (28 February for a 29 February)."""
    day: date = moment.date()
    try:
        return moment.replace(year=day.year - years)
    except ValueError:
        return moment.replace(year=day.year - years, day=28)


async def _retention_by_definition(db: AsyncEngine) -> dict[int, int]:
    """Definition id → retention years, for the definitions of ended cases that still have materials."""
    async with db.connect() as conn:
        ids = await conn.scalars(
            sa.select(applications.c.definition_id)
            .distinct()
            .where(
                applications.c.ended_at.is_not(None),
                sa.exists().where(
                    attachments.c.application_id == applications.c.id, attachments.c.deleted_at.is_(None)
                ),
            )
        )
        found = {}
        for definition_id in list(ids):
            years = (await definitions.by_id(conn, definition_id)).config.process.materials_retention_years
            if years is not None:
                found[definition_id] = years
    return found


def _expired(definition_id: int, cut: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        attachments.c.deleted_at.is_(None),
        attachments.c.application_id.in_(
            sa.select(applications.c.id).where(
                applications.c.definition_id == definition_id, applications.c.ended_at < cut
            )
        ),
    )


async def expire(
    db: AsyncEngine, batch_size: int, *, dry_run: bool = False, now: datetime | None = None
) -> int:
    """Mark deleted the materials of cases ended longer ago than their program keeps them."""
    now = now or clock.now()
    total = 0
    for definition_id, years in (await _retention_by_definition(db)).items():
        where = _expired(definition_id, years_before(now, years))
        if dry_run:
            async with db.connect() as conn:
                total += int(await conn.scalar(sa.select(sa.func.count()).where(where)) or 0)
            continue
        while True:
            async with transaction(db) as conn:
                ids = list(await conn.scalars(sa.select(attachments.c.id).where(where).limit(batch_size)))
                if not ids:
                    break
                taken = await conn.execute(
                    sa.update(attachments)
                    .where(attachments.c.id.in_(ids), attachments.c.deleted_at.is_(None))
                    .values(deleted_at=now)
                    .returning(*attachments.c)
                )
                rows = [dict(r) for r in taken.mappings()]
                await _record(conn, rows, years)
            total += len(rows)
    return total


async def _record(conn: AsyncConnection, rows: list[dict[str, Any]], years: int) -> None:
    places = dict(
        (
            await conn.execute(
                sa.select(applications.c.id, applications.c.division_path).where(
                    applications.c.id.in_({r["application_id"] for r in rows})
                )
            )
        ).all()
    )
    rec = Recorder("system")
    for row in rows:
        rec.add(
            DELETED,
            row["application_id"],
            {
                "attachment_id": row["id"],
                "key": row["checklist_key"],
                "sha256": row["sha256"],
                "size": row["size"],
                "content_type": row["content_type"],
                "reason": "retention",
                "retention_years": years,
            },
            None,
            places[row["application_id"]],
        )
    await rec.flush(conn)


async def sweep_orphans(
    db: AsyncEngine,
    store: ObjectStore,
    grace: timedelta,
    batch_size: int,
    *,
    dry_run: bool = False,
) -> int:
    """Delete the objects no live row names that are older than ``grace`` (wall clock: the store's)."""
    after, total = "", 0
    while page := await store.list_objects(after, batch_size):
        after = page[-1].key
        cut = datetime.now(UTC) - grace
        old = [o.key for o in page if o.modified_at < cut]
        if not old:
            continue
        async with db.connect() as conn:
            named = set(
                await conn.scalars(
                    sa.select(attachments.c.storage_key)
                    .distinct()
                    .where(attachments.c.storage_key.in_(old), attachments.c.deleted_at.is_(None))
                )
            )
        for key in (k for k in old if k not in named):
            modified = await store.modified_at(key)
            if modified is None or modified >= datetime.now(UTC) - grace:
                continue  # gone already, or written again meanwhile: an upload is using it
            if not dry_run:
                await store.delete(key)
                log.info("stored_object_deleted", sha256=key, backend=store.name)
            total += 1
    return total


async def prune(
    db: AsyncEngine, store: ObjectStore, grace: timedelta, batch_size: int, *, dry_run: bool = False
) -> Sweep:
    """Retention first, so the bytes of what it expired go in the same run."""
    sweep = Sweep(expired=await expire(db, batch_size, dry_run=dry_run))
    sweep.orphans = await sweep_orphans(db, store, grace, batch_size, dry_run=dry_run)
    sweep.unfinished = await store.remove_unfinished_writes(UNFINISHED_WRITE_AGE, dry_run=dry_run)
    return sweep
