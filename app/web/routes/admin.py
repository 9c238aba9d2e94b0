"""Admin pages (/ui/admin/…): BPMN upload with line errors, versions and rollout, the working-day
calendar of a year, users and grants. Each action is the same domain call as its REST route."""

import hashlib
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from app import diagrams
from app.api.deps import VersionNo
from app.api.svg_responses import svg_response
from app.domain.cases import rescheduling
from app.domain.errors import DomainError, Invalid
from app.domain.people import account_changes, accounts, directory, divisions
from app.domain.programs import bundles, definitions, rollouts, validation
from app.domain.timekeeping import calendar
from app.web import drafts, labels
from app.web.context import WebContext, WebCtx, require_admin
from app.web.render import flash, page
from app.web.routes import modeler

router = APIRouter(prefix="/admin")


def _lines(text: object) -> list[str]:
    return [line.strip() for line in str(text or "").splitlines() if line.strip()]


# What pydantic refused, in the form's words (its English ``msg`` stays out of the page).
_REFUSALS = {
    "missing": "必填",
    "string_too_short": "不能为空",
    "string_too_long": "过长",
    "int_parsing": "须为整数",
}


def _invalid(exc: ValidationError, names: dict[str, str]) -> str:
    said = []
    for e in exc.errors()[:5]:
        where = names.get(str(e["loc"][0]), str(e["loc"][0])) if e["loc"] else ""
        row = next((p for p in e["loc"][1:] if isinstance(p, int)), None)
        where += f"第{row + 1}行" if row is not None else ""
        refusal = _REFUSALS.get(e["type"], "日期格式不正确" if "date" in e["type"] else "格式不正确")
        said.append(f"{where}{refusal}")
    return "；".join(said)


@router.get("")
async def index(ctx: WebCtx):
    async with ctx.begin() as (conn, me):
        require_admin(me)
        latest = await definitions.list_latest(conn)
        draft = await drafts.recall(ctx, conn)  # the last upload's problems or result
    return page(
        ctx.request,
        "admin_processes.html",
        drafts.status(draft),
        me=me,
        csrf=ctx.csrf,
        nav="admin",
        latest=latest,
        problems=draft.get("problems", []),
        result=draft.get("result"),
        error=draft.get("error", ""),
    )


@router.post("/processes")
async def upload(ctx: WebCtx):
    form = await ctx.form()
    file = form.get("file")
    async with ctx.begin() as (conn, me):
        require_admin(me)
    try:
        if not isinstance(file, UploadFile) or not (
            validation.is_bpmn_name(file.filename) or bundles.is_zip_name(file.filename)
        ):
            raise Invalid("not_bpmn_file", "upload a .bpmn or .bpmn20.xml file, or a .zip bundle")
        limit = ctx.settings.max_upload_bytes
        xml = await file.read(limit + 1)
        if len(xml) > limit:
            raise Invalid("upload_too_large", f"the upload exceeds {limit} bytes")
        async with ctx.begin() as (conn, me):
            require_admin(me)
            result, created = await definitions.deploy(
                conn,
                bundles.read_upload(file.filename, xml),
                me.name,
                ctx.settings.processes_dir / "forms",
                form.get("dry_run") == "1",
                str(form.get("version_tag") or "").strip()[:100] or None,
                str(form.get("comment") or "").strip()[:2000] or None,
            )
            result["created"] = created
    except DomainError as exc:
        body = {"status": exc.status, "error": labels.problem(exc), "problems": exc.extra.get("errors", [])}
        if modeler.wants_json(ctx):
            return modeler.problem_json(exc, body)
        return await drafts.redirect(ctx, "/ui/admin", body)
    if modeler.wants_json(ctx):
        return JSONResponse({"result": result, "versions_url": f"/ui/admin/processes/{result['key']}"})
    return await drafts.redirect(ctx, "/ui/admin", {"result": result})


@router.get("/processes/{key}")
async def versions(ctx: WebCtx, key: str):
    async with ctx.begin() as (conn, me):
        require_admin(me)
        draft = await drafts.recall(ctx, conn)  # a refused rollout: what was typed and why
        error, raw = str(draft.get("error", "")), draft.get("raw")
        found = await definitions.list_versions(conn, key)
        rollout = await rollouts.get(conn, key)
        # The version new cases take where no pilot rule applies.
        shown = rollout["default_version"] or found[0]["version"]
        viewer = {"version": shown, "xml": diagrams.for_viewer(await definitions.xml_of(conn, key, shown))}
        # What each version changed against the one before it (steps added, removed, changed).
        changes = {
            v["version"]: await definitions.diff(conn, key, v["version"] - 1, v["version"])
            for v in found
            if v["version"] > 1
        }
        # The newest version's bundle: its forms and decision tables beside the BPMN.
        bpmn = (await definitions.xml_of(conn, key, found[0]["version"])).encode("utf-8")
        files = [
            {
                "name": f"{key}.bpmn",
                "origin": "bundle",
                "size": len(bpmn),
                "sha256": hashlib.sha256(bpmn).hexdigest(),
            },
            *await definitions.bundle_files(conn, key, found[0]["version"]),
        ]
    if isinstance(raw, dict):  # a refused form shows what was typed, not what is stored
        rollout = {
            "default_version": int(raw["default_version"]) if raw["default_version"].isdigit() else None,
            "rules_text": raw["rules"],
        }
    else:
        rollout["rules_text"] = "\n".join(f"{r['division_code']} {r['version']}" for r in rollout["rules"])
    return page(
        ctx.request,
        "admin_versions.html",
        422 if error else 200,
        me=me,
        csrf=ctx.csrf,
        nav="admin",
        key=key,
        versions=found,
        rollout=rollout,
        error=error,
        changes=changes,
        viewer=viewer,
        files=files,
    )


