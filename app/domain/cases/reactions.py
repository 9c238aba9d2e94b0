"""What follows from a saved change of a case, registered in one place.

``store.persist`` writes the case's own rows and says what happened (``cases.events``); the unit of
work (``cases.change``) hands each event to the reactions listed in ``REACTIONS``, in order, in the
same transaction. A reaction may write its own tables and record events; it never changes the case
itself — a change of the case is the unit of work's alone (kept messages are delivered by it).
"""

from collections.abc import Awaitable, Callable
from typing import Any

from app.domain.cases import early_messages, effects, events, store
from app.domain.notices import entries as notices
from app.domain.tasks import copies, signers

# Each reaction takes the type of event it is registered for below.
Reaction = Callable[[events.Changing, Any], Awaitable[None]]


def _is_notice(changing: events.Changing, element_id: str) -> bool:
    notice: bool = changing.definition.config.is_notice(element_id)
    return notice


async def copy_by_bpmn(changing: events.Changing, event: events.TasksOpened) -> None:
    """A step's ``cc_roles`` (抄送) are copied when it opens, at the step's own place."""
    for row in event.rows:
        roles = list(changing.definition.config.steps[row["name"]].cc_roles)
        if roles:
            await copies.add(changing.conn, changing.app, row, [], roles, None, changing.rec)


async def set_deciders(changing: events.Changing, event: events.TasksOpened) -> None:
    """会签/或签/依次: the deciders are known when the step opens."""
    app = changing.app
    for row in event.rows:
        props = changing.definition.config.steps[row["name"]]
        if signers.mode_of(props):
            names = await signers.create_deciders(changing.conn, row, props, app["data"] or {})
            changing.rec.add(
                "task.deciders_set",
                app["id"],
                {"mode": props.approval_mode, "deciders": names},
                row,
                row["division_path"],
            )


async def close_notice_entry(changing: events.Changing, event: events.TimerEnded) -> None:
    if _is_notice(changing, event.name):
        await notices.close_entries(
            changing.conn,
            changing.app["id"],
            event.name,
            changing.rec,
            changing.app["division_path"],
            objected=event.early,
            reason=changing.closing,
        )


async def open_notice_entries(changing: events.Changing, event: events.TimersScheduled) -> None:
    app, definition = changing.app, changing.definition
    for timer in event.timers:
        if _is_notice(changing, timer.name):
            # The office holding the notice's lane issues it (the township for 低保).
            lane = definition.model.element_lanes.get(timer.name)
            issuer = (await store.route(changing.conn, app, lane))[0] if lane else app["division_code"]
            await notices.open_entry(
                changing.conn, app, definition, timer.name, timer.due_at, issuer, changing.rec
            )


async def adopt_kept_messages(changing: events.Changing, event: events.CaseStarted) -> None:
    """Messages kept for a case to come (by reference or person) now belong to this one, whatever its
    own version declares: the newest version, which accepted them, decided to keep them."""
    await early_messages.adopt(changing.conn, changing.app)


async def case_ended(changing: events.Changing, event: events.CaseEnded) -> None:
    """The ledger, the enrolment a re-check is about, notifications and a follow-up case."""
    await effects.on_end(changing.conn, changing.app, changing.definition, event.outcome, changing.rec)


REACTIONS: dict[type, tuple[Reaction, ...]] = {
    events.TasksOpened: (copy_by_bpmn, set_deciders),
    events.TimerEnded: (close_notice_entry,),
    events.TimersScheduled: (open_notice_entries,),
    events.CaseStarted: (adopt_kept_messages,),
    events.CaseEnded: (case_ended,),
}


async def react(changing: events.Changing, happened: list[events.Event], *, after_state: bool) -> None:
    """The reactions to the events of one phase: those about the case's rows come before its state and
    status are saved, those about its start or end after (the order of the trail and the outbox)."""
    for event in happened:
        if getattr(event, "after_state", False) != after_state:
            continue
        for reaction in REACTIONS.get(type(event), ()):
            await reaction(changing, event)
