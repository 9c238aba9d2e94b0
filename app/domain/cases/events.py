"""What saving a case's change did, as typed events for the reactions (``cases.reactions``).

``store.persist`` writes the case's own tables (tasks, timers, waits, state) and returns these;
notices, copies, deciders, the ledger and kept messages react to them. An event carries the rows
it is about, so a reaction reads nothing again.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy.ext.asyncio import AsyncConnection

from app import engine
from app.domain.audit import Recorder
from app.domain.programs.config import Deployed


@dataclass
class Changing:
    """The case being changed, as the reactions see it (the change's own transaction and recorder)."""

    conn: AsyncConnection
    app: dict[str, Any]
    definition: Deployed  # a programs.definitions.Definition
    rec: Recorder
    # Why open notice entries close early when it is not an objection: "returned", "withdrawn".
    closing: str | None = None


@dataclass(frozen=True)
class TasksOpened:
    rows: list[dict[str, Any]]


@dataclass(frozen=True)
class TimersScheduled:
    timers: list[engine.PendingTimer]


@dataclass(frozen=True)
class TimerEnded:
    name: str
    due_at: datetime
    # Ended before it ran out (another branch won: an objection, a withdrawal).
    early: bool


@dataclass(frozen=True)
class CaseStarted:
    # Reacted to after the case's state and status are saved (a kept message adopted by a case that exists).
    after_state: ClassVar[bool] = True


@dataclass(frozen=True)
class CaseEnded:
    outcome: engine.Outcome
    # Reacted to after the status is saved: the ledger and a follow-up see the case ended.
    after_state: ClassVar[bool] = True


@dataclass(frozen=True)
class WaitsAdded:
    names: frozenset[str]


Event = TasksOpened | TimersScheduled | TimerEnded | CaseStarted | CaseEnded | WaitsAdded
