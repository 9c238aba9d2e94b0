"""A case saved by SpiffWorkflow 3.2.0 (the version AidFlow first shipped with) still loads and goes
on: a SpiffWorkflow upgrade that breaks saved states fails here, before any running case meets it.

The fixture is a 低保 case waiting in its notice, written with the BPMN it ran on. It was made by
running the case through the service on SQLite and copying `applications.engine_state` and the
definition's `xml` (to add a fixture for a newer SpiffWorkflow, do the same and keep this one).
It is loaded twice: by the engine adapter alone, and by the service on both databases as a running
case (its worker fires the notice timer, the county completes the next step through the API)."""

import base64
import json
import zlib
from datetime import datetime, timedelta

import sqlalchemy as sa

from app import clock, engine
from app.config import PROJECT_ROOT
from app.db.engine import create_engine
from app.domain.cases.store import expression_functions
from app.domain.timekeeping import calendar
from tests.helpers import Api
from tests.test_dibao_paths import CONFIRM

FIXTURE = json.loads(
    (PROJECT_ROOT / "tests" / "fixtures" / "spiffworkflow_3.2.0_dibao_in_notice.json").read_text()
)


def test_a_case_saved_by_spiffworkflow_3_2_0_loads_fires_its_notice_and_reaches_the_county():
    assert FIXTURE["spiffworkflow"] == "3.2.0"
    model = engine.parse_bpmn(
        FIXTURE["bpmn"].encode(), {k: v.encode() for k, v in FIXTURE["decisions"].items()}
    )
    functions = expression_functions(calendar.WorkingDays({}))
    case = engine.Case.load(model, FIXTURE["state"], functions)
    [timer] = case.pending_timers()
    assert case.outcome().opened == [] and not case.outcome().completed
    before = clock.offset_seconds()
    try:  # to the moment after the notice ends, whenever this runs
        clock.set_offset_seconds(before + (timer.due_at + timedelta(seconds=1) - clock.now()).total_seconds())
        case.fire_due_timers()
    finally:
        clock.set_offset_seconds(before)
    outcome = case.outcome()
    assert timer.engine_task_id in outcome.timers_removed
    assert [r.step.id for r in outcome.opened] == ["county_confirm"]
    # And the state it saves now loads again.
    again = engine.Case.load(model, outcome.state, functions)
    assert again.is_ready(outcome.opened[0].engine_task_id) and again.pending_timers() == []


def _waiting_timer(state: dict) -> tuple[str, str, str]:
    """(engine task id, element, due time) of the timer the saved case waits on, read from the raw
    state as SpiffWorkflow 3.2.0 wrote it (zlib + base64 JSON), not through app.engine."""
    tree = json.loads(zlib.decompress(base64.b64decode(state["data"])))
    waiting = [(tid, t) for tid, t in tree["tasks"].items() if t["state"] == 8]  # TaskState.WAITING
    [(tid, task)] = waiting
    return tid, task["task_spec"], task["internal_data"]["event_value"]


async def _execute(api: Api, sql: str, **params) -> None:
    db = create_engine(api.database_url)
    try:
        async with db.begin() as conn:
            await conn.execute(sa.text(sql), params)
    finally:
        await db.dispose()


async def test_the_service_takes_a_saved_case_through_its_notice_and_the_county_to_the_end(api: Api):
    """The same saved state in the database, as a case of the definition it was written with: the
    worker fires its notice timer, the county completes the next step, the case is approved."""
    timer_id, element, due = _waiting_timer(FIXTURE["state"])
    assert element == "public_notice"
    due_at = datetime.fromisoformat(due)
    await api.set_clock((due_at - timedelta(days=10)).isoformat())
    deployed = await api.upload(FIXTURE["bpmn"].encode(), "dibao.bpmn")
    assert (deployed["key"], deployed["version"]) == ("dibao", 2)
    # A case of that version, brought to the same point by the service, then given the saved state.
    case = await api.apply()
    await api.to_notice(case["id"])
    assert (await api.application(case["id"]))["definition_version"] == 2
    assert await api.count("timers", f"application_id = '{case['id']}' AND fired_at IS NULL") == 1
    await _execute(
        api,
        "UPDATE applications SET engine_state = :state WHERE id = :id",
        state=json.dumps(FIXTURE["state"]),
        id=case["id"],
    )
    await _execute(
        api,
        "UPDATE timers SET engine_task_id = :tid, due_at = :due WHERE application_id = :id AND fired_at IS NULL",
        tid=timer_id,
        due=due_at,
        id=case["id"],
    )
    await api.set_clock((due_at - timedelta(seconds=60)).isoformat())
    assert await api.run_timers() == 0  # not due yet: the saved due time is the one that counts
    await api.set_clock((due_at + timedelta(seconds=60)).isoformat())
    assert await api.run_timers() == 1
    confirm = await api.open_task(case["id"], "county_confirm")
    done = await api.complete("county", confirm["id"], CONFIRM)
    assert done["application"]["status"] == "approved" and done["application"]["open_tasks"] == []
    assert [e["data"]["to"] for e in await api.events(case["id"], "application.status_changed")] == [
        "approved"
    ]
