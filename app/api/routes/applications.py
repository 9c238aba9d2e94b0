from datetime import date
from typing import Annotated

from fastapi import Header, Query, Response

from app.api.deps import Ctx, Limit, Offset
from app.api.routing import api_router
from app.api.schemas import cases as out
from app.api.schemas import payments as payments_out
from app.api.schemas.problems import AUTHENTICATED
from app.domain.cases import applications, lookup, privacy
from app.domain.cases import record as approval_record
from app.domain.money import history, ledger
from app.domain.tasks import actions as task_actions

router = api_router(prefix="/applications", tags=["applications"], responses=AUTHENTICATED)


@router.post(
    "",
    status_code=201,
    response_model=out.Application,
    responses={
        200: {"model": out.Application, "description": "a replay of an Idempotency-Key: the case made then"}
    },
)
async def create(
    ctx: Ctx,
    body: applications.ApplicationIn,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> dict:
    async with ctx.begin() as (conn, me):
        response.status_code, result = await applications.create(conn, me, body, idempotency_key)
    return result


@router.get("", response_model=out.ApplicationPage)
async def list_(
    ctx: Ctx,
    program: str | None = None,
    division_code: str | None = None,
    status: str | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
    q: Annotated[
        str | None,
        Query(max_length=100, description="ID number, case id (its beginning) or part of the name"),
    ] = None,
    step: Annotated[
        str | None, Query(max_length=100, description="an open step, e.g. county_confirm")
    ] = None,
    submitted_from: date | None = None,
    submitted_to: date | None = None,
) -> dict:
    """案件查询: cases at or below the caller's places (a case in its notice period, without an open step, too)."""
    async with ctx.begin() as (conn, me):
        return await lookup.list_(
            conn,
            me,
            program=program,
            division_code=division_code,
            status=status,
            limit=limit,
            offset=offset,
            q=q,
            step=step,
            submitted_from=submitted_from,
            submitted_to=submitted_to,
        )


@router.get("/{application_id}", response_model=out.Application)
async def get(ctx: Ctx, application_id: str) -> dict:
    async with ctx.begin() as (conn, me):
        return await lookup.get(conn, me, application_id)


@router.get("/{application_id}/events", response_model=list[out.CaseEvent])
async def events(ctx: Ctx, application_id: str, internal: bool = True) -> list[dict]:
    """The case's audit timeline, each actor also as a person (``actor_display``); ``internal=false``
    leaves out the service's own bookkeeping (timers, messages received…), as the reviewer's page does."""
    async with ctx.begin() as (conn, me):
        return await lookup.timeline(conn, me, application_id, internal=internal)


@router.get("/{application_id}/record", response_model=list[out.RecordStep])
async def record(ctx: Ctx, application_id: str) -> list[dict]:
    """审批记录: each step with its handler's name, result, opinion, arrival, completion, working days taken."""
    async with ctx.begin() as (conn, me):
        return await approval_record.of_application(conn, me, application_id)


@router.get("/{application_id}/benefits", response_model=list[out.Benefit])
async def benefits(ctx: Ctx, application_id: str) -> list[dict]:
    """The ledger entries of a case (amounts approved, periods, status); 403
    ``personal_data_not_readable`` to a caller who reads the case masked."""
    async with ctx.begin() as (conn, me):
        row = await lookup.load_row(conn, me, application_id, reading=True)
        privacy.require(row[privacy.READABLE])
        return await ledger.of_application(conn, row["id"])


@router.get("/{application_id}/payments", response_model=payments_out.PaymentHistory)
async def payments(ctx: Ctx, application_id: str) -> dict:
    """发放记录: the case's ledger entries and its payments — each period with amount, status
    (scheduled, in_batch, paid, failed), pay date, batch and account (bank and last four digits). For
    whoever reads the case in full (403 ``personal_data_not_readable`` to a caller who reads it masked)."""
    async with ctx.begin() as (conn, me):
        row = await lookup.load_row(conn, me, application_id, reading=True)
        privacy.require(row[privacy.READABLE])
        return await history.of_application(conn, row["id"])


@router.post("/{application_id}/withdraw", response_model=out.Application)
async def withdraw(ctx: Ctx, application_id: str, body: task_actions.ReasonIn) -> dict:
    """撤销: the submitting portal or the township withdraws the application until the county decides."""
    async with ctx.begin() as (conn, me):
        return await task_actions.cancel_application(conn, me, application_id, body)
