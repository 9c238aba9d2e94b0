"""What reaching a step or an end means beyond the case itself: the ledger and the enrolment
a re-check or termination is about.

Declared in the BPMN as properties, so a program says what it pays without code:

- on an end event or a user task: ``benefit`` = ``monthly`` | ``one_time``, the amount in the
  data variable named by ``benefit_amount`` (default ``amount``), an optional category
  variable ``benefit_category``, an optional ceiling ``benefit_max`` and floor ``benefit_min``
  (expressions over ``settings``, both including their number), on a task an optional ``benefit_when`` (an expression over its data, e.g.
  ``decision == "approve"``), ``benefit_cap_exempt`` = ``true`` for a case conference's decision,
  and on a monthly benefit ``benefit_from_age`` (an expression over ``sex()``, e.g. ``60 if sex() ==
  "male" else 55``): payment starts the month after the applicant reaches that age, if later;
- on an end event of a case about an enrolment (``subject_id``): ``subject_effect`` =
  ``continue`` | ``adjust`` | ``gradual_exit`` | ``terminate``, and ``then_start`` = a
  program to start next about the same enrolment (a re-check that ends in termination).
"""

from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app import engine, sandbox
from app.db.models import case_followups
from app.domain.audit import Recorder
from app.domain.cases import status
from app.domain.errors import Invalid
from app.domain.money import ledger
from app.domain.people import divisions as division_service
from app.domain.programs import eligibility
from app.domain.programs.config import BenefitConfig, DefinitionConfig, Deployed, EndEventConfig
from app.domain.tasks import panels
from app.domain.timekeeping import calendar


def _benefit_problems(element_id: str, props: BenefitConfig) -> list[str]:
    problems = []
    for name in ("benefit_max", "benefit_min", "benefit_when", "benefit_from_age"):
        if getattr(props, name):
            try:
                sandbox.compile_expression(getattr(props, name))
            except sandbox.ExpressionError as exc:
                problems.append(f"{element_id}: {name} {exc}")
    return problems


def declaration_problems(config: DefinitionConfig) -> list[tuple[str, str]]:
    """Benefit expressions of the steps and end events (a ``config.DefinitionConfig``) that do not compile."""
    return [
        (element_id, problem)
        for element_id, props in config.benefits().items()
        for problem in _benefit_problems(element_id, props)
    ]


def _next_recheck(settings: dict[str, Any], category: str | None, today: date) -> date | None:
    months = settings.get(f"recheck_months_{(category or '').lower()}") if category else None
    return ledger.add_months(today, int(months)) if isinstance(months, (int, float)) and months > 0 else None


def _holds(condition: str, data: dict[str, Any]) -> bool:
    try:
        return bool(sandbox.evaluate(condition, dict(data)))
    except sandbox.LimitExceeded as exc:
        raise Invalid("script_limit_exceeded", f"benefit_when {condition!r}: {exc}") from exc
    except sandbox.ExpressionError as exc:
        raise Invalid("engine_error", f"benefit_when {condition!r}: {exc}") from exc


def _bound(props: BenefitConfig, name: str, settings: dict[str, Any]) -> float | None:
    source = getattr(props, name)
    if not source:
        return None
    try:
        value = sandbox.evaluate(source, {"settings": settings})
    except sandbox.LimitExceeded as exc:
        raise Invalid("script_limit_exceeded", f"{name} {source!r}: {exc}") from exc
    return float(value)


def _monthly_start(props: BenefitConfig, app: dict[str, Any], today: date) -> date:
    # Support starts from the month after approval (national rules), or after the birthday that
    # makes the person eligible when that comes later (e.g. minban plan 24 六(二)).
    start = ledger.first_of_next_month(today)
    if not props.benefit_from_age:
        return start
    id_number = app["applicant_id_number"]
    try:
        age = sandbox.evaluate(props.benefit_from_age, {"sex": lambda: eligibility.sex(id_number)})
    except sandbox.LimitExceeded as exc:
        raise Invalid("script_limit_exceeded", f"benefit_from_age {props.benefit_from_age!r}: {exc}") from exc
    return max(start, ledger.first_of_next_month(eligibility.reaches_age_on(id_number, int(age))))


