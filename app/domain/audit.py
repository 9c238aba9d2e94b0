"""The audit trail and the outbox, both written inside the caller's transaction."""

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock
from app.db.models import applications, events, outbox, report_deltas
from app.db.types import PathType
from app.domain.reports import metrics
from app.domain.webhooks.events import DATA_MODELS, OUTCOME_TYPES, public_data
from app.shapes import RowLike

_INSERT_EVENTS = sa.insert(events)
_INSERT_OUTBOX = sa.insert(outbox)
# One report delta per figure an event adds to, with the case's program read in the same statement.
_INSERT_DELTAS = sa.insert(report_deltas).from_select(
    ["month", "program", "place_path", "metric", "count", "amount"],
    sa.select(
        sa.bindparam("month", type_=sa.Date),
        applications.c.program,
        sa.bindparam("place_path", type_=PathType),
        sa.bindparam("metric", type_=sa.String),
        sa.bindparam("count", type_=sa.Integer),
        sa.bindparam("amount", type_=sa.Numeric(14, 2)),
    ).where(applications.c.id == sa.bindparam("application_id")),
)

# Audit event types that portals also receive (webhooks, app/delivery.py); their payloads
# carry only the fields of ``webhook_events.DATA_MODELS``.
PUBLISHED = set(DATA_MODELS) - {"webhook.ping"}


class Recorder:
    """Collects a change's events and writes them with two statements."""

    def __init__(self, actor: str):
        self.actor = actor
        self.at = clock.now()
        self._events: list[dict[str, Any]] = []
        self._outbox: list[dict[str, Any]] = []
        self._deltas: list[dict[str, object]] = []
        # (type, case) of the outcomes published, flushed or not: one per case and change.
        self._outcomes: set[tuple[str, str | None]] = set()

    def add(
        self,
        type_: str,
        application_id: str | None,
        data: dict[str, Any],
        task: RowLike | None = None,
        division_path: str | None = None,
    ) -> None:
        self._events.append(
            {
                "application_id": application_id,
                "at": self.at,
                "actor": self.actor,
                "type": type_,
                "task_id": task["id"] if task else None,
                "task_name": task["name"] if task else None,
                "data": data,
            }
        )
        if application_id is not None and division_path is not None:
            for metric, count, amount in metrics.event_deltas(type_, task, self.at, data):
                self._count(metric, application_id, division_path, count, amount)
            # The working days a completed step took, worked out by the caller (reports.durations).
            taken = task.get(metrics.DAYS_TAKEN) if type_ == "task.completed" and task is not None else None
            if task is not None and isinstance(taken, int):
                self._count(metrics.days_metric(task["name"], taken), application_id, division_path)
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
        if (type_, application_id) not in self._outcomes:
            self._outcomes.add((type_, application_id))
            if application_id is not None and division_path is not None:
                self._count(status, application_id, division_path)
            self.publish(type_, application_id, {"status": status}, None, division_path)

    def _count(
        self, metric: str, application_id: str, division_path: str, count: int = 1, amount: object = 0
    ) -> None:
        """A report delta (domain/reports), written with the events: counting never locks a shared row."""
        self._deltas.append(
            {
                "month": metrics.month_of(self.at),
                "place_path": metrics.grain_path(division_path),
                "metric": metric,
                "application_id": application_id,
                "count": count,
                "amount": amount,
            }
        )

    def publish(
        self,
        type_: str,
        application_id: str | None,
        data: dict[str, Any],
        task: RowLike | None,
        division_path: str | None,
    ) -> None:
        """An outbox row only; the fan-out adds the case's program and division."""
        if type_ == "task.claimed" and task:
            data = {"assignee": task.get("assignee"), **data}
        self._outbox.append(
            {
                "event_type": type_,
                "application_id": application_id,
                "division_path": division_path,
                "created_at": self.at,
                "payload": {
                    "id": str(uuid.uuid4()),
                    "type": type_,
                    "time": self.at.isoformat(),
                    "application_id": application_id,
                    "task": {
                        "id": task["id"],
                        "name": task["name"],
                        "role": task.get("role"),
                        "division_code": task.get("division_code"),
                    }
                    if task
                    else None,
                    "data": public_data(type_, data),
                },
            }
        )

    async def flush(self, conn: AsyncConnection) -> None:
        if self._events:
            await conn.execute(_INSERT_EVENTS, self._events)
        if self._outbox:
            await conn.execute(_INSERT_OUTBOX, self._outbox)
        if self._deltas:
            await conn.execute(_INSERT_DELTAS, self._deltas)
        self._events, self._outbox, self._deltas = [], [], []


# What changes authority or behaviour (settings, grants, keys, subscriptions, panels, rollouts,
# calendars, definitions) is recorded as ``<subject kind>.<verb>`` with the old and the new value,
# outside any case. These names never reach the trail: a secret is recorded as changed, not shown.
SECRET_FIELDS = frozenset({"password", "password_hash", "key", "key_hash", "secret", "secrets", "token"})


def _check_no_secrets(value: dict[str, Any] | None) -> None:
    if value and (leaked := SECRET_FIELDS & set(value)):
        raise ValueError(f"an audit record must not carry {sorted(leaked)}")


async def record_change(
    conn: AsyncConnection,
    actor: str,
    type_: str,
    subject: str,
    old: dict[str, Any] | None,
    new: dict[str, Any] | None,
    division_code: str | None = None,
) -> None:
    """One authority change in the caller's transaction: ``old`` is None for a creation, ``new`` for
    a removal. ``subject`` names what changed (``user:zhang.wei``, ``setting:linshi/340621/township_limit``)."""
    _check_no_secrets(old)
    _check_no_secrets(new)
    await conn.execute(
        sa.insert(events).values(
            application_id=None,
            subject=subject,
            at=clock.now(),
            actor=actor,
            type=type_,
            task_id=None,
            task_name=None,
            data={"division_code": division_code, "old": old, "new": new},
        )
    )


async def changes(
    conn: AsyncConnection,
    *,
    type_prefix: str | None = None,
    subject: str | None = None,
    subject_prefixes: list[str] | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Authority changes, newest first (pages by ``before_id``); history is never deleted.
    ``subject_prefixes``: any subject starting with one of them (a program's settings at a place)."""
    query = sa.select(events).where(events.c.subject.is_not(None))
    if subject is not None:
        query = query.where(events.c.subject == subject)
    if subject_prefixes is not None:
        query = query.where(
            sa.or_(sa.false(), *(events.c.subject.startswith(p, autoescape=True) for p in subject_prefixes))
        )
    if type_prefix:
        query = query.where(events.c.type.startswith(type_prefix, autoescape=True))
    if before_id is not None:
        query = query.where(events.c.id < before_id)
    rows = await conn.execute(query.order_by(events.c.id.desc()).limit(limit))
    return [
        {"id": r.id, "at": r.at, "actor": r.actor, "type": r.type, "subject": r.subject, **r.data}
        for r in rows.mappings()
    ]
