from datetime import datetime
from typing import Annotated

from fastapi import Path as FastPath
from fastapi import Query, Request
from pydantic import BaseModel

from app import clock
from app.api.deps import Ctx, Limit, RowId, require_admin
from app.api.routing import api_router
from app.api.schemas import admin as out
from app.api.schemas.problems import AUTHENTICATED
from app.domain import audit
from app.domain.cases import followups, timers
from app.domain.errors import NotFound
from app.domain.money.batch_schedule import PaySchedule
from app.domain.people import account_changes, accounts, divisions
from app.domain.timekeeping import service_clock
from app.domain.webhooks.deliveries import Policy
from app.worker import run_due_work

router = api_router(prefix="/admin", tags=["admin"], responses=AUTHENTICATED)


@router.post("/users", status_code=201, response_model=out.User)
async def create_user(ctx: Ctx, body: accounts.UserIn) -> dict:
    async with ctx.begin() as (conn, me):
        require_admin(me)
        return await accounts.create_user(conn, body, me.name)


@router.post("/api-keys", status_code=201, response_model=out.NewApiKey)
async def create_api_key(ctx: Ctx, body: accounts.ApiKeyIn) -> dict:
    async with ctx.begin() as (conn, me):
        require_admin(me)
        return await accounts.create_api_key(conn, body, me.name)


# The day someone leaves (docs/api.md "Closing accounts"): each takes effect at once and is audited.
UserName = Annotated[str, FastPath(pattern=r"^[A-Za-z0-9_.@-]{1,100}$")]


@router.put("/users/{username}/password", response_model=out.TokensRevoked)
async def set_user_password(ctx: Ctx, username: UserName, body: account_changes.PasswordIn) -> dict:
    async with ctx.begin() as (conn, me):
        require_admin(me)
        return await account_changes.set_password(conn, username, body.password, me.name)


@router.patch("/users/{username}", response_model=out.UserChanged)
async def update_user(ctx: Ctx, username: UserName, body: account_changes.UserChangeIn) -> dict:
    async with ctx.begin() as (conn, me):
        require_admin(me)
        return await account_changes.update_user(conn, username, body, me.name)


@router.post("/users/{username}/disable", response_model=out.UserActive)
async def disable_user(ctx: Ctx, username: UserName) -> dict:
    async with ctx.begin() as (conn, me):
        require_admin(me)
        return await account_changes.set_active(conn, username, False, me.name)


@router.post("/users/{username}/enable", response_model=out.UserActive)
async def enable_user(ctx: Ctx, username: UserName) -> dict:
    async with ctx.begin() as (conn, me):
        require_admin(me)
        return await account_changes.set_active(conn, username, True, me.name)


@router.post("/users/{username}/revoke-tokens", response_model=out.TokensRevoked)
async def revoke_user_tokens(ctx: Ctx, username: UserName) -> dict:
    async with ctx.begin() as (conn, me):
        require_admin(me)
        return await account_changes.revoke_tokens(conn, username, me.name)


@router.get("/api-keys", response_model=list[out.ApiKey])
async def list_api_keys(ctx: Ctx) -> list[dict]:
    async with ctx.begin() as (conn, me):
        require_admin(me)
        return await accounts.list_api_keys(conn)


@router.post("/api-keys/{name}/revoke", response_model=out.ApiKeyRevoked)
async def revoke_api_key(ctx: Ctx, name: UserName) -> dict:
    async with ctx.begin() as (conn, me):
        require_admin(me)
        return await account_changes.revoke_api_key(conn, name, me.name)


@router.get("/audit", response_model=list[out.AuthorityChange])
async def list_authority_changes(
    ctx: Ctx,
    limit: Limit = 100,
    type: str | None = Query(None, max_length=64),
    subject: str | None = Query(None, max_length=200),
    before_id: int | None = Query(None, ge=1, le=2**62),
) -> list[dict]:
    """Changes of authority and behaviour (users, grants, keys, settings…), newest first; never deleted."""
    async with ctx.begin() as (conn, me):
        require_admin(me)
        return await audit.changes(conn, type_prefix=type, subject=subject, before_id=before_id, limit=limit)


@router.put("/divisions", response_model=out.Upserted)
async def upsert_divisions(ctx: Ctx, body: list[divisions.DivisionIn]) -> dict:
    async with ctx.begin() as (conn, me):
        require_admin(me)
        return {"upserted": await divisions.upsert(conn, body, me.name)}


@router.get("/divisions", response_model=list[out.Division])
async def list_divisions(ctx: Ctx) -> list[dict]:
    async with ctx.begin() as (conn, me):
        require_admin(me)
        return await divisions.list_all(conn)


@router.get("/timers/failed", response_model=list[out.FailedTimer])
async def failed_timers(ctx: Ctx, limit: Limit = 200) -> list[dict]:
    """Timers set aside after their step failed every attempt (newest first)."""
    async with ctx.begin() as (conn, me):
        require_admin(me)
        return await timers.failed(conn, limit)


@router.post("/timers/{timer_id}/retry", response_model=out.TimerRetried)
async def retry_timer(ctx: Ctx, timer_id: RowId) -> dict:
    """Send a failed timer round again, once what made its step fail has been fixed."""
    async with ctx.begin() as (conn, me):
        require_admin(me)
        return await timers.retry(conn, timer_id, me.name)


@router.get("/followups/failed", response_model=list[out.FailedFollowUp])
async def failed_followups(ctx: Ctx, limit: Limit = 200) -> list[dict]:
    """Follow-up cases (a termination after a re-check) given up after five refusals (newest first)."""
    async with ctx.begin() as (conn, me):
        require_admin(me)
        return await followups.failed(conn, limit)


@router.post("/followups/{followup_id}/retry", response_model=out.FollowUpRetried)
async def retry_followup(ctx: Ctx, followup_id: RowId) -> dict:
    """Let the worker try a given-up follow-up again, once what refused it is settled."""
    async with ctx.begin() as (conn, me):
        require_admin(me)
        return await followups.retry(conn, followup_id, me.name)


# Test and demo mode only: the service clock and timers on demand (Camunda's ClockUtil plays this part).
class ClockMove(BaseModel):
    advance_seconds: float | None = None
    to: datetime | None = None


def _require_movable_clock(request: Request) -> None:
    if not request.app.state.settings.clock_movable:
        raise NotFound("not_found", "not found")


@router.get("/clock", response_model=out.Clock)
async def get_clock(ctx: Ctx, request: Request) -> dict:
    _require_movable_clock(request)
    async with ctx.begin() as (conn, me):
        require_admin(me)
        await service_clock.load(conn)
        return {"now": clock.now()}


@router.post("/clock", response_model=out.Clock)
async def move_clock(ctx: Ctx, request: Request, body: ClockMove) -> dict:
    _require_movable_clock(request)
    async with ctx.begin() as (conn, me):
        require_admin(me)
        return {"now": await service_clock.move(conn, advance_seconds=body.advance_seconds, to=body.to)}


@router.post("/timers/run", response_model=out.WorkRound)
async def run_timers(ctx: Ctx, request: Request) -> dict:
    _require_movable_clock(request)
    async with ctx.begin() as (conn, me):
        require_admin(me)
        await service_clock.load(conn)
    return (
        await run_due_work(
            ctx.db,
            ctx.settings.claim_stale_working_days,
            webhooks=Policy.from_settings(ctx.settings),
            payments=PaySchedule(ctx.settings.payment_day, ctx.settings.payment_lead_days),
        )
    ).as_dict()
