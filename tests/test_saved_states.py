"""A case saved by SpiffWorkflow 3.2.0 (the version AidFlow first shipped with) still loads and goes
on: a SpiffWorkflow upgrade that breaks saved states fails here, before any running case meets it.

The fixture is a 低保 case waiting in its notice, written with the BPMN it ran on. It was made by
running the case through the service on SQLite and copying `applications.engine_state` and the
definition's `xml` (to add a fixture for a newer SpiffWorkflow, do the same and keep this one)."""

import json
from datetime import timedelta

from app import clock, engine
from app.config import PROJECT_ROOT
from app.domain.cases.store import expression_functions
from app.domain.timekeeping import calendar

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
