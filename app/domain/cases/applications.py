"""Applications (申请): the case of one applicant in one program."""

import hashlib
import json
import uuid
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field, TypeAdapter
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.models import applications, idempotency_keys, users
from app.domain.audit import Recorder
from app.domain.cases import lookup, privacy, views
from app.domain.cases import numbers as case_numbers
from app.domain.cases import store as cases
from app.domain.cases.change import CaseChange
from app.domain.errors import Conflict, Forbidden, Invalid
from app.domain.money import ledger
from app.domain.people import divisions as division_service
from app.domain.people import id_numbers
from app.domain.people.principal import Principal
from app.domain.programs import definitions, eligibility, forms, rollouts
from app.domain.programs import settings as program_settings
from app.domain.timekeeping import deadlines

# Stored replies are rendered exactly as the API renders them, so a replay is byte-for-byte alike.
_JSON = TypeAdapter(dict)


# The data of a program that declares no application_form (an uploaded one; every shipped program
# declares its own): scalars and short lists of scalars only, so nothing deep or huge hides in a case.
_SCALAR = {"type": ["string", "number", "boolean", "null"], "maxLength": 2000}
SCALARS_ONLY = {
    "type": "object",
    "maxProperties": 50,
    "additionalProperties": {"anyOf": [_SCALAR, {"type": "array", "maxItems": 100, "items": _SCALAR}]},
}


class Applicant(BaseModel):
    # Not blank: "   " is no one's name (it was accepted, and then published masked as "*").
    name: str = Field(min_length=1, max_length=100, pattern=r"\S")
    id_number: str = Field(min_length=1, max_length=18)
    phone: str | None = Field(default=None, max_length=30)


class ApplicationIn(BaseModel):
    program: str = Field(min_length=1, max_length=100)
    # Both required, except for a case about an enrolment (subject_id), which takes the enrolment's.
    division_code: str | None = Field(default=None, min_length=1, max_length=32)
    applicant: Applicant | None = None
    # The household (户) the applicant belongs to; family caps count over it (default: the ID number).
    family_id: str | None = Field(default=None, min_length=1, max_length=64)
    # For a re-check or termination (终止): the approved case it is about.
    subject_id: str | None = Field(default=None, min_length=1, max_length=36)
    data: dict[str, Any] = Field(default_factory=dict)
    external_ref: str | None = Field(default=None, min_length=1, max_length=200)


