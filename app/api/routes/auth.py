from typing import Annotated

from fastapi import Depends
from fastapi.security import OAuth2PasswordRequestForm

from app.api.deps import Ctx, PublicCtx, log_in
from app.api.routing import api_router
from app.api.schemas import admin as admin_out
from app.api.schemas import auth as out
from app.api.schemas.problems import AUTHENTICATED, problem_responses
from app.domain.errors import Forbidden, Unauthorized
from app.domain.people import account_changes, credentials

router = api_router(prefix="/auth", tags=["auth"])


@router.post("/token", response_model=out.Token, responses=problem_responses(401, 422, 429, 500, 503))
async def token(ctx: PublicCtx, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> dict:
    username = await log_in(ctx.db, form.username, form.password)
    return credentials.issue_token(username, ctx.settings.signing_key, ctx.settings.token_ttl_seconds)


@router.get("/me", response_model=out.Me, responses=AUTHENTICATED)
async def me(ctx: Ctx) -> dict:
    async with ctx.begin() as (_, principal):
        return {
            "name": principal.name,
            "kind": principal.kind,
            "grants": [{"role": g.role, "division_code": g.division_code} for g in principal.grants],
        }


@router.post(
    "/password",
    response_model=admin_out.TokensRevoked,
    responses={**AUTHENTICATED, **problem_responses(429)},
)
async def change_own_password(ctx: Ctx, body: account_changes.OwnPasswordIn) -> dict:
    """A user's own new password, with the current one. A wrong current password counts like a failed
    login (a stolen token must not become a way to guess the password); the change revokes all the
    user's tokens and web sessions, this one included: log in again with the new password."""
    async with ctx.begin() as (_, me):
        if me.kind != "user":
            raise Forbidden("users_only", "only a user has a password; an API key is revoked and issued anew")
    try:
        await log_in(ctx.db, me.name, body.current_password)
    except Unauthorized as exc:
        raise Forbidden("wrong_password", "the current password is wrong") from exc
    async with ctx.begin_anonymous() as conn:
        return await account_changes.set_password(conn, me.name, body.new_password, me.name)
