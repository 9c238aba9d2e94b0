from app.api.deps import Ctx
from app.api.routing import api_router
from app.api.schemas import admin as out
from app.api.schemas.problems import AUTHENTICATED
from app.domain.people import divisions

router = api_router(prefix="/divisions", tags=["divisions"], responses=AUTHENTICATED)


@router.get("", response_model=list[out.Place])
async def places(ctx: Ctx, parent_code: str | None = None) -> list[dict]:
    """The division codes a portal or reviewer may use, one level at a time: no ``parent_code``, the
    caller's own places; with it, the places directly under that place (404 outside the caller's)."""
    async with ctx.begin() as (conn, me):
        return await divisions.places_for(conn, me, parent_code)
