"""Payments: batches built from the ledger, prepared by the program's county office and approved by
the county finance office; recipients' bank accounts (docs/payments.md)."""

from typing import Annotated

from fastapi import Form, Query, UploadFile
from fastapi.responses import Response

from app.api.deps import Ctx, Limit
from app.api.materials_io import read_upload
from app.api.routing import api_router
from app.api.schemas import payments as out
from app.api.schemas.problems import AUTHENTICATED
from app.domain.money import (
    bank_accounts,
    bank_files,
    bank_results,
    bank_templates,
    batch_review,
    batch_views,
    reconciliation,
)
from app.domain.money.vault import Vault

router = api_router(tags=["payments"], responses=AUTHENTICATED)


def _vault(ctx: Ctx) -> Vault:
    settings = ctx.settings
    return Vault.from_settings(settings.payment_account_keys, settings.secret_key, settings.env)


@router.post("/payments/batches", response_model=out.Batch)
async def build_batch(ctx: Ctx, body: out.BuildIn) -> dict:
    """Build a county's batch of a program for a pay date, or build its draft again (idempotent: one
    item per benefit and period, ever). Only the program's county office."""
    async with ctx.begin() as (conn, me):
        batch = await batch_review.build(conn, me, body.county_code, body.program, body.pay_date)
        return await batch_views.shown(conn, me, batch)


@router.get("/payments/batches", response_model=list[out.Batch])
async def list_batches(
    ctx: Ctx,
    county_code: str | None = None,
    program: str | None = None,
    status: out.Status | None = None,
    limit: Limit = 50,
) -> list[dict]:
    """The batches of the programs and counties whose preparing or finance office the caller is."""
    async with ctx.begin() as (conn, me):
        return await batch_views.listing(conn, me, county_code, program, status, limit)


@router.get("/payments/batches/{batch_id}", response_model=out.Batch)
async def get_batch(ctx: Ctx, batch_id: int) -> dict:
    async with ctx.begin() as (conn, me):
        return await batch_views.shown(conn, me, await batch_review.readable(conn, me, batch_id))


@router.get("/payments/batches/{batch_id}/items", response_model=list[out.Item])
async def batch_items(
    ctx: Ctx, batch_id: int, after_id: Annotated[int, Query(ge=0)] = 0, limit: Limit = 100
) -> list[dict]:
    """The batch's payments in id order; page with ``after_id`` = the last id seen."""
    async with ctx.begin() as (conn, me):
        await batch_review.readable(conn, me, batch_id)
        return await batch_views.items(conn, batch_id, after_id, limit)


@router.get("/payments/batches/{batch_id}/left-out", response_model=list[out.LeftOut])
async def batch_left_out(ctx: Ctx, batch_id: int) -> list[dict]:
    """What the batch did not pay, and why."""
    async with ctx.begin() as (conn, me):
        await batch_review.readable(conn, me, batch_id)
        return await batch_views.left_out(conn, batch_id)


@router.post("/payments/batches/{batch_id}/submit", response_model=out.Batch)
async def submit_batch(ctx: Ctx, batch_id: int) -> dict:
    """The county office hands the batch to the county finance office."""
    async with ctx.begin() as (conn, me):
        return await batch_views.shown(conn, me, await batch_review.submit(conn, me, batch_id))


@router.post("/payments/batches/{batch_id}/approve", response_model=out.Batch)
async def approve_batch(ctx: Ctx, batch_id: int) -> dict:
    """The county finance office approves; never the person who submitted it."""
    async with ctx.begin() as (conn, me):
        return await batch_views.shown(conn, me, await batch_review.approve(conn, me, batch_id))


@router.post("/payments/batches/{batch_id}/refuse", response_model=out.Batch)
async def refuse_batch(ctx: Ctx, batch_id: int, body: out.RefuseIn) -> dict:
    """The county finance office sends the batch back to draft with its reason."""
    async with ctx.begin() as (conn, me):
        batch = await batch_review.refuse(conn, me, batch_id, body.reason)
        return await batch_views.shown(conn, me, batch)


@router.put("/payments/accounts", response_model=out.AccountChange, status_code=202)
async def put_account(ctx: Ctx, body: bank_accounts.AccountIn) -> dict:
    """Propose a recipient's new bank account (audited): the county office that pays them proposes, the
    holder's name must be the recipient's (422 `holder_name_mismatch`), and it pays nobody until the
    county finance office confirms it (``POST /payments/account-changes/{id}/confirm``). A proposal
    still waiting is superseded. Answers 202 with the masked proposal."""
    vault = _vault(ctx)
    async with ctx.begin() as (conn, me):
        return await bank_accounts.propose(conn, me, vault, body)


@router.get("/payments/accounts", response_model=out.Account | None)
async def get_account(
    ctx: Ctx, id_number: Annotated[str, Query(min_length=18, max_length=18)]
) -> dict | None:
    """A recipient's account in force (confirmed), masked (null: none yet)."""
    async with ctx.begin() as (conn, me):
        return await bank_accounts.current(conn, me, id_number)


