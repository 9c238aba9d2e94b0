"""Step forms from JSON Schema (app/web/schema_form.py) against the forms the programs ship."""

import json
from datetime import timedelta

import pytest
from starlette.datastructures import FormData

from app.config import PROJECT_ROOT
from app.domain.timekeeping import calendar
from app.web import schema_form

FORMS = sorted((PROJECT_ROOT / "processes" / "forms").glob("*.json"))


def _form(name: str) -> dict:
    return json.loads((PROJECT_ROOT / "processes" / "forms" / name).read_text())


@pytest.mark.parametrize("path", FORMS, ids=lambda p: p.stem)
def test_every_shipped_form_renders_and_an_empty_post_is_explained_in_chinese(path):
    schema = json.loads(path.read_text())
    fields = schema_form.fields_of(schema)
    assert [f.name for f in fields] == list(schema.get("properties", {}))
    assert all(f.label for f in fields)
    for f in fields:
        if f.kind == "radio":
            assert all(label for _, label in f.options)
    data, errors, _ = schema_form.parse(schema, FormData())
    assert data == {} and errors == {}
    messages = schema_form.explain(schema, data)
    assert bool(messages) == bool(schema.get("required"))
    for key in messages:
        assert key.split(".")[0] in schema["properties"], key
        assert not any(c.isascii() and c.isalpha() for c in messages[key]), messages[key]  # Chinese only


def test_confirmation_form_types_and_conditional_requirements():
    schema = _form("dibao_confirm.json")
    data, errors, raw = schema_form.parse(
        schema, FormData([("decision", "approve"), ("monthly_amount", "六百"), ("opinion", " 同意 ")])
    )
    assert errors == {"monthly_amount": "请输入数字"} and raw["monthly_amount"] == "六百"
    messages = schema_form.explain(schema, data)
    assert messages == {"dibao_class": "请填写分类施保类别", "monthly_amount": "请填写月保障金额（元）"}
    data, errors, _ = schema_form.parse(
        schema, FormData([("decision", "approve"), ("monthly_amount", "650.5"), ("dibao_class", "B")])
    )
    assert errors == {} and data == {"decision": "approve", "monthly_amount": 650.5, "dibao_class": "B"}
    assert schema_form.explain(schema, data) == {}
    assert schema_form.explain(schema, {"decision": "approve", "monthly_amount": -1, "dibao_class": "B"}) == {
        "monthly_amount": "必须大于0"
    }
    reason = next(f for f in schema_form.fields_of(schema) if f.name == "reason")
    assert reason.required_when == ["审核确认结论为“不予确认”时必填"]
    assert schema_form.bulk_fields(schema) is None  # amounts are per case


def test_lists_and_rows():
    visit = _form("home_visit.json")
    data, _, _ = schema_form.parse(
        visit,
        FormData([("visited_on", "2026-10-08"), ("visitors", "王芳\n\n 李娜 \n"), ("findings", "属实")]),
    )
    assert data == {"visited_on": "2026-10-08", "visitors": ["王芳", "李娜"], "findings": "属实"}
    assert schema_form.explain(visit, {**data, "visitors": ["王芳"]}) == {"visitors": "至少填写2项"}
    assert schema_form.explain(visit, {**data, "visited_on": "2026-13-40"}) == {
        "visited_on": "格式不正确（日期如 2026-10-08）"
    }
    tomorrow = (calendar.today() + timedelta(days=1)).isoformat()
    assert schema_form.explain(visit, {**data, "visited_on": tomorrow}) == {
        "visited_on": "不能晚于今天（已办理事项的日期）"
    }
    panel = _form("panel_review.json")
    form = FormData(
        [
            ("votes.count", "3"),
            ("votes.0.member", "园长"),
            ("votes.0.vote", "agree"),
            ("votes.1.member", ""),
            ("votes.2.member", "家长代表"),
            ("held_on", "2026-09-20"),
        ]
    )
    data, _errors, raw = schema_form.parse(panel, form)
    assert data["votes"] == [
        {"member": "园长", "vote": "agree"},
        {"member": "家长代表"},
    ]  # the blank row is dropped
    assert len(raw["votes"]) == 3
    assert schema_form.explain(panel, data) == {"votes.1.vote": "请填写表决"}
    review = _form("review.json")
    assert [f.name for f in schema_form.bulk_fields(review)] == ["decision", "opinion", "reason"]


def test_the_date_of_something_done_is_never_in_the_future_on_any_shipped_form():
    """A visit, an appraisal, a delivery or a payment is recorded after it happened."""
    done_dates = [
        (path.stem, name)
        for path in FORMS
        for name, prop in json.loads(path.read_text()).get("properties", {}).items()
        if prop.get("format") == "date" and name.endswith("_on")
    ]
    assert len(done_dates) >= 9
    missing = [
        (form, name)
        for form, name in done_dates
        if _form(f"{form}.json")["properties"][name].get("x-not-after-today") is not True
    ]
    assert missing == []


def test_an_upheld_objection_contradicts_keeping_the_approval():
    form = _form("reinvestigation.json")
    upheld = [{"objection_number": "YY1", "outcome": "upheld", "reply": "属实"}]
    dismissed = [{"objection_number": "YY1", "outcome": "dismissed", "reply": "不属实"}]
    assert schema_form.explain(form, {"decision": "approve", "objection_outcomes": upheld}) == {
        "decision": "与异议处理结果不一致（有异议成立时应不予批准，异议均不成立时应维持拟批准）"
    }
    assert "decision" in schema_form.explain(
        form, {"decision": "refuse", "reason": "x", "objection_outcomes": dismissed}
    )
    assert (
        schema_form.explain(
            form, {"decision": "refuse", "reason": "x", "objection_outcomes": upheld + dismissed}
        )
        == {}
    )
    assert schema_form.explain(form, {"decision": "approve", "objection_outcomes": dismissed}) == {}