def _request_hash(body: ApplicationIn) -> str:
    return hashlib.sha256(json.dumps(body.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()


async def _replay(
    conn: AsyncConnection, principal: Principal, key: str, request_hash: str
) -> tuple[int, dict[str, Any]] | None:
    row = (
        (
            await conn.execute(
                sa.select(idempotency_keys).where(
                    idempotency_keys.c.principal == principal.name, idempotency_keys.c.key == key
                )
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    if row["request_sha256"] != request_hash:
        raise Conflict("idempotency_key_reused", "this Idempotency-Key was used for a different request")
    return row["status_code"], row["response"]


async def _subject(
    conn: AsyncConnection, principal: Principal, definition: definitions.Definition, body: ApplicationIn
) -> dict[str, Any] | None:
    """The enrolment a re-check or termination is about; it lends the case its person and place."""
    programs = set(definition.config.process.subject_program)
    if about_place(definition):
        # A place's own case (a school's monthly report) has no applicant.
        if body.applicant is not None or body.subject_id is not None or body.division_code is None:
            raise Invalid(
                "place_case", f"{body.program} is about a place: give division_code only, no applicant"
            )
        return None
    if not programs:
        if body.subject_id is not None:
            raise Invalid(
                "subject_not_allowed", f"{body.program} is not about an existing case; omit subject_id"
            )
        if body.applicant is None or body.division_code is None:
            raise Invalid("applicant_required", "applicant and division_code are required")
        return None
    if body.subject_id is None:
        raise Invalid(
            "subject_required",
            f"{body.program} is about an approved case of {sorted(programs)}: give its id as subject_id",
        )
    row = await lookup.load_row(conn, principal, body.subject_id)
    if row["program"] not in programs or row["status"] != "approved":
        raise Conflict(
            "subject_not_enrolled",
            f"case {body.subject_id} is not an approved case of {sorted(programs)} "
            f"(it is {row['program']}, {row['status']})",
            subject_status=row["status"],
        )
    running = (
        await conn.execute(
            sa.select(applications.c.id, applications.c.program).where(
                applications.c.subject_id == row["id"], applications.c.status == "in_progress"
            )
        )
    ).first()
    if running:
        raise Conflict(
            "subject_case_in_progress",
            f"a {running.program} case about this enrolment is already running",
            existing_id=running.id,
        )
    body.applicant = Applicant.model_validate(row["applicant"])
    body.division_code = row["division_code"]
    body.family_id = row["family_id"]
    return row


def about_place(definition: definitions.Definition) -> bool:
    return definition.config.process.about == "place"


def enrols(definition: definitions.Definition) -> bool:
    return any(p.benefit == "monthly" for p in definition.config.benefits().values())


async def _check_duplicates(conn: AsyncConnection, body: ApplicationIn, principal: Principal) -> None:
    if body.external_ref is not None:
        existing = (
            await conn.execute(
                sa.select(applications.c.id).where(
                    applications.c.program == body.program, applications.c.external_ref == body.external_ref
                )
            )
        ).scalar()
        if existing:
            raise Conflict(
                "duplicate_external_ref",
                f"external_ref {body.external_ref!r} is already used in {body.program}",
                existing_id=existing,
            )
    if body.applicant is None:
        return
    active = (
        await conn.execute(
            sa.select(applications.c.id).where(
                applications.c.program == body.program,
                applications.c.applicant_id_number == body.applicant.id_number,
                applications.c.status == "in_progress",
            )
        )
    ).scalar()
    if active:
        # The case is named only to who reads it in full: to anyone else an ID number would find it.
        reads = await privacy.condition(conn, principal)
        named = (await conn.execute(sa.select(reads).where(applications.c.id == active))).scalar()
        raise Conflict(
            "active_application_exists",
            f"this person already has an active application in {body.program}",
            **({"existing_id": active} if named else {}),
        )


async def _check_staff_relative(conn: AsyncConnection, data: dict[str, Any]) -> None:
    flag = data.get("staff_relative", False)
    if not isinstance(flag, bool):
        raise Invalid("invalid_staff_relative", "data.staff_relative must be true or false")
    if flag:
        related = data.get("related_staff")
        if (
            not isinstance(related, str)
            or not (await conn.execute(sa.select(users.c.id).where(users.c.username == related))).first()
        ):
            raise Invalid(
                "invalid_related_staff", "data.related_staff must name the related staff member's username"
            )


async def create(
    conn: AsyncConnection, principal: Principal, body: ApplicationIn, idempotency_key: str | None = None
) -> tuple[int, dict[str, Any]]:
    request_hash = _request_hash(body)
    if idempotency_key is not None:
        replay = await _replay(conn, principal, idempotency_key, request_hash)
        if replay:
            return replay
    latest = await definitions.latest(conn, body.program)  # 422 for an unknown program, before anything else
    subject = await _subject(conn, principal, latest, body)
    person = body.applicant
    if person is not None and not id_numbers.is_valid(person.id_number):
        raise Invalid(
            "invalid_id_number", "applicant.id_number is not a valid 18-character resident ID number"
        )
    assert body.division_code is not None  # _subject refused a case without one
    division = await division_service.get(conn, body.division_code)
    if division is None:
        raise Invalid("unknown_division", f"division {body.division_code!r} does not exist")
    definition = await rollouts.for_new_case(conn, body.program, division["path"])
    accepted = definition.division_levels
    if accepted is not None and division["level"] not in accepted:
        raise Invalid(
            "division_level_not_accepted",
            f"{body.program} accepts applications at {sorted(accepted)} level, not {division['level']}",
            accepted_levels=sorted(accepted),
        )
    if not (
        principal.is_admin or any(principal.can_act(role, division["path"]) for role in definition.starters)
    ):
        raise Forbidden(
            "not_a_starter", f"only {sorted(definition.starters)} of this place may start {body.program}"
        )
    await _check_staff_relative(conn, body.data)
    forms.validate(definition.application_form or SCALARS_ONLY, body.data, code="data_invalid")
    if enrols(definition) and person is not None:
        exclusive = set(definition.config.process.exclusive_with)
        await ledger.refuse_if_enrolled(conn, person.id_number, {definition.key, *exclusive})
    settings = await program_settings.in_force(conn, definition, division["path"])
    if person is not None and not subject:  # a re-check or termination is about a case found eligible
        eligibility.check(
            definition.config.process,
            body.data,
            person.model_dump(),
            settings,
            await ledger.rule_functions(conn, person.id_number),
        )
    try:
        await _check_duplicates(conn, body, principal)
    except Conflict:
        # A concurrent retry of this very request may have committed since the first look.
        if idempotency_key is not None and (
            replay := await _replay(conn, principal, idempotency_key, request_hash)
        ):
            return replay
        raise

    rec = Recorder(principal.name)
    applicant = person.model_dump() if person is not None else None
    row = {
        "id": str(uuid.uuid4()),
        "program": definition.key,
        "definition_id": definition.id,
        "definition_version": definition.version,
        "division_code": division["code"],
        "division_path": division["path"],
        "status": "in_progress",
        "applicant": applicant,
        "applicant_id_number": person.id_number if person is not None else None,
        "data": body.data,
        "external_ref": body.external_ref,
        "engine_state": None,
        "version": 1,
        "created_by": principal.name,
        "created_at": rec.at,
        "updated_at": rec.at,
        "ended_at": None,
        "settings": settings,
        "family_id": body.family_id,
        "subject_id": subject["id"] if subject else None,
        "number": None,
    }
    # staff_relative is always defined, so BPMN conditions may test it (national rules, Art. 11);
    # settings are the values in force at this place today, frozen with the case.
    levels = await division_service.ancestors_by_level(conn, division)
    start_data = {
        "staff_relative": False,
        **body.data,
        "applicant": applicant,
        "settings": settings,
        # Where the case is, so a process may route by it ("university" in place["levels"]).
        "place": {"code": division["code"], "level": division["level"], "levels": sorted(levels)},
    }
    if subject:
        start_data["subject"] = {
            "id": subject["id"],
            "program": subject["program"],
            "data": subject["data"],
        }
    change = await CaseChange.start(conn, row, definition, start_data, rec)
    outcome = change.outcome
    case_deadline = deadlines.compute(
        rec.at, definition.config.process.case_time_limit, change.days, what="case"
    )
    row.update(
        engine_state=outcome.state,
        status=cases.status_for(outcome),
        case_due_at=case_deadline.due_at,
        case_due_basis=case_deadline.basis,
    )
    try:
        async with conn.begin_nested():
            # In the savepoint: a case that is not inserted gives its number back.
            row["number"] = await case_numbers.take(
                conn, definition, case_numbers.area_of(levels, division["code"])
            )
            await conn.execute(sa.insert(applications).values(**row))
            rec.add(
                "application.submitted",
                row["id"],
                {
                    "program": definition.key,
                    "version": definition.version,
                    "division_code": division["code"],
                    "data": body.data,
                },
                None,
                division["path"],
            )
            if body.data.get("staff_relative"):
                rec.add(
                    "application.staff_relative_declared",
                    row["id"],
                    {"related_staff": body.data["related_staff"]},
                    None,
                    division["path"],
                )
            saved = await change.save(is_new=True)
            response = views.application_view(row, [views.task_view(t, change.days) for t in saved.opened])
            if idempotency_key is not None:
                await conn.execute(
                    sa.insert(idempotency_keys).values(
                        principal=principal.name,
                        key=idempotency_key,
                        request_sha256=request_hash,
                        status_code=201,
                        response=_JSON.dump_python(response, mode="json"),
                        created_at=rec.at,
                    )
                )
            await rec.flush(conn)
    except IntegrityError:
        # Lost a race with a concurrent identical request: answer as the winner's duplicate.
        if idempotency_key is not None:
            replay = await _replay(conn, principal, idempotency_key, request_hash)
            if replay:
                return replay
        await _check_duplicates(conn, body, principal)
        raise
    return 201, response
