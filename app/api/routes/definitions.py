from fastapi import APIRouter, Request, Response, UploadFile

from app.api.deps import Ctx, require_admin
from app.domain import definitions
from app.domain.errors import Invalid, TooLarge

router = APIRouter(prefix="/process-definitions", tags=["process definitions"])


@router.post("", status_code=201, responses={200: {"description": "identical to the newest version; nothing deployed"}})
async def upload(ctx: Ctx, request: Request, response: Response, file: UploadFile, dry_run: bool = False) -> dict:
    """Deploy a .bpmn (a new version when its content changed); ``dry_run=true`` only validates."""
    limit = ctx.settings.max_upload_bytes
    if int(request.headers.get("content-length") or 0) > limit + 64 * 1024:
        raise TooLarge("upload_too_large", f"the upload exceeds {limit} bytes")
    xml = await file.read(limit + 1)
    if len(xml) > limit:
        raise TooLarge("upload_too_large", f"the upload exceeds {limit} bytes")
    if not (file.filename or "").lower().endswith(".bpmn"):
        raise Invalid("not_bpmn_file", "upload a .bpmn file")
    async with ctx.begin() as (conn, me):
        require_admin(me)
        result, created = await definitions.deploy(conn, xml, me.name, ctx.settings.processes_dir / "forms", dry_run)
    response.status_code = 201 if created else 200
    return {**result, "created": created}


@router.get("")
async def list_latest(ctx: Ctx) -> list[dict]:
    async with ctx.begin() as (conn, _):
        return await definitions.list_latest(conn)


@router.get("/{key}")
async def list_versions(ctx: Ctx, key: str) -> list[dict]:
    async with ctx.begin() as (conn, _):
        return await definitions.list_versions(conn, key)
