"""A case's status written without an engine step: an approved case's support ending.

``store.save_state`` writes the status a change of the process gives (the end event reached);
this is the one other writer, for a case whose process has finished: a death or a move reported by
message, a gradual exit that ran out, or a re-check ending in termination. Both check the version
they read, so two writers of one case never both win.
"""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.models import applications
from app.domain.audit import Recorder
from app.domain.errors import Conflict

TERMINATED = "terminated"


async def terminate_ended(conn: AsyncConnection, case: dict[str, Any], rec: Recorder, reason: str) -> None:
    """``case`` (an application row, updated in place) becomes terminated, with the events saying why."""
    done = await conn.execute(
        sa.update(applications)
        .where(applications.c.id == case["id"], applications.c.version == case["version"])
        .values(status=TERMINATED, version=case["version"] + 1, updated_at=rec.at)
    )
    if done.rowcount != 1:
        raise Conflict("concurrent_change", "the enrolment's case changed at the same time; retry")
    rec.add(
        "application.status_changed",
        case["id"],
        {"from": case["status"], "to": TERMINATED, "reason": reason},
        None,
        case["division_path"],
    )
    rec.add("application.terminated", case["id"], {"reason": reason}, None, case["division_path"])
    case.update(status=TERMINATED, version=case["version"] + 1, updated_at=rec.at)
