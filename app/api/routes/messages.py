from typing import Annotated

from fastapi import APIRouter, Header

from app.api.deps import Ctx
from app.domain.cases import messages

router = APIRouter(prefix="/messages", tags=["messages"])


@router.post("", status_code=202)
async def send(
    ctx: Ctx,
    body: messages.MessageIn,
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=150)] = None,
) -> dict:
    async with ctx.begin() as (conn, me):
        return await messages.receive(conn, me, body, idempotency_key)
