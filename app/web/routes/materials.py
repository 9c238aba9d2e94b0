"""材料 in the web UI: a reviewer uploads on their task (PRG: 303 back to the task), and reads a
document by a link that previews PDFs and images in a new tab or downloads the rest. The same
checks, store and audit as the REST API (``app/api/materials_io``)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.datastructures import UploadFile

from app.api import materials_io
from app.domain.errors import DomainError
from app.domain.people.principal import Principal
from app.domain.tasks import worklist as tasks
from app.web import labels
from app.web.context import WebContext, WebCtx
from app.web.render import flash

router = APIRouter()


def _as_principal(ctx: WebContext):
    @asynccontextmanager
    async def begin() -> AsyncIterator[tuple[AsyncConnection, Principal]]:
        async with ctx.begin() as (conn, me):
            yield conn, me.principal

    return begin


@router.post("/tasks/{task_id}/attachments")
async def upload(ctx: WebCtx, request: Request, task_id: str):
    form = await ctx.form()
    async with ctx.begin() as (conn, me):
        case_id = (await tasks.get(conn, me.principal, task_id))["application"]["id"]
    file, key = form.get("file"), str(form.get("key", ""))
    try:
        if not isinstance(file, UploadFile) or not file.filename:
            raise DomainError("no_file", "请选择要上传的文件。")
        data = await materials_io.read_upload(file, ctx.settings)
        added = await materials_io.upload(
            _as_principal(ctx),
            request.app.state.store,
            ctx.settings,
            case_id,
            key,
            data,
            file.filename,
            task_id,
        )
        msg = f"已上传材料：{added['file_name']}"
    except DomainError as exc:
        msg = "上传未成功：" + labels.problem(exc)
    return RedirectResponse(
        f"/ui/tasks/{task_id}?" + urlencode(flash(ctx.request, msg)) + "#materials", status_code=303
    )


@router.post("/tasks/{task_id}/signatures")
async def sign(ctx: WebCtx, request: Request, task_id: str):
    """A signature drawn on the task page (the canvas's PNG in ``image``), then back to the task."""
    form = await ctx.form()
    async with ctx.begin() as (conn, me):
        case_id = (await tasks.get(conn, me.principal, task_id))["application"]["id"]
    try:
        added = await materials_io.drawn_signature(
            _as_principal(ctx),
            request.app.state.store,
            ctx.settings,
            case_id,
            task_id,
            str(form.get("key", "")),
            str(form.get("signer_name", "")),
            str(form.get("image", "")),
        )
        msg = f"已保存签名：{added['signer_name']}"
    except DomainError as exc:
        msg = "签名未保存：" + labels.problem(exc)
    return RedirectResponse(
        f"/ui/tasks/{task_id}?" + urlencode(flash(ctx.request, msg)) + "#signatures", status_code=303
    )


@router.get("/attachments/{attachment_id}/content")
async def content(ctx: WebCtx, request: Request, attachment_id: str, preview: bool = False) -> Response:
    return await materials_io.content(_as_principal(ctx), request.app.state.store, attachment_id, preview)
