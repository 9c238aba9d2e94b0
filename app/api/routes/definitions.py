from typing import Annotated

from fastapi import Form, Request, Response, UploadFile

from app import diagrams
from app.api.deps import Ctx, VersionNo, VersionQuery, require_admin
from app.api.routing import api_router
from app.api.schemas import programs as out
from app.api.schemas.problems import AUTHENTICATED, problem_responses
from app.api.svg_responses import svg_response
from app.db.engine import transaction
from app.domain.cases import migrations
from app.domain.errors import TooLarge
from app.domain.programs import bundles, definitions, rollouts

router = api_router(prefix="/process-definitions", tags=["process definitions"], responses=AUTHENTICATED)


@router.post(
    "",
    status_code=201,
    response_model=out.Deployed,
    responses={
        200: {
            "model": out.Deployed,
            "description": "identical to the newest version, or a dry run; nothing deployed",
        },
        **problem_responses(413),
    },
)
async def upload(
    ctx: Ctx,
    request: Request,
    response: Response,
    file: UploadFile,
    dry_run: bool = False,
    version_tag: Annotated[str | None, Form(max_length=100)] = None,
    comment: Annotated[str | None, Form(max_length=2000)] = None,
) -> dict:
    """Deploy a .bpmn or .bpmn20.xml, or a .zip bundle of the BPMN with its forms/*.json and *.dmn
    (docs/bpmn.md, "Bundles"); a new version when the content changed. ``dry_run=true`` only validates."""
    limit = ctx.settings.max_upload_bytes
    if int(request.headers.get("content-length") or 0) > limit + 64 * 1024:
        raise TooLarge("upload_too_large", f"the upload exceeds {limit} bytes")
    xml = await file.read(limit + 1)
    if len(xml) > limit:
        raise TooLarge("upload_too_large", f"the upload exceeds {limit} bytes")
    async with ctx.begin() as (conn, me):
        require_admin(me)  # before the upload is unpacked: a stranger's zip is not even opened
        upload = bundles.read_upload(file.filename, xml)
        result, created = await definitions.deploy(
            conn, upload, me.name, ctx.settings.processes_dir / "forms", dry_run, version_tag, comment
        )
    response.status_code = 201 if created else 200
    return {**result, "created": created}


@router.get("", response_model=list[out.Definition])
async def list_latest(ctx: Ctx) -> list[dict]:
    async with ctx.begin() as (conn, _):
        return await definitions.list_latest(conn)


@router.get("/{key}", response_model=list[out.Definition])
async def list_versions(ctx: Ctx, key: str) -> list[dict]:
    async with ctx.begin() as (conn, _):
        return await definitions.list_versions(conn, key)


@router.get(
    "/{key}/versions/{version}/xml",
    response_class=Response,
    responses={200: {"content": {"application/xml": {"schema": {"type": "string"}}}, "description": "BPMN"}},
)
async def version_xml(ctx: Ctx, key: str, version: VersionNo) -> Response:
    async with ctx.begin() as (conn, _):
        return Response(await definitions.xml_of(conn, key, version), media_type="application/xml")


@router.get(
    "/{key}/versions/{version}/bundle",
    response_class=Response,
    responses={
        200: {
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
            "description": "zip",
        },
        **problem_responses(403, 404),
    },
)
async def version_bundle(ctx: Ctx, key: str, version: VersionNo) -> Response:
    """The version as a zip bundle (``<key>.bpmn``, forms/*.json, decisions/*.dmn), to change and
    upload again; administrators only."""
    async with ctx.begin() as (conn, me):
        require_admin(me)
        content = await definitions.bundle_zip(conn, key, version)
    return Response(
        content,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{key}-v{version}.zip"'},
    )


@router.get("/{key}/diff", response_model=out.Diff)
async def diff(ctx: Ctx, key: str, from_version: VersionQuery, to_version: VersionQuery) -> dict:
    """Steps added, removed or changed between two versions."""
    async with ctx.begin() as (conn, _):
        return await definitions.diff(conn, key, from_version, to_version)


@router.get("/{key}/rollout", response_model=out.Rollout)
async def get_rollout(ctx: Ctx, key: str) -> dict:
    async with ctx.begin() as (conn, _):
        return await rollouts.get(conn, key)


@router.put("/{key}/rollout", response_model=out.Rollout)
async def put_rollout(ctx: Ctx, key: str, body: rollouts.RolloutIn) -> dict:
    """Pilot a version in some places: new cases there start on it; running cases keep theirs."""
    async with ctx.begin() as (conn, me):
        require_admin(me)
        return await rollouts.put(conn, key, body, me.name)


@router.post("/{key}/migrations", response_model=out.Migration)
async def migrate(ctx: Ctx, key: str, body: migrations.MigrationIn) -> dict:
    """Move running cases to another version; ``dry_run`` (the default) only reports what would happen.

    Each case moves in its own transaction, so one case that cannot move stops nothing else.
    """
    migrations.check_mapping(body)
    async with ctx.begin() as (conn, me):
        require_admin(me)
        selected = await migrations.candidates(conn, key, body)
    results = []
    for application_id in selected:
        async with transaction(ctx.db) as conn:
            results.append(await migrations.migrate_one(conn, key, application_id, body, me.name))
    return {
        "key": key,
        "from_version": body.from_version,
        "to_version": body.to_version,
        "dry_run": body.dry_run,
        "total": len(results),
        "can_migrate": sum(r["can_migrate"] for r in results),
        "migrated": sum(bool(r.get("migrated")) for r in results),
        "cases": results,
    }


@router.get(
    "/{key}/versions/{version}/diagram.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {"schema": {"type": "string"}}}, "description": "SVG"}},
)
async def diagram(ctx: Ctx, key: str, version: VersionNo) -> Response:
    async with ctx.begin() as (conn, _):
        xml = await definitions.xml_of(conn, key, version)
    return svg_response(diagrams.render(xml))