@router.post("/processes/{key}/rollout")
async def put_rollout(ctx: WebCtx, key: str):
    form = await ctx.form()
    raw = {"default_version": str(form.get("default_version") or ""), "rules": str(form.get("rules") or "")}
    try:
        rules = []
        for line in _lines(form.get("rules")):
            code, _, version = line.replace("：", " ").replace(":", " ").partition(" ")
            rules.append({"division_code": code.strip(), "version": version.strip()})
        body = rollouts.RolloutIn(default_version=form.get("default_version") or None, rules=rules)
        async with ctx.begin() as (conn, me):
            require_admin(me)
            await rollouts.put(conn, key, body, me.name)
    except ValidationError as exc:
        names = {"default_version": "默认版本", "rules": "试点规则"}
        error = "试点规则格式不正确（每行“行政区划代码 版本号”）：" + _invalid(exc, names)
        return await drafts.redirect(ctx, f"/ui/admin/processes/{key}", {"error": error, "raw": raw})
    except DomainError as exc:
        refused = {"error": labels.problem(exc), "raw": raw}
        return await drafts.redirect(ctx, f"/ui/admin/processes/{key}", refused)
    return RedirectResponse(
        f"/ui/admin/processes/{key}?" + urlencode({**flash(ctx.request, "版本规则已保存")}), status_code=303
    )


@router.get("/processes/{key}/versions/{version}/diagram.svg")
async def diagram(ctx: WebCtx, key: str, version: VersionNo):
    async with ctx.begin() as (conn, me):
        require_admin(me)
        xml = await definitions.xml_of(conn, key, version)
    return svg_response(diagrams.render(xml))


def _months(year: int, days: calendar.WorkingDays) -> list[dict]:
    months = []
    for month in range(1, 13):
        first = date(year, month, 1)
        weeks: list[list[dict[str, Any] | None]] = []
        week: list[dict[str, Any] | None] = [None] * first.weekday()
        day = first
        while day.month == month:
            week.append({"day": day.day, "working": days.is_working_day(day), "weekend": day.weekday() >= 5})
            if len(week) == 7:
                weeks.append(week)
                week = []
            day += timedelta(days=1)
        if week:
            weeks.append(week + [None] * (7 - len(week)))
        months.append({"month": month, "weeks": weeks})
    return months


@router.get("/calendar")
async def calendar_page(ctx: WebCtx, year: int | None = None):
    async with ctx.begin() as (conn, me):
        require_admin(me)
        draft = await drafts.recall(ctx, conn)  # a refused year: why
        year = year or calendar.today().year
        stored = await calendar.get_year(conn, calendar.parse_year(str(year)))
        days = await calendar.load(conn)
    return page(
        ctx.request,
        "admin_calendar.html",
        drafts.status(draft),
        me=me,
        csrf=ctx.csrf,
        nav="admin",
        year=year,
        stored=stored,
        months=_months(year, days),
        error=draft.get("error", ""),
        raw=draft.get("raw") or {},  # a refused year shows what was typed
    )


def _year(year: str) -> dict[str, str]:
    return {"year": year} if year.isdigit() else {}


@router.post("/calendar")
async def store_calendar(ctx: WebCtx):
    form = await ctx.form()
    year = str(form.get("year", ""))
    raw = {k: str(form.get(k, "")) for k in ("source", "holidays", "working_days")}
    try:
        body = calendar.YearIn(
            source=str(form.get("source", "")).strip(),
            holidays=_lines(form.get("holidays")),
            working_days=_lines(form.get("working_days")),
        )
        async with ctx.begin() as (conn, me):
            require_admin(me)
            stored = await calendar.store_year(conn, calendar.parse_year(year), body, me.name)
            moved = await rescheduling.recompute_year(conn, stored["year"], me.name)
    except ValidationError as exc:
        names = {"source": "依据", "holidays": "法定节假日", "working_days": "调休上班日"}
        error = "日期格式应为 2026-10-01，每行一个；来源必填：" + _invalid(exc, names)
        invalid = {"status": 422, "error": error, "raw": raw}
        return await drafts.redirect(ctx, "/ui/admin/calendar", invalid, _year(year))
    except DomainError as exc:
        refused = {"status": exc.status, "error": labels.problem(exc), "raw": raw}
        return await drafts.redirect(ctx, "/ui/admin/calendar", refused, _year(year))
    msg = f"{year}年日历已保存，重新计算了{moved['tasks']}项办理期限、{moved['timers']}个计时"
    return RedirectResponse(
        "/ui/admin/calendar?" + urlencode({"year": year, **flash(ctx.request, msg)}), status_code=303
    )


