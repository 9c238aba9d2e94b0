"""DMN decision tables: loaded with the process, checked like every other expression, never eval'd raw."""

import pytest

from app import engine
from app.config import PROJECT_ROOT
from app.domain.programs import definitions
from tests.helpers import Api

PROCESSES = PROJECT_ROOT / "processes"
YILIAO = (PROCESSES / "yiliao.bpmn").read_bytes()
TABLE = (PROCESSES / "decisions" / "yiliao_amount.dmn").read_bytes()


def _check(dmn: bytes) -> list[dict]:
    try:
        model = engine.parse_bpmn(YILIAO, {"yiliao_amount": dmn})
        definitions.check_model(model, PROCESSES / "forms")
    except engine.BpmnError as exc:
        return exc.errors
    return []


def test_the_shipped_table_passes_and_decides_through_the_sandbox():
    assert _check(TABLE) == []
    model = engine.parse_bpmn(YILIAO, {"yiliao_amount": TABLE})
    for disease, expected in (
        ("aids", 3000),
        ("severe_hepatitis", 1500),
        ("malignant_tumour", 7000),
        ("other", 0),
    ):
        case = engine.Case.start(
            model,
            {
                "disease": disease,
                "group": "tekun",
                "own_cost_after_insurance": 0,
                "settings": {"amount_malignant_tumour": 7000, "amount_renal_failure": 0},
            },
        )
        ready = case.outcome().opened[0]
        assert case.data_of(ready.engine_task_id)["amount"] == expected


@pytest.mark.parametrize(
    "hostile",
    [
        b"__import__(&apos;os&apos;).system(&apos;id&apos;)",
        b"().__class__.__base__.__subclasses__()",
        b"exec(&apos;import os&apos;)",
    ],
)
def test_hostile_expressions_in_a_table_are_refused(hostile: bytes):
    # In an output entry and in an input expression: one error, naming the decision table.
    for original in (b"<text>3000</text>", b"<text>disease</text>"):
        errors = _check(TABLE.replace(original, b"<text>" + hostile + b"</text>", 1))
        assert [(e["code"], e["element_id"]) for e in errors] == [("invalid_expression", "yiliao_amount")], (
            errors
        )


def test_what_compiles_still_cannot_reach_outside():
    model = engine.parse_bpmn(
        YILIAO,
        {
            "yiliao_amount": TABLE.replace(
                b"<text>3000</text>", b"<text>open(&apos;/etc/passwd&apos;).read()</text>", 1
            )
        },
    )
    with pytest.raises(engine.EngineError):
        engine.Case.start(
            model, {"disease": "aids", "group": "dibao", "own_cost_after_insurance": 0, "settings": {}}
        )


def test_entities_and_foreign_documents_are_refused():
    xxe = (
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        + TABLE.split(b"?>", 1)[1]
    )
    errors = _check(xxe.replace(b'name="amount"', b'name="&x;"'))
    assert errors and errors[0]["code"] in ("xml_syntax", "invalid_dmn")
    assert _check(b"<html/>")[0]["code"] == "invalid_dmn"


async def test_an_upload_calling_a_decision_that_does_not_exist_is_refused(api: Api):
    broken = YILIAO.replace(
        b">yiliao_amount</spiffworkflow:calledDecisionId>",
        b">../../etc/passwd</spiffworkflow:calledDecisionId>",
    )
    r = await api.client.post(
        "/api/v1/process-definitions",
        headers=api.headers["admin"],
        files={"file": ("yiliao.bpmn", broken, "application/xml")},
    )
    assert r.status_code == 422 and r.json()["code"] == "invalid_bpmn"
    assert (
        r.json()["errors"][0]["code"] == "unknown_decision"
        and r.json()["errors"][0]["element_id"] == "amount_by_disease"
    )
    assert await api.count("process_definitions", "key = 'yiliao'") == 1
