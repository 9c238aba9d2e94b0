"""The audit trail and the outbox, both written inside the caller's transaction."""

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock
from app.db.models import events, outbox

# Audit event types that portals also receive (delivery: issue 8).
PUBLISHED = {"application.submitted", "application.status_changed", "task.created", "task.completed",
             "task.claimed", "message.received", "task.reminder", "task.overdue", "notice.opened", "notice.closed",
             "objection.received", "application.withdrawn", "application.terminated", "task.returned",
             "task.withdrawn", "task.transferred", "task.delegated", "task.resolved", "task.signers_added",
             "task.signer_removed", "task.signed", "task.urged", "case.copied", "case.notified"}


class Recorder:
    """Collects a change's events and writes them with two statements."""

    def __init__(self, actor: str):
        self.actor = actor
        self.at = clock.now()
        self._events: list[dict] = []
        self._outbox: list[dict] = []

    def add(self, type_: str, application_id: str | None, data: dict, task: dict | None = None,
            division_path: str | None = None) -> None:
        self._events.append({
            "application_id": application_id, "at": self.at, "actor": self.actor, "type": type_,
            "task_id": task["id"] if task else None, "task_name": task["name"] if task else None, "data": data,
        })
        if type_ in PUBLISHED:
            self._outbox.append({
                "event_type": type_, "application_id": application_id, "division_path": division_path,
                "created_at": self.at,
                "payload": {"type": type_, "at": self.at.isoformat(), "application_id": application_id,
                            "task_id": task["id"] if task else None, "task": task["name"] if task else None},
            })

    async def flush(self, conn: AsyncConnection) -> None:
        if self._events:
            await conn.execute(sa.insert(events), self._events)
        if self._outbox:
            await conn.execute(sa.insert(outbox), self._outbox)
        self._events, self._outbox = [], []
