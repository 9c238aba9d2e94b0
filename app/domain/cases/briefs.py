"""What an inbox row shows of its case beyond the task: the applicant, who submitted the case (a
login; ``people.directory`` names the person or the portal) and where the case stands now (its open
steps, or how it ended). Read for one page of rows in at most two queries."""

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.models import applications, tasks


@dataclass(frozen=True)
class CaseBrief:
    applicant_name: str
    applicant_id_number: str | None
    submitted_by: str  # a login (a user's, a portal key's) or "system"
    status: str  # applications.status: in_progress, approved, refused, withdrawn, terminated
    current_steps: tuple[str, ...]  # titles of the open steps (only when asked for)


async def of_cases(
    conn: AsyncConnection, application_ids: Iterable[str], *, with_steps: bool = False
) -> dict[str, CaseBrief]:
    ids = sorted(set(application_ids))
    if not ids:
        return {}
    rows = (
        await conn.execute(
            sa.select(
                applications.c.id,
                applications.c.applicant,
                applications.c.applicant_id_number,
                applications.c.created_by,
                applications.c.status,
            ).where(applications.c.id.in_(ids))
        )
    ).all()
    steps: dict[str, list[str]] = {}
    if with_steps:
        open_steps = await conn.execute(
            sa.select(tasks.c.application_id, tasks.c.title)
            .where(tasks.c.application_id.in_(ids), tasks.c.state == "open")
            .order_by(tasks.c.application_id, tasks.c.created_at, tasks.c.id)
        )
        for application_id, title in open_steps:
            if title not in steps.setdefault(application_id, []):
                steps[application_id].append(title)
    return {
        r.id: CaseBrief(
            applicant_name=str((r.applicant or {}).get("name", "")),
            applicant_id_number=r.applicant_id_number,
            submitted_by=r.created_by,
            status=r.status,
            current_steps=tuple(steps.get(r.id, ())),
        )
        for r in rows
    }
