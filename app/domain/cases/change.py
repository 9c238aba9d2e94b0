"""One change of one case: the only code that loads a case, changes it in the engine, saves what
the engine did, lets the reactions follow and records the events.

    change = await CaseChange.load(conn, app, definition, actor)
    await change.act(change.case.complete, engine_task_id, data, failure="the process could not continue")
    ...                                   # the caller's own rows (the task it completes, a note)
    saved = await change.save()           # persist → reactions → kept messages → events flushed
    return await change.answer(saved)

Every kind of change goes through it: completing, returning, withdrawing and cancelling, a message,
a timer, a migration to another version, a rescheduled deadline and the start of a case. Messages
kept for a wait the change opened are delivered here too, as changes of their own, oldest first.
A case whose process has finished changes through ``EndedCaseChange`` (its support ends).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from app import engine
from app.domain.audit import Recorder
from app.domain.cases import early_messages, events, reactions, status, store, views
from app.domain.errors import Conflict
from app.domain.programs.definitions import Definition
from app.domain.timekeeping import calendar


@dataclass(frozen=True)
class Saved:
    """What one saved change did."""

    # The task rows opened, with those opened by kept messages delivered after the change.
    opened: list[dict[str, Any]]
    # What saving it meant, as the reactions saw it (tasks opened, timers, the case's start or end).
    happened: tuple[events.Event, ...]
    # The case's status now.
    status: str

    @property
    def ended(self) -> bool:
        return any(isinstance(event, events.CaseEnded) for event in self.happened)


class CaseChange:
    def __init__(
        self,
        conn: AsyncConnection,
        app: dict[str, Any],
        definition: Definition,
        case: engine.Case,
        ctx: store.Context,
        rec: Recorder,
    ):
        self.conn, self.app, self.definition = conn, app, definition
        self.case, self.ctx, self.rec = case, ctx, rec
        self._outcome: engine.Outcome | None = None
        # Kept messages delivered after this change: the case moved on beyond its outcome.
        self._moved_on = False

    @classmethod
    async def load(
        cls, conn: AsyncConnection, app: dict[str, Any], definition: Definition, actor: str
    ) -> "CaseChange":
        case, ctx = await store.load_case(conn, definition, app)
        return cls(conn, app, definition, case, ctx, Recorder(actor))

    @classmethod
    async def start(
        cls,
        conn: AsyncConnection,
        row: dict[str, Any],
        definition: Definition,
        data: dict[str, Any],
        rec: Recorder,
    ) -> "CaseChange":
        """A new case run to its first wait; the caller inserts ``row`` and then calls ``save(is_new=True)``."""
        try:
            case, ctx = await store.start_case(conn, definition, data, row)
        except engine.EngineError as exc:
            raise store.engine_failure(exc, "the process could not start") from exc
        return cls(conn, row, definition, case, ctx, rec)

    @property
    def days(self) -> calendar.WorkingDays:
        return self.ctx.days

    async def act(self, change: Callable[..., Any], *args: Any, failure: str | None) -> Any:
        """Run one engine change; an engine failure is a problem saying ``failure`` (with None, the
        ``engine.EngineError`` itself, for a caller that records failures rather than answering)."""
        try:
            return await store.run_engine(self.definition, change, *args)
        except engine.EngineError as exc:
            if failure is None:
                raise
            raise store.engine_failure(exc, failure) from exc

    async def migrate(self, new: Definition, step_mapping: dict[str, str]) -> dict[str, Any]:
        """Re-plan the case on another version of its process; an ``engine.EngineError`` comes back
        as is (a dry run reports it). Saving afterwards writes the case under ``new``."""
        # Scripts of either version may run while the case is re-planned.
        runner = new if new.model.runs_scripts else self.definition
        moved: dict[str, Any] = await store.run_engine(runner, self.case.migrate_to, new.model, step_mapping)
        self.definition = new
        return moved

    @property
    def outcome(self) -> engine.Outcome:
        """What the engine did, computed once (working-day timers set to the end of their last day)."""
        if self._outcome is None:
            self._outcome = store.outcome_of(self.case, self.ctx.days)
        return self._outcome

    def take_outcome_as_is(self) -> engine.Outcome:
        """The outcome without re-aligning new timers (a migration keeps the due times it carries over)."""
        self._outcome = self.case.outcome()
        return self._outcome

    async def save(self, *, closing: str | None = None, is_new: bool = False) -> Saved:
        """Persist the outcome, let the reactions follow, deliver kept messages the case now waits
        for, and write the recorded events."""
        changing = events.Changing(self.conn, self.app, self.definition, self.rec, closing)
        opened, happened = await store.persist(
            self.conn, self.app, self.definition, self.outcome, self.rec, self.ctx, is_new=is_new
        )
        # The trail's order: the case's rows and what they mean (notices, copies, deciders), its
        # state and status, then what its start or end means (a follow-up sees it ended).
        await reactions.react(changing, happened, after_state=False)
        await store.save_draws(self.conn, self.app, self.ctx, self.rec)
        if not is_new:  # else the caller inserted the application row with its first state
            await store.save_state(self.conn, self.app, self.outcome, self.rec)
        await reactions.react(changing, happened, after_state=True)
        for event in happened:
            if isinstance(event, events.WaitsAdded):
                opened += await self._deliver_kept(event.names)
        await self.rec.flush(self.conn)
        return Saved(opened, tuple(happened), self.app["status"])

    async def _deliver_kept(self, names: frozenset[str]) -> list[dict[str, Any]]:
        """The oldest kept message among those the case now waits for, then again while it waits."""
        opened: list[dict[str, Any]] = []
        waiting = set(names)
        while waiting:
            kept = await early_messages.take_kept(self.conn, self.app, sorted(waiting))
            if kept is None:
                break
            # The change that made the case wait is recorded before the message it receives.
            await self.rec.flush(self.conn)
            change = await CaseChange.load(self.conn, self.app, self.definition, kept["actor"])
            opened += (await change.deliver(kept["message_name"], kept["payload"])).opened
            self._moved_on = True
            # One message may end the wait for another (an event-based gateway): that one stays kept.
            waiting = {name for name in waiting if await store.waits_for(self.conn, self.app["id"], name)}
        return opened

    async def deliver(self, name: str, payload: dict[str, Any]) -> Saved:
        """A message to the case, which must be waiting for it."""
        delivered = await self.act(
            self.case.deliver_message, name, payload, failure="the process could not continue"
        )
        if not delivered:
            raise Conflict("no_waiting_receiver", f"the case is not waiting for {name!r} now")
        self.rec.add(
            "message.received",
            self.app["id"],
            {"name": name, "payload": payload},
            None,
            self.app["division_path"],
        )
        return await self.save()

    async def answer(self, saved: Saved) -> dict[str, Any]:
        """The usual answer to a reviewer's change: the case as it is now and the steps it opened."""
        opened = saved.opened
        next_tasks = [views.task_view(t, self.ctx.days) for t in opened]
        if not self._moved_on and {t["engine_task_id"] for t in opened} == self.outcome.ready_engine_task_ids:
            open_tasks = next_tasks  # nothing else is open: no need to read the tasks again
        else:
            open_tasks = await views.open_tasks_of(self.conn, self.app["id"], self.ctx.days)
            # A kept message delivered in the same change may have closed a step it opened.
            still_open = {t["id"] for t in open_tasks}
            next_tasks = [t for t in next_tasks if t["id"] in still_open]
        return {"application": views.application_view(self.app, open_tasks), "next_tasks": next_tasks}


class EndedCaseChange:
    """A change to a case whose process has finished: its support ends (a death reported by message, a
    gradual exit run out). No engine step runs; the status is written version-checked
    (``status.terminate_ended``) and the events recorded once, as ``CaseChange.save`` does."""

    def __init__(self, conn: AsyncConnection, app: dict[str, Any], rec: Recorder):
        self.conn, self.app, self.rec = conn, app, rec

    async def terminate(self, reason: str) -> Saved:
        await status.terminate_ended(self.conn, self.app, self.rec, reason)
        await self.rec.flush(self.conn)
        return Saved([], (), self.app["status"])
