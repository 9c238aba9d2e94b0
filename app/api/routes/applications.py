from datetime import date
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from app.api.deps import Ctx, Limit, Offset
from app.domain.cases import applications
from app.domain.cases import record as approval_record
from app.domain.money import ledger
from app.domain.tasks import actions as task_actions

router = APIRouter(prefix="/applications", tags=["applications"])


@router.post("", status_code=201)
async def create(
    ctx: Ctx,
    body: applications.ApplicationIn,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> dict:
    async with ctx.begin() as (conn, me):
        response.status_code, result = await applications.create(conn, me, body, idempotency_key)
    return result


@router.get("")
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
        return await applications.list_(
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


@router.get("/{application_id}")
async def get(ctx: Ctx, application_id: str) -> dict:
    async with ctx.begin() as (conn, me):
        return await applications.get(conn, me, application_id)


@router.get("/{application_id}/events")
async def events(ctx: Ctx, application_id: str) -> list[dict]:
    async with ctx.begin() as (conn, me):
        return await applications.timeline(conn, me, application_id)


@router.get("/{application_id}/record")
async def record(ctx: Ctx, application_id: str) -> list[dict]:
    """审批记录: each step with its handler's name, result, opinion, arrival, completion, working days taken."""
    async with ctx.begin() as (conn, me):
        return await approval_record.of_application(conn, me, application_id)


@router.get("/{application_id}/benefits")
async def benefits(ctx: Ctx, application_id: str) -> list[dict]:
    """The ledger entries of a case (amounts approved, periods, status)."""
    async with ctx.begin() as (conn, me):
        row = await applications.load_row(conn, me, application_id)
        return await ledger.of_application(conn, row["id"])


@router.post("/{application_id}/withdraw")
async def withdraw(ctx: Ctx, application_id: str, body: task_actions.ReasonIn) -> dict:
    """撤销: the submitting portal or the township withdraws the application until the county decides."""
    async with ctx.begin() as (conn, me):
        return await task_actions.cancel_application(conn, me, application_id, body)
