from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from app.api.deps import Ctx, Limit, Offset
from app.domain import tasks

router = APIRouter(prefix="/tasks", tags=["tasks"])


class AssignIn(BaseModel):
    username: str = Field(min_length=1, max_length=100)


class CompleteIn(BaseModel):
    data: dict = Field(default_factory=dict)


@router.get("")
async def inbox(ctx: Ctx, scope: str = "candidate", program: str | None = None, division_code: str | None = None,
                overdue: bool | None = None, due_before: datetime | None = None, state: str | None = None,
                sort: str = "due_at", limit: Limit = 50, offset: Offset = 0) -> dict:
    async with ctx.begin() as (conn, me):
        return await tasks.inbox(conn, me, scope=scope, program=program, division_code=division_code,
                                 overdue=overdue, state=state, limit=limit, offset=offset, due_before=due_before,
                                 sort=sort)


@router.get("/{task_id}")
async def get(ctx: Ctx, task_id: str) -> dict:
    async with ctx.begin() as (conn, me):
        return await tasks.get(conn, me, task_id)


@router.post("/{task_id}/claim")
async def claim(ctx: Ctx, task_id: str) -> dict:
    async with ctx.begin() as (conn, me):
        return await tasks.claim(conn, me, task_id)


@router.post("/{task_id}/unclaim")
async def unclaim(ctx: Ctx, task_id: str) -> dict:
    async with ctx.begin() as (conn, me):
        return await tasks.unclaim(conn, me, task_id)


@router.post("/{task_id}/assign")
async def assign(ctx: Ctx, task_id: str, body: AssignIn) -> dict:
    async with ctx.begin() as (conn, me):
        return await tasks.assign(conn, me, task_id, body.username)


@router.post("/{task_id}/complete")
async def complete(ctx: Ctx, task_id: str, body: CompleteIn) -> dict:
    async with ctx.begin() as (conn, me):
        return await tasks.complete(conn, me, task_id, body.data)
