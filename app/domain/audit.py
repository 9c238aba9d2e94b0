"""The audit trail and the outbox, both written inside the caller's transaction."""

import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock
from app.db.models import events, outbox
from app.domain.webhook_events import DATA_MODELS, OUTCOME_TYPES, public_data

# Audit event types that portals also receive (webhooks, app/delivery.py); their payloads
# carry only the fields of ``webhook_events.DATA_MODELS``.
PUBLISHED = set(DATA_MODELS) - {"webhook.ping"}


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
        if type_ in OUTCOME_TYPES.values():
            self._publish_outcome(type_.split(".", 1)[1], application_id, division_path)
        elif type_ in PUBLISHED:
            self.publish(type_, application_id, data, task, division_path)
        if type_ == "application.status_changed" and data.get("to") in OUTCOME_TYPES:
            self._publish_outcome(data["to"], application_id, division_path)

    def _publish_outcome(self, status: str, application_id: str | None, division_path: str | None) -> None:
        """``application.<status>`` once per case and change, whether derived from the status change
        or recorded by the caller itself."""
        type_ = OUTCOME_TYPES[status]
        if not any(o["event_type"] == type_ and o["application_id"] == application_id for o in self._outbox):
            self.publish(type_, application_id, {"status": status}, None, division_path)

    def publish(self, type_: str, application_id: str | None, data: dict, task: dict | None,
                division_path: str | None) -> None:
        """An outbox row only; the fan-out adds the case's program and division."""
        if type_ == "task.claimed" and task:
            data = {"assignee": task.get("assignee"), **data}
        self._outbox.append({
            "event_type": type_, "application_id": application_id, "division_path": division_path,
            "created_at": self.at,
            "payload": {"id": str(uuid.uuid4()), "type": type_, "time": self.at.isoformat(),
                        "application_id": application_id,
                        "task": {"id": task["id"], "name": task["name"], "role": task.get("role"),
                                 "division_code": task.get("division_code")} if task else None,
                        "data": public_data(type_, data)},
        })

    async def flush(self, conn: AsyncConnection) -> None:
        if self._events:
            await conn.execute(sa.insert(events), self._events)
        if self._outbox:
            await conn.execute(sa.insert(outbox), self._outbox)
        self._events, self._outbox = [], []
