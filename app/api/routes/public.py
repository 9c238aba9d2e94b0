"""What the public reads and sends without logging in: open notices and objections."""

from fastapi import Request
from fastapi.responses import HTMLResponse

from app.api import sheets
from app.api.deps import PublicCtx
from app.api.routing import api_router
from app.api.schemas import notices as out
from app.api.schemas.problems import PUBLIC, problem_responses
from app.domain.notices import entries as notices
from app.domain.notices import objections
from app.domain.people import rate_limits
from app.domain.programs import definitions

router = api_router(prefix="/public", tags=["public"], responses=PUBLIC)


def _wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "application/json" not in accept


async def notice_with_entries(conn, notice_id: str, base_url: str | None = None) -> tuple[dict, str]:
    notice, entries = await notices.get(conn, notice_id)
    view = notices.notice_view(notice, entries, await notices.how_to_object(conn, notice, base_url))
    return view, (await definitions.latest(conn, notice["program"])).name


@router.get("/notices", response_model=list[out.Notice])
async def list_notices(ctx: PublicCtx, division_code: str | None = None) -> list[dict]:
    """Open notices at or under a place."""
    async with ctx.begin_anonymous() as conn:
        return await notices.list_open(conn, division_code)


@router.get(
    "/notices/{notice_id}",
    response_model=out.NoticeWithEntries,
    responses={200: {"content": {"text/html": {"schema": {"type": "string"}}}}},
)
async def get_notice(ctx: PublicCtx, request: Request, notice_id: str):
    """A notice with its entries and how to object; a printable page when the client asks for HTML."""
    async with ctx.begin_anonymous() as conn:
        view, program_name = await notice_with_entries(conn, notice_id, ctx.settings.public_base_url)
    if _wants_html(request):
        return HTMLResponse(sheets.render(view, program_name))
    return view


@router.post(
    "/notices/{notice_id}/objections",
    status_code=202,
    response_model=out.ObjectionReceived,
    responses=problem_responses(429),
)
async def object_to(ctx: PublicCtx, request: Request, notice_id: str, body: objections.ObjectionIn) -> dict:
    async with ctx.begin_anonymous() as conn:
        await rate_limits.hit(
            conn,
            "objection",
            request.client.host if request.client else None,
            request.app.state.objection_rate_limit,
        )
    async with ctx.begin_anonymous() as conn:
        return await objections.submit(conn, notice_id, body)


@router.get("/objections/{number}", response_model=out.ObjectionFollowUp)
async def follow(ctx: PublicCtx, number: str, code: str) -> dict:
    async with ctx.begin_anonymous() as conn:
        return await objections.follow(conn, number, code)
