"""Messages from portals (materials supplemented, objection, person deceased…), routed to cases in SQL.

A message names its case by ``application_id``, by ``external_ref`` (with ``program`` when the
reference is used in several programs), or names a person by ``id_number`` (with or without
``program``) and then reaches each in-progress or approved case of that person that takes it.
Its payload must satisfy the form its catching event declares. A case that does not wait for it
answers 409, unless the catching event declares ``keep_early`` (a time limit): then the message
is kept and delivered when the case gets there (``domain/early_messages.py``), also when no case
exists yet but the message names one to come by ``program`` and ``external_ref`` or
``id_number``. An ``Idempotency-Key`` header or a ``message_id`` makes retries safe: the same
key and body answer the first answer again.

Who may send a message is declared in the BPMN, property ``senders`` on the ``bpmn:message`` (or
on the event catching it): role keys, ``portal`` meaning a portal key's grant; the sender needs
one of them at or above the case's place. Undeclared means ``portal`` only; anyone else gets 403
``message_not_allowed``. The message ``objection`` becomes an objection record exactly like one
from the public form (``objections.relay``).
"""

import hashlib
import json
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field, TypeAdapter, model_validator
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.models import applications, idempotency_keys
from app.domain.audit import Recorder
from app.domain.cases import early_messages
from app.domain.cases import effects as case_effects
from app.domain.cases import numbers as case_numbers
from app.domain.cases.receiving import deliver_to
from app.domain.errors import Conflict, Forbidden, Invalid, NotFound
from app.domain.notices import objections
from app.domain.people import id_numbers
from app.domain.people.principal import Principal
from app.domain.programs import definitions, forms
from app.domain.programs.config import DefinitionConfig

# Stored answers are rendered as the API renders them, so a replay is alike.
_JSON = TypeAdapter(dict)
OBJECTION = "objection"


def senders(config: DefinitionConfig, name: str) -> list[str]:
    """Who may send it (``senders``); a message whose BPMN declares none: a portal key, the safe default."""
    return list(config.message(name).senders)


def may_send(principal: Principal, model: DefinitionConfig, name: str, division_path: str | None) -> bool:
    """A declared sender role at or above the case's place; with no case yet, anywhere (``adopt``
    later keeps the message to the sender's places)."""
    roles = senders(model, name)
    if division_path is None:
        return principal.is_admin or any(g.role in roles for g in principal.grants)
    return any(principal.can_act(role, division_path) for role in roles)


def _not_allowed(name: str, model: DefinitionConfig) -> Forbidden:
    return Forbidden(
        "message_not_allowed",
        f"{name!r} may be sent only by {', '.join(senders(model, name))} for this case's place",
        senders=senders(model, name),
    )


class MessageIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    application_id: str | None = Field(default=None, max_length=36)
    external_ref: str | None = Field(default=None, max_length=200)
    id_number: str | None = Field(
        default=None,
        min_length=1,
        max_length=18,
        description="a person: reaches each of their in-progress or approved cases (in `program` if given)",
    )
    program: str | None = Field(default=None, max_length=100)
    message_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=150,
        description="the sender's id for this message; same role as Idempotency-Key",
    )
    payload: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_target(self) -> "MessageIn":
        if sum(x is not None for x in (self.application_id, self.external_ref, self.id_number)) != 1:
            raise ValueError("give exactly one of application_id, external_ref or id_number")
        return self


async def _find(conn: AsyncConnection, principal: Principal, body: MessageIn) -> list[dict[str, Any]]:
    query = sa.select(applications)
    if body.application_id is not None:
        by_number = case_numbers.PATTERN.match(
            body.application_id
        )  # the case's number does as well as its id
        query = query.where(
            (applications.c.number if by_number else applications.c.id) == body.application_id
        )
    elif body.external_ref is not None:
        query = query.where(applications.c.external_ref == body.external_ref)
    else:
        # Approved cases too: some messages about a person end their support (enrolment_messages).
        query = query.where(
            applications.c.applicant_id_number == body.id_number,
            applications.c.status.in_(("in_progress", "approved")),
        ).order_by(applications.c.created_at)
    if body.program and body.application_id is None:
        query = query.where(applications.c.program == body.program)
    limit = 2 if body.id_number is None else 100
    rows = [
        dict(r)
        for r in (await conn.execute(query.limit(limit))).mappings()
        if principal.can_see(r["division_path"])
    ]
    if not rows:
        raise NotFound(
            "application_not_found",
            "no such application"
            if body.id_number is None
            else "this person has no active application you can see",
        )
    if len(rows) > 1 and body.external_ref is not None:
        raise Invalid("ambiguous_external_ref", "external_ref is used in several programs; add 'program'")
    return rows


