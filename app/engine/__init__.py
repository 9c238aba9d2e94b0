"""The engine adapter: the only package that imports SpiffWorkflow.

Everything else speaks of process models, steps, timers and messages.  A case is loaded
from its saved state, changed by one call (complete a step, fire timers, deliver a
message), and saved again; the caller persists the returned ``Outcome`` in the same
transaction.  Saved state never embeds the spec: it is ~4 KB instead of ~16 KB and the
spec comes from the per-version cache.

The adapter is this package: ``model`` (what the service sees), ``parsing`` (reading a file),
``case`` (running one) and ``state`` (saving one). Everything else imports these names from ``app.engine``.
"""

from app.engine.case import NEVER, Case
from app.engine.decisions import decision_ids, decision_refs
from app.engine.model import (
    BPMN_NS,
    CAMUNDA_NS,
    DMN_NAMESPACES,
    SPIFF_NS,
    BpmnError,
    EngineError,
    Outcome,
    PendingTimer,
    ProcessModel,
    ReadyStep,
    ScriptLimitError,
    Step,
    TimerValueError,
)
from app.engine.parsing import (
    model_for,
    parse_bpmn,
    utf8_document,
)
from app.engine.state import STATE_FORMAT
from app.engine.timers import timer_literal_problem
from app.engine.xmlread import _safe_xml_parser

__all__ = [
    "BPMN_NS",
    "CAMUNDA_NS",
    "DMN_NAMESPACES",
    "NEVER",
    "SPIFF_NS",
    "STATE_FORMAT",
    "BpmnError",
    "Case",
    "EngineError",
    "Outcome",
    "PendingTimer",
    "ProcessModel",
    "ReadyStep",
    "ScriptLimitError",
    "Step",
    "TimerValueError",
    "_safe_xml_parser",
    "decision_ids",
    "decision_refs",
    "model_for",
    "parse_bpmn",
    "timer_literal_problem",
    "utf8_document",
]