async def record_benefit(
    conn: AsyncConnection,
    app: dict[str, Any],
    definition: Deployed,
    element_id: str,
    data: dict[str, Any],
    rec: Recorder,
) -> dict[str, Any] | None:
    """Enter the amount a step or end event pays, if it declares one."""
    props = definition.config.benefit_of(element_id)
    if props is None or not props.benefit or (props.benefit_when and not _holds(props.benefit_when, data)):
        return None
    kind = props.benefit
    variable = props.benefit_amount or "amount"
    if variable not in data:
        raise Invalid(
            "amount_required", f"{element_id} pays a benefit: {variable!r} is required", field=variable
        )
    amount = ledger.parse_amount(data[variable], variable)
    settings = app.get("settings") or {}
    ceiling = _bound(props, "benefit_max", settings)
    if ceiling is not None and ceiling <= 0:
        raise Invalid(
            "limit_not_configured",
            f"the limit of {element_id} ({props.benefit_max}) is 0 here: the "
            "county must set its program settings first",
            field=variable,
        )
    if ceiling is not None and float(amount) > ceiling:
        raise Invalid(
            "amount_above_limit",
            f"{variable} {amount} is above the limit of {ceiling:g} yuan for {element_id}",
            limit=ceiling,
            field=variable,
        )
    # "不低于" includes the number (Civil Code Art. 1259): exactly the floor is paid.
    floor = _bound(props, "benefit_min", settings)
    if floor is not None and float(amount) < floor:
        raise Invalid(
            "amount_below_floor",
            f"{variable} {amount} is below the floor of {floor:g} yuan for {element_id}",
            floor=floor,
            field=variable,
        )
    category = data.get(props.benefit_category) if props.benefit_category else None
    if category is not None and (not isinstance(category, str) or len(category) > 32):
        raise Invalid("invalid_category", f"{props.benefit_category} must be a short text (≤ 32 characters)")
    today = calendar.today()
    exclusive = set(definition.config.process.exclusive_with)
    row = await ledger.record(
        conn,
        app,
        kind=kind,
        amount=amount,
        category=category,
        cap_exempt=props.benefit_cap_exempt,
        starts_on=_monthly_start(props, app, today) if kind == "monthly" else today,
        next_recheck_on=_next_recheck(settings, category, today) if kind == "monthly" else None,
        exclusive_with=exclusive,
        note={"step": element_id},
    )
    rec.add(
        "benefit.recorded",
        app["id"],
        {
            "kind": kind,
            "amount": float(amount),
            "category": category,
            "starts_on": row["starts_on"].isoformat(),
            "cap_exempt": row["cap_exempt"],
            "step": element_id,
        },
        None,
        app["division_path"],
    )
    return row


async def _apply_to_subject(
    conn: AsyncConnection,
    app: dict[str, Any],
    effect: str,
    data: dict[str, Any],
    props: EndEventConfig,
    rec: Recorder,
) -> None:
    subject = await ledger.subject_of(conn, app["subject_id"])
    today = calendar.today()
    reason = f"{app['program']} {app['id']}"
    if effect == "terminate":
        # Support ends with this month; the person gets written reasons in the case's last step.
        ended = await ledger.end_enrolment(conn, subject["id"], ledger.end_of_month(today), reason)
        await status.terminate_ended(conn, subject, rec, reason)
        rec.add(
            "enrolment.ended",
            subject["id"],
            {"by": app["id"], "benefits": ended},
            None,
            subject["division_path"],
        )
    elif effect == "adjust":
        active = await ledger.active_enrolment(conn, subject["applicant_id_number"], {subject["program"]})
        if active is None:
            raise Invalid("not_enrolled", "the enrolment to adjust is no longer active")
        variable = props.benefit_amount or "new_amount"
        amount = ledger.parse_amount(data.get(variable), variable)
        await ledger.end_enrolment(conn, subject["id"], ledger.end_of_month(today), reason)
        await ledger.record(
            conn,
            subject,
            kind="monthly",
            amount=amount,
            category=active["category"],
            starts_on=ledger.first_of_next_month(today),
            next_recheck_on=active["next_recheck_on"],
            note={"adjusted_by": app["id"], "previous_amount": float(active["amount"])},
        )
        rec.add(
            "enrolment.adjusted",
            subject["id"],
            {"by": app["id"], "from": float(active["amount"]), "to": float(amount)},
            None,
            subject["division_path"],
        )
    elif effect == "gradual_exit":
        months = int((app.get("settings") or {}).get("gradual_exit_months", 6))
        last_day = ledger.end_of_month(today, months)
        await ledger.extend_until(
            conn, subject["id"], last_day, {"gradual_exit_by": app["id"], "months": months}
        )
        rec.add(
            "enrolment.gradual_exit",
            subject["id"],
            {"by": app["id"], "months": months, "last_day": last_day.isoformat()},
            None,
            subject["division_path"],
        )
    else:
        rec.add("enrolment.continued", subject["id"], {"by": app["id"]}, None, subject["division_path"])