def _key(body: MessageIn, header: str | None) -> str | None:
    if header is not None and body.message_id is not None and header != body.message_id:
        raise Invalid("idempotency_key_mismatch", "Idempotency-Key and message_id differ")
    key = header if header is not None else body.message_id
    return None if key is None else "message:" + key


async def _replay(
    conn: AsyncConnection, principal: Principal, key: str, request_hash: str
) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            sa.select(idempotency_keys.c.request_sha256, idempotency_keys.c.response).where(
                idempotency_keys.c.principal == principal.name, idempotency_keys.c.key == key
            )
        )
    ).first()
    if row is None:
        return None
    if row.request_sha256 != request_hash:
        raise Conflict("idempotency_key_reused", "this message id was used for a different message")
    response: dict[str, Any] = row.response
    return response


async def receive(
    conn: AsyncConnection, principal: Principal, body: MessageIn, idempotency_key: str | None
) -> dict[str, Any]:
    key = _key(body, idempotency_key)
    request_hash = hashlib.sha256(
        json.dumps(body.model_dump(mode="json", exclude={"message_id"}), sort_keys=True).encode()
    ).hexdigest()
    if key is not None:
        if (replay := await _replay(conn, principal, key, request_hash)) is not None:
            return replay
        try:
            # Claim the key first: a concurrent retry waits here for this transaction, then replays it.
            async with conn.begin_nested():
                await conn.execute(
                    sa.insert(idempotency_keys).values(
                        principal=principal.name,
                        key=key,
                        request_sha256=request_hash,
                        status_code=202,
                        response={},
                        created_at=Recorder(principal.name).at,
                    )
                )
        except IntegrityError:
            if (replay := await _replay(conn, principal, key, request_hash)) is not None:
                return replay
            raise
    try:
        targets = await _find(conn, principal, body)
    except NotFound:
        result = await _keep_for_case_to_come(conn, principal, body)
        if result is None:
            raise
    else:
        result = await _deliver_all(conn, principal, body, targets)
    if key is not None:
        result = _JSON.dump_python(result, mode="json")
        await conn.execute(
            sa.update(idempotency_keys)
            .where(idempotency_keys.c.principal == principal.name, idempotency_keys.c.key == key)
            .values(response=result)
        )
    return result


async def _deliver_one(
    conn: AsyncConnection, principal: Principal, app: dict[str, Any], name: str, payload: dict[str, Any]
) -> dict[str, Any]:
    """From outside (POST /messages): the sender must be one the BPMN declares for this message."""
    definition = await definitions.by_id(conn, app["definition_id"])
    if not may_send(principal, definition.config, name, app["division_path"]):
        raise _not_allowed(name, definition.config)
    if name == OBJECTION and name not in case_effects.enrolment_messages(definition):
        form = definition.model.message_forms.get(name)
        forms.validate(definition.forms.get(form) if form else None, payload, code="payload_invalid")
        return await objections.relay(conn, principal, app, payload)
    return await deliver_to(conn, principal, app, name, payload)


async def _deliver_all(
    conn: AsyncConnection, principal: Principal, body: MessageIn, targets: list[dict[str, Any]]
) -> dict[str, Any]:
    if body.id_number is None:
        return await _deliver_one(conn, principal, targets[0], body.name, body.payload)
    reached, refused = [], None
    for app in targets:
        try:
            reached.append(await _deliver_one(conn, principal, app, body.name, body.payload))
        except Forbidden as exc:  # raised before this case was changed; the person's other cases may take it
            refused = exc
        except Conflict as exc:
            if exc.code != "no_waiting_receiver":  # raised before this case was changed
                raise
    if not reached and refused is not None:
        raise refused
    if not reached:
        raise Conflict("no_waiting_receiver", f"no active case of this person waits for {body.name!r} now")
    return {"deliveries": reached}


async def _keep_for_case_to_come(
    conn: AsyncConnection, principal: Principal, body: MessageIn
) -> dict[str, Any] | None:
    """No case yet: keep the message if it names one to come and the program's BPMN allows it."""
    if body.program is None or body.application_id is not None:
        return None
    definition = await definitions.latest(conn, body.program)
    keep = definition.config.message(body.name).keep_early
    if not keep:
        return None
    if not may_send(principal, definition.config, body.name, None):
        raise _not_allowed(body.name, definition.config)
    if body.id_number is not None and not id_numbers.is_valid(body.id_number):
        raise Invalid("invalid_id_number", "id_number is not a valid 18-character resident ID number")
    form = definition.model.message_forms.get(body.name)
    forms.validate(definition.forms.get(form) if form else None, body.payload, code="payload_invalid")
    return await early_messages.keep_for_case_to_come(
        conn, principal, body.program, body.external_ref, body.id_number, body.name, body.payload, keep
    )


async def deliver(conn: AsyncConnection, principal: Principal, body: MessageIn) -> dict[str, Any]:
    return await receive(conn, principal, body, None)
