from typing import Annotated

from fastapi import Header

from app.api.deps import Ctx
from app.api.routing import api_router
from app.api.schemas import cases as out
from app.api.schemas.problems import AUTHENTICATED
from app.domain.cases import messages

router = api_router(prefix="/messages", tags=["messages"], responses=AUTHENTICATED)


@router.post("", status_code=202, response_model=out.MessageResult)
async def send(
    ctx: Ctx,
    body: messages.MessageIn,
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=150)] = None,
) -> dict:
    async with ctx.begin() as (conn, me):
        return await messages.receive(conn, me, body, idempotency_key)
