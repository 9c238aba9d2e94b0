"""资金发放 (/ui/payments): payment batches for the county offices that prepare them and the county
finance offices that approve them — the same domain calls as /api/v1/payments."""

from datetime import date
from urllib.parse import urlencode

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import UploadFile

from app.api import materials_io
from app.domain.errors import DomainError, Invalid
from app.domain.money import bank_files, bank_results, bank_templates, batch_review, batch_views, offices
from app.domain.money.vault import Vault
from app.domain.people import divisions
from app.domain.people.principal import Principal
from app.domain.programs import definitions
from app.web import drafts, labels
from app.web.context import WebCtx
from app.web.render import flash, page

router = APIRouter(prefix="/payments")
HERE = "/ui/payments"
STATUS = {
    "draft": "待提交",
    "submitted": "待财政审核",
    "approved": "审核通过",
    "exported": "已导出银行文件",
    "settled": "银行已回盘",
}
ITEM_STATUS = {"pending": "待发放", "paid": "已发放", "failed": "发放失败"}
LEFT_OUT = {
    "deceased": "已死亡",
    "ended": "待遇已终止",
    "cap_exceeded": "超过年度上限",
    "no_bank_account": "无银行账号",
    "account_unchanged": "银行退回，账号未更正",
}
# What a result file's row problem means (bank_results.check), for the page that lists them.
ROW_PROBLEMS = {
    "missing_column": "缺少列",
    "unknown_reference": "业务参考号不属于本批次",
    "wrong_batch": "业务参考号属于其他批次",
    "duplicate_reference": "业务参考号重复",
    "invalid_amount": "金额格式错误",
    "amount_differs": "金额与发放明细不一致",
    "invalid_date": "日期格式错误",
    "unknown_status": "处理结果无法识别",
    "bank_reference_missing": "成功的记录缺少银行流水号",
    "reason_missing": "失败的记录缺少失败原因",
    "result_differs": "与已导入的结果不一致",
}


async def _list_page(ctx: WebCtx):
    async with ctx.begin() as (conn, me):
        draft = await drafts.recall(ctx, conn)  # a refused build: why (POST/redirect/GET)
        batches = await batch_views.listing(conn, me.principal, None, None, None, 100)
        programs = {d["key"]: d["name"] for d in await definitions.list_latest(conn)}
        counties = sorted(
            {g.division_code for g in me.principal.grants if g.division_code and g.role.startswith("county_")}
        )
        places = await divisions.lookup(conn, counties + [b["county_code"] for b in batches])
    return page(
        ctx.request,
        "payments.html",
        status=drafts.status(draft),
        me=me,
        csrf=ctx.csrf,
        nav="payments",
        batches=batches,
        programs=programs,
        counties=counties,
        place_names={code: place["name"] for code, place in places.items()},
        statuses=STATUS,
        error=draft.get("error", ""),
    )


@router.get("")
async def show(ctx: WebCtx):
    return await _list_page(ctx)


@router.post("")
async def build(ctx: WebCtx):
    form = await ctx.form()
    try:
        try:
            pay_date = date.fromisoformat(str(form.get("pay_date", "")))
        except ValueError:
            raise Invalid("invalid_date", "请填写发放日期") from None
        async with ctx.begin() as (conn, me):
            batch = await batch_review.build(
                conn, me.principal, str(form.get("county_code", "")), str(form.get("program", "")), pay_date
            )
    except DomainError as exc:
        return await drafts.redirect(ctx, HERE, {"status": exc.status, "error": labels.problem(exc)})
    message = f"已生成发放批次：{batch['item_count']}笔，另有{batch['left_out_count']}笔未列入"
    return RedirectResponse(
        f"{HERE}/{batch['id']}?" + urlencode(flash(ctx.request, message)), status_code=303
    )


@router.get("/{batch_id}")
async def batch_page(ctx: WebCtx, batch_id: int):
    return await _batch_page(ctx, batch_id)


def _holds(me: Principal, role: str, path: str) -> bool:
    return any(g.role == role and g.division_path and path.startswith(g.division_path) for g in me.grants)