def enrolment_messages(definition: Deployed) -> dict[str, str]:
    """``enrolment_messages`` = ``person_deceased:died_on,…``: messages that end an approved
    case's support, each with the payload field holding the date it happened."""
    return definition.config.process.enrolment_messages


async def _notify(conn: AsyncConnection, app: dict[str, Any], props: EndEventConfig, rec: Recorder) -> None:
    """An office informed without a task (备案, 知悉): recorded, and published to its portals."""
    level = props.notify_level
    code = (
        (
            await division_service.ancestors_by_level(
                conn, {"code": app["division_code"], "path": app["division_path"]}
            )
        ).get(level)
        if level
        else None
    )  # (no place is None)
    rec.add(
        "case.notified",
        app["id"],
        {"level": level, "division_code": code, "purpose": props.notify_purpose},
        None,
        app["division_path"],
    )


def _filed_month(app: dict[str, Any]) -> date:
    created = app.get("created_at")
    if not isinstance(created, datetime):
        return calendar.today().replace(day=1)
    if created.tzinfo is None:  # SQLite keeps UTC without its zone
        created = created.replace(tzinfo=UTC)
    return created.astimezone(calendar.SHANGHAI).date().replace(day=1)


async def _schedule_terms(conn: AsyncConnection, app: dict[str, Any], rec: Recorder) -> None:
    """Payments in the last month of each term of this school year (学前教育资助: half the yearly
    amount per term), no more than ``max_terms`` for a child in all; each can be cancelled."""
    settings = app.get("settings") or {}
    per_term = ledger.parse_amount(settings.get("amount_per_year", 0) / 2, "amount_per_year")
    year = panels.school_year(calendar.today())
    months = [int(settings["autumn_payment_month"]), int(settings["spring_payment_month"])]
    # A spring adjustment (plan 7: 春季学期…个别调整) is filed after the autumn payment month: no
    # payment for a term that ended before the application. A late approval of an autumn case
    # still pays its autumn term.
    filed = _filed_month(app)
    dates = [
        day for day in (date(year + (1 if month < 8 else 0), month, 1) for month in months) if day >= filed
    ]
    counts = await ledger.rule_functions(conn, app["applicant_id_number"])
    remaining = max(0, int(settings.get("max_terms", 6)) - counts["payments"](app["program"]))
    for day in dates[:remaining]:
        await ledger.record(
            conn,
            app,
            kind="one_time",
            amount=per_term,
            starts_on=day,
            scheduled=True,
            note={"school_year": year, "term": "autumn" if day.month == months[0] else "spring"},
        )
    rec.add(
        "benefit.scheduled",
        app["id"],
        {"per_term": float(per_term), "payments": [d.isoformat() for d in dates[:remaining]]},
        None,
        app["division_path"],
    )


async def on_end(
    conn: AsyncConnection, app: dict[str, Any], definition: Deployed, outcome: engine.Outcome, rec: Recorder
) -> None:
    props = definition.config.end_events.get(outcome.end_event or "")
    if props is None:
        return
    if props.benefit_schedule == "terms":
        await _schedule_terms(conn, app, rec)
    await record_benefit(conn, app, definition, outcome.end_event or "", outcome.data, rec)
    if props.notify_level:
        await _notify(conn, app, props, rec)
    effect = props.subject_effect
    if effect and app.get("subject_id"):
        await _apply_to_subject(conn, app, effect, outcome.data, props, rec)
    if props.then_start and app.get("subject_id"):
        # Started by the worker in a transaction of its own (``followups.start_requested``): a case
        # never starts another inside its own change.
        await conn.execute(
            sa.insert(case_followups).values(
                application_id=app["id"], program=props.then_start, requested_at=rec.at, attempts=0
            )
        )
