from fastapi import Response

from app.api import workbooks
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


@router.get(
    "/overdue.xlsx",
    response_class=Response,
    responses={
        200: {
            "content": {workbooks.MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
            "description": "The overdue list as a spreadsheet (Chinese headers; every task, not only 200)",
        }
    },
)
async def overdue_xlsx(ctx: Ctx, division_code: str | None = None) -> Response:
    """The same overdue tasks as GET /supervision/overdue, as an XLSX workbook for 督办 work offline."""
    async with ctx.begin() as (conn, me):
        result, places, programs = await supervision.overdue_export(conn, me, division_code)
    return Response(
        workbooks.overdue_workbook(result, places, programs),
        media_type=workbooks.MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{workbooks.FILENAME}"'},
    )