@router.get("/payments/bank-templates", response_model=list[out.BankTemplate])
async def list_bank_templates(ctx: Ctx) -> list[dict]:
    """The banks' file templates (configuration in app/domain/money/bank_templates/)."""
    async with ctx.begin():
        return bank_templates.choices()


@router.get(
    "/payments/batches/{batch_id}/export",
    response_class=Response,
    responses={
        200: {
            "content": {
                media: {"schema": {"type": "string", "format": "binary"}}
                for media in bank_files.MEDIA_TYPES.values()
            },
            "description": "The bank file: the batch's payments still without a result, in the template's format",
        }
    },
)
async def export_batch(ctx: Ctx, batch_id: int, template: Annotated[str, Query(max_length=64)]) -> Response:
    """The approved batch as the bank's file (full account numbers: for the bank only). Only the
    preparing county office; the batch becomes `exported`; each export is audited."""
    vault = _vault(ctx)
    async with ctx.begin() as (conn, me):
        made, _ = await bank_files.export(conn, me, vault, batch_id, bank_templates.get(template))
    return Response(
        made.content,
        media_type=made.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{made.filename}"',
            "Cache-Control": "no-store",
        },
    )


@router.post("/payments/batches/{batch_id}/results", response_model=out.ResultsImported)
async def import_results(
    ctx: Ctx,
    batch_id: int,
    file: UploadFile,
    template: Annotated[str, Form(max_length=64)],
) -> dict:
    """The bank's result file: each row paid or failed, matched by the export's reference. Any row
    that does not fit refuses the whole file (422 with row numbers); the same file again changes
    nothing. Only the preparing county office."""
    content = await read_upload(file, ctx.settings)
    async with ctx.begin() as (conn, me):
        done = await bank_results.import_file(conn, me, batch_id, bank_templates.get(template), content)
        return {**done, "batch": await batch_views.shown(conn, me, done["batch"])}


@router.get("/payments/reconciliation", response_model=out.Reconciliation)
async def reconcile(
    ctx: Ctx,
    county: Annotated[str, Query(max_length=32)],
    month: Annotated[str, Query(max_length=7, description="the batches' pay month, YYYY-MM")],
    program: Annotated[str | None, Query(max_length=100)] = None,
) -> dict:
    """A county's month: scheduled, paid, failed and pending counts and sums, per batch and per
    township and program."""
    async with ctx.begin() as (conn, me):
        return await reconciliation.summary(conn, me, county, month, program)


@router.get("/payments/reconciliation/items", response_model=list[out.ReconciliationItem])
async def reconcile_items(
    ctx: Ctx,
    county: Annotated[str, Query(max_length=32)],
    month: Annotated[str, Query(max_length=7)],
    status: Annotated[str, Query(description="scheduled, paid, failed or pending")] = "scheduled",
    program: Annotated[str | None, Query(max_length=100)] = None,
    batch_id: int | None = None,
    division_code: Annotated[str | None, Query(max_length=32)] = None,
    after_id: Annotated[int, Query(ge=0)] = 0,
    limit: Limit = 100,
) -> list[dict]:
    """The payments behind one number of the reconciliation (masked); page with `after_id`."""
    async with ctx.begin() as (conn, me):
        return await reconciliation.items(
            conn, me, county, month, program, status, batch_id, division_code, after_id, limit
        )


@router.get("/payments/account-changes", response_model=list[out.AccountChange])
async def account_changes(ctx: Ctx, status: out.AccountStatus = "proposed", limit: Limit = 50) -> list[dict]:
    """Account changes of the people the caller's office pays or checks, newest first; by default
    those waiting for the county finance office."""
    async with ctx.begin() as (conn, me):
        return await bank_accounts.changes(conn, me, status, limit)


@router.get("/payments/account-changes/{account_id}", response_model=out.AccountChange)
async def account_change(ctx: Ctx, account_id: int) -> dict:
    async with ctx.begin() as (conn, me):
        return await bank_accounts.get_change(conn, me, account_id)


@router.post("/payments/account-changes/{account_id}/confirm", response_model=out.AccountChange)
async def confirm_account_change(ctx: Ctx, account_id: int) -> dict:
    """The county finance office puts the proposed account in force — never its proposer."""
    async with ctx.begin() as (conn, me):
        return await bank_accounts.confirm(conn, me, account_id)


@router.post("/payments/account-changes/{account_id}/refuse", response_model=out.AccountChange)
async def refuse_account_change(ctx: Ctx, account_id: int, body: out.AccountRefuseIn) -> dict:
    """The county finance office refuses the proposal with a reason; the account in force stays."""
    async with ctx.begin() as (conn, me):
        return await bank_accounts.refuse(conn, me, account_id, body.reason)
