"""A case's saved state: SpiffWorkflow's own serialization without the spec, compressed."""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any

from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

from app.engine.model import EngineError

STATE_FORMAT = "spiff-json+zlib+base64"


def _pack(state: dict[str, Any]) -> dict[str, Any]:
    raw = json.dumps(state, separators=(",", ":")).encode()
    return {
        "format": STATE_FORMAT,
        "serializer_version": state[_serializer.VERSION_KEY],
        "data": base64.b64encode(zlib.compress(raw, 6)).decode("ascii"),
    }


def _unpack(state: dict[str, Any]) -> dict[str, Any]:
    if state.get("format") != STATE_FORMAT:
        raise EngineError(f"unknown saved state format {state.get('format')!r}")
    unpacked: dict[str, Any] = json.loads(zlib.decompress(base64.b64decode(state["data"])))
    return unpacked


class _StateConverter(BpmnWorkflowConverter):
    """SpiffWorkflow's own workflow serialization without the spec: the definition holds it (a saved
    state never carries it, ``Case.load`` puts the cached one back), so it is never converted only
    to be thrown away."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct: dict[str, Any] = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct


_registry = BpmnWorkflowSerializer.configure({**SPIFF_CONFIG, BpmnWorkflow: _StateConverter})
_serializer = BpmnWorkflowSerializer(_registry)
