"""Materials (材料) of a case: add, list, read. Rules in ``app/domain/materials``; bytes in the store."""

from typing import Annotated

from fastapi import Form, Query, Request, UploadFile
from fastapi.responses import Response

from app.api import materials_io
from app.api.deps import Ctx
from app.api.routing import api_router
from app.api.schemas import materials as out
from app.api.schemas.problems import AUTHENTICATED
from app.domain.materials import attachments
from app.domain.materials.files import PREVIEWABLE
from app.domain.tasks import step_signatures

router = api_router(tags=["materials"], responses=AUTHENTICATED)


@router.post("/applications/{application_id}/attachments", status_code=201, response_model=out.Attachment)
async def add(
    ctx: Ctx,
    request: Request,
    application_id: str,
    file: UploadFile,
    key: Annotated[str, Form(max_length=64, description="the checklist item, e.g. hukou, id_card")],
    task_id: Annotated[
        str | None,
        Form(max_length=36, description="the open step it is added on (a reviewer's; a signed scan)"),
    ] = None,
) -> dict:
    """Add a document (PDF, JPEG, PNG, WebP, HEIC; type by content; images re-encoded without EXIF,
    HEIC kept as JPEG): the portal that submitted the case, or a reviewer who may act on one of its
    open steps (named by ``task_id`` for what belongs to that step: photos, a signed scan)."""
    data = await materials_io.read_upload(file, ctx.settings)
    return await materials_io.upload(
        ctx.begin, request.app.state.store, ctx.settings, application_id, key, data, file.filename, task_id
    )


@router.get("/applications/{application_id}/attachments", response_model=list[out.Attachment])
async def list_(ctx: Ctx, application_id: str) -> list[dict]:
    async with ctx.begin() as (conn, me):
        return await attachments.of_case(conn, me, application_id)


@router.get("/applications/{application_id}/checklist", response_model=out.Checklist)
async def checklist(ctx: Ctx, application_id: str) -> dict:
    """What the program asks for, what the case has, and what is missing (一次性告知)."""
    async with ctx.begin() as (conn, me):
        return await attachments.checklist(conn, me, application_id)


@router.get(
    "/attachments/{attachment_id}/content",
    response_class=Response,
    responses={
        200: {
            "description": "the document's bytes",
            "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in sorted(PREVIEWABLE)},
        }
    },
)
async def content(
    ctx: Ctx,
    request: Request,
    attachment_id: str,
    preview: Annotated[
        bool, Query(description="PDF and images inline for a preview; others stay a download")
    ] = False,
) -> Response:
    """The document (recorded in the audit trail as a download or a preview)."""
    return await materials_io.content(ctx.begin, request.app.state.store, attachment_id, preview)


@router.get("/tasks/{task_id}/signatures", response_model=out.StepSignatures)
async def signatures_of(ctx: Ctx, task_id: str) -> dict:
    """The signatures the step requires (签字) and which are there."""
    async with ctx.begin() as (conn, me):
        return await step_signatures.of_task(conn, me, task_id)


@router.post("/tasks/{task_id}/signatures", status_code=201, response_model=out.Attachment)
async def sign(ctx: Ctx, request: Request, task_id: str, body: out.DrawnSignature) -> dict:
    """A signature drawn on a screen (a PNG), filed under the step's ``signature.<key>`` with the
    signer's name and the time; a signed scan is uploaded as a document under the same key with
    ``task_id``. Only who may act on the open step."""
    async with ctx.begin() as (conn, me):
        case_id = (await step_signatures.of_task(conn, me, task_id))["application_id"]
    return await materials_io.drawn_signature(
        ctx.begin,
        request.app.state.store,
        ctx.settings,
        case_id,
        task_id,
        body.key,
        body.signer_name,
        body.image,
    )
