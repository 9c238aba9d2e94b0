from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm

from app.api.deps import Ctx, log_in
from app.domain import accounts

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/token")
async def token(ctx: Ctx, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> dict:
    username = await log_in(ctx.db, form.username, form.password)
    return accounts.issue_token(username, ctx.settings.secret_key, ctx.settings.token_ttl_seconds)


@router.get("/me")
async def me(ctx: Ctx) -> dict:
    async with ctx.begin() as (_, principal):
        return {"name": principal.name, "kind": principal.kind,
                "grants": [{"role": g.role, "division_code": g.division_code} for g in principal.grants]}
