"""The process editor (/ui/admin/processes/{key}/edit): bpmn-js's Modeler with a version of a
process. Its 校验 and 上传 post to the upload form's endpoint (routes/admin.py ``upload``), which
answers this page's script in JSON (``wants_json``, ``problem_json``); see docs/bpmn.md. A version's
bundle (its BPMN, forms and decision tables as one zip) downloads from here too."""

import json
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from app.api.deps import VersionNo
from app.domain.errors import DomainError
from app.domain.people.roles import DEPARTMENTS, ROLE_LEVELS
from app.domain.programs import definitions
from app.web import labels, problem_texts
from app.web.context import WebContext, WebCtx, require_admin
from app.web.render import page

router = APIRouter(prefix="/admin")


def wants_json(ctx: WebContext) -> bool:
    """The editor page's script (校验, 上传) posts the same form and reads the answer as JSON."""
    return "application/json" in ctx.request.headers.get("accept", "")


def problem_json(exc: DomainError, body: dict[str, Any]) -> JSONResponse:
    """A refused upload for the editor: each problem with its Chinese headline and detail, as the
    upload form's list shows them. Plain JSON: under /ui/ a problem document becomes an error page
    (web/refusals.py)."""
    problems = [
        {
            **p,
            "headline": labels.BPMN_PROBLEMS.get(p.get("code", ""), "流程文件有误"),
            "detail": problem_texts.bpmn_detail(p.get("code", ""), p.get("message", "")),
        }
        for p in body["problems"]
    ]
    return JSONResponse(
        {"status": exc.status, "code": exc.code, "detail": body["error"], "errors": problems},
        status_code=exc.status,
    )


@router.get("/processes/{key}/edit")
async def modeler(ctx: WebCtx, key: str, version: int | None = None):
    """The modeler (bpmn-js) with a version of the process: the newest unless ``version`` says."""
    async with ctx.begin() as (conn, me):
        require_admin(me)
        found = await definitions.list_versions(conn, key)
        shown = next((v for v in found if v["version"] == version), found[0])
        xml = await definitions.xml_of(conn, key, shown["version"])
    return page(
        ctx.request,
        "admin_modeler.html",
        me=me,
        csrf=ctx.csrf,
        nav="admin",
        key=key,
        shown=shown,
        xml=xml,
        # The properties panel names the role typed (county_civil_affairs → 县级民政).
        role_names=json.dumps({"levels": ROLE_LEVELS, "departments": DEPARTMENTS}, ensure_ascii=False),
    )


@router.get("/processes/{key}/versions/{version}/bundle.zip")
async def bundle(ctx: WebCtx, key: str, version: VersionNo):
    async with ctx.begin() as (conn, me):
        require_admin(me)
        content = await definitions.bundle_zip(conn, key, version)
    return Response(
        content,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{key}-v{version}.zip"'},
    )