async def _batch_page(ctx: WebCtx, batch_id: int):
    async with ctx.begin() as (conn, me):
        draft = await drafts.recall(ctx, conn)  # a refused submit, approval or refusal: why
        row = await batch_review.readable(conn, me.principal, batch_id)
        batch = await batch_views.shown(conn, me.principal, row)
        program_offices = await offices.of_program(conn, row["program"])
        # Buttons only for who may press them (the domain checks again on every press).
        may_prepare = _holds(me.principal, program_offices.preparer, row["county_path"])
        may_review = _holds(me.principal, program_offices.approver, row["county_path"]) and (
            me.name not in (row["submitted_by"], row["built_by"])
        )
        places = await divisions.lookup(conn, [row["county_code"]])
        items = await batch_views.items(conn, batch_id, 0, 1000)
        left_out = await batch_views.left_out(conn, batch_id)
        programs = {d["key"]: d["name"] for d in await definitions.list_latest(conn)}
    return page(
        ctx.request,
        "payment_batch.html",
        status=drafts.status(draft),
        me=me,
        csrf=ctx.csrf,
        nav="payments",
        batch=batch,
        items=items,
        left_out=left_out,
        program_name=programs.get(batch["program"], batch["program"]),
        county_name=places.get(row["county_code"], {}).get("name", row["county_code"]),
        may_prepare=may_prepare and me.principal.kind == "user",
        may_review=may_review and me.principal.kind == "user",
        statuses=STATUS,
        item_statuses=ITEM_STATUS,
        reasons=LEFT_OUT,
        templates=bank_templates.choices(),
        error=draft.get("error", ""),
        problems=draft.get("problems", []),
    )


@router.get("/{batch_id}/export")
async def export(ctx: WebCtx, batch_id: int, template: str = ""):
    """The bank file as a download; a refusal comes back to the batch page with why."""
    settings = ctx.settings
    try:
        vault = Vault.from_settings(settings.payment_account_keys, settings.secret_key, settings.env)
        async with ctx.begin() as (conn, me):
            made, _ = await bank_files.export(
                conn, me.principal, vault, batch_id, bank_templates.get(template)
            )
    except DomainError as exc:
        if exc.status == 404:
            raise
        return await drafts.redirect(
            ctx, f"{HERE}/{batch_id}", {"status": exc.status, "error": labels.problem(exc)}
        )
    return Response(
        made.content,
        media_type=made.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{made.filename}"',
            "Cache-Control": "no-store",
        },
    )


def _row_problems(exc: DomainError) -> list[str]:
    rows = exc.extra.get("rows") or []
    return [
        f"第{r['row']}行{('（' + r['reference'] + '）') if r.get('reference') else ''}："
        + ROW_PROBLEMS.get(r["problem"], r["problem"])
        + (f"“{r['column']}”" if r.get("column") else "")
        for r in rows
    ]


@router.post("/{batch_id}/results")
async def results(ctx: WebCtx, batch_id: int):
    form = await ctx.form()
    file = form.get("file")
    try:
        if not isinstance(file, UploadFile) or not file.filename:
            raise Invalid("no_file", "请选择要上传的文件。")
        content = await materials_io.read_upload(file, ctx.settings)
        async with ctx.begin() as (conn, me):
            done = await bank_results.import_file(
                conn, me.principal, batch_id, bank_templates.get(str(form.get("template", ""))), content
            )
    except DomainError as exc:
        if exc.status == 404:
            raise
        body = {"status": exc.status, "error": labels.problem(exc), "problems": _row_problems(exc)}
        return await drafts.redirect(ctx, f"{HERE}/{batch_id}", body)
    message = (
        f"已导入回盘文件：成功{done['paid']}笔，失败{done['failed']}笔，"
        f"已导入过{done['unchanged']}笔，尚待回盘{done['pending']}笔"
    )
    return RedirectResponse(f"{HERE}/{batch_id}?" + urlencode(flash(ctx.request, message)), status_code=303)


_ACTIONS = {"submit": "已提交财政审核", "approve": "已审核通过", "refuse": "已退回"}


@router.post("/{batch_id}/{action}")
async def act(ctx: WebCtx, batch_id: int, action: str):
    form = await ctx.form()
    try:
        async with ctx.begin() as (conn, me):
            if action == "submit":
                await batch_review.submit(conn, me.principal, batch_id)
            elif action == "approve":
                await batch_review.approve(conn, me.principal, batch_id)
            elif action == "refuse":
                await batch_review.refuse(conn, me.principal, batch_id, str(form.get("reason", "")))
            else:
                raise Invalid("unknown_action", f"no batch action {action!r}")
    except DomainError as exc:
        if exc.status == 404:
            raise
        body = {"status": exc.status, "error": labels.problem(exc)}
        return await drafts.redirect(ctx, f"{HERE}/{batch_id}", body)
    return RedirectResponse(
        f"{HERE}/{batch_id}?" + urlencode(flash(ctx.request, _ACTIONS[action])), status_code=303
    )