@router.get("/users")
async def users_page(ctx: WebCtx):
    async with ctx.begin() as (conn, me):
        require_admin(me)
        draft = await drafts.recall(ctx, conn)  # a refused form: why, and what was typed
        found = await accounts.list_users(conn)
        keys = await accounts.list_api_keys(conn)
        creators = directory.Directory()  # who made a key, by name and office (people, not logins)
        await creators.load(conn, (k["created_by"] for k in keys))
        for key in keys:
            key["created_by_text"] = creators.text(key["created_by"])
        places = {d["code"]: d["name"] for d in await divisions.list_all(conn)}
        roles = sorted(await definitions.role_keys(conn) | {"admin"})
    return page(
        ctx.request,
        "admin_users.html",
        drafts.status(draft),
        me=me,
        csrf=ctx.csrf,
        nav="admin",
        users=found,
        keys=keys,
        places=places,
        roles=roles,
        error=draft.get("error", ""),
        raw=draft.get("raw") or {},
    )


async def _refused(ctx: WebContext, status: int, error: str, raw: dict[str, str] | None = None):
    return await drafts.redirect(ctx, "/ui/admin/users", {"status": status, "error": error, "raw": raw or {}})


def _grants_of(text: str) -> list[dict]:
    """One grant per line: "role division_code" (an admin grant may have no place)."""
    grants = []
    for line in _lines(text):
        role, _, code = line.partition(" ")
        grants.append({"role": role.strip(), "division_code": code.strip() or None})
    return grants


def _user_change(form) -> account_changes.UserChangeIn:
    return account_changes.UserChangeIn(
        display_name=str(form.get("display_name", "")).strip(), grants=_grants_of(str(form.get("grants", "")))
    )


@router.post("/users")
async def create_user(ctx: WebCtx):
    form = await ctx.form()
    raw = {k: str(form.get(k, "")) for k in ("username", "display_name", "grants")}
    try:
        grants = _grants_of(raw["grants"])
        body = accounts.UserIn(
            username=raw["username"].strip(),
            display_name=raw["display_name"].strip(),
            password=str(form.get("password", "")),
            grants=grants,
        )
        async with ctx.begin() as (conn, me):
            require_admin(me)
            await accounts.create_user(conn, body, me.name)
    except ValidationError as exc:
        fields = {str(e["loc"][0]) for e in exc.errors()}
        messages = {
            "username": "用户名只能用字母、数字和 _.@-",
            "password": "请填写密码",
            "display_name": "请填写姓名",
            "grants": "授权格式：每行“角色 行政区划代码”",
        }
        return await _refused(ctx, 422, "；".join(messages.get(f, f) for f in sorted(fields)), raw)
    except DomainError as exc:
        return await _refused(ctx, exc.status, labels.problem(exc), raw)
    return RedirectResponse(
        "/ui/admin/users?" + urlencode(flash(ctx.request, f"已创建用户 {raw['username'].strip()}")),
        status_code=303,
    )


# The day someone leaves: the same domain calls as the REST routes, each audited.
_USER_ACTIONS = {"disable": "已停用", "enable": "已启用", "revoke-tokens": "已注销全部登录"}


@router.post("/users/{username}/{action}")
async def user_action(ctx: WebCtx, username: str, action: str):
    form = await ctx.form()
    try:
        async with ctx.begin() as (conn, me):
            require_admin(me)
            if action == "password":
                await account_changes.set_password(conn, username, str(form.get("password", "")), me.name)
                done = "已重设密码"
            elif action in ("disable", "enable"):
                await account_changes.set_active(conn, username, action == "enable", me.name)
                done = _USER_ACTIONS[action]
            elif action == "revoke-tokens":
                await account_changes.revoke_tokens(conn, username, me.name)
                done = _USER_ACTIONS[action]
            elif action == "edit":
                await account_changes.update_user(conn, username, _user_change(form), me.name)
                done = "已修改"
            else:
                raise Invalid("unknown_action", f"no user action {action!r}")
    except ValidationError:
        return await _refused(ctx, 422, f"{username}：姓名不能为空；授权格式：每行“角色 行政区划代码”")
    except DomainError as exc:
        return await _refused(ctx, exc.status, f"{username}：{labels.problem(exc)}")
    msg = f"{done}：{username}" + ("（其现有登录已全部失效）" if action in ("password", "disable") else "")
    return RedirectResponse("/ui/admin/users?" + urlencode({**flash(ctx.request, msg)}), status_code=303)


@router.post("/api-keys/{name}/revoke")
async def revoke_api_key(ctx: WebCtx, name: str):
    await ctx.form()
    try:
        async with ctx.begin() as (conn, me):
            require_admin(me)
            await account_changes.revoke_api_key(conn, name, me.name)
    except DomainError as exc:
        return await _refused(ctx, exc.status, f"{name}：{labels.problem(exc)}")
    return RedirectResponse(
        "/ui/admin/users?" + urlencode(flash(ctx.request, f"已吊销接口密钥：{name}")), status_code=303
    )
