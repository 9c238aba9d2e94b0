from fastapi import APIRouter

from app.api.deps import Ctx
from app.domain.tasks import supervision

router = APIRouter(prefix="/supervision", tags=["supervision"])


@router.get("/overdue")
async def overdue(ctx: Ctx, division_code: str | None = None) -> dict:
    """Overdue tasks of lower levels of the caller's departments, with counts per place."""
    async with ctx.begin() as (conn, me):
        return await supervision.overdue(conn, me, division_code)
