from fastapi import APIRouter

from app.api.deps import Ctx
from app.domain import messages

router = APIRouter(prefix="/messages", tags=["messages"])


@router.post("", status_code=202)
async def send(ctx: Ctx, body: messages.MessageIn) -> dict:
    async with ctx.begin() as (conn, me):
        return await messages.deliver(conn, me, body)
