from app.api.deps import Ctx
from app.api.routing import api_router
from app.api.schemas import cases as out
from app.api.schemas.problems import AUTHENTICATED
from app.domain.tasks import supervision

router = api_router(prefix="/supervision", tags=["supervision"], responses=AUTHENTICATED)


@router.get("/overdue", response_model=out.Overdue)
async def overdue(ctx: Ctx, division_code: str | None = None) -> dict:
    """Overdue tasks of lower levels of the caller's departments, with counts per place."""
    async with ctx.begin() as (conn, me):
        return await supervision.overdue(conn, me, division_code)
