"""The bank's result file (回盘文件): each row a payment paid or refused, matched to its item by the
reference the export wrote (``AF<batch>-<item>``).

Strict: a file with any row that does not fit — a reference unknown or of another batch, a row
twice, an amount not the item's, a status the template does not name, a paid row without the
bank's reference, a refused one without a reason, a result contradicting one already recorded —
is refused whole with the row numbers (422 ``result_file_invalid``) and changes nothing. Reading
the same file again changes nothing either (each row equals what is recorded). Results may come in
several files; the batch is ``settled`` when every item has one.

Paid: the item gets the bank's reference and date; a one-time ledger row becomes ``ended`` (paid).
Refused: the bank's reason code and Chinese text; the benefit is due again as the next attempt once
the person's account is changed (``bank_retries.py``).
"""

import csv
import hashlib
import io
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock
from app.db.models import benefits, payment_batches, payment_items
from app.domain.errors import Conflict, Invalid
from app.domain.money import bank_files, batch_review, offices, payment_events
from app.domain.money.bank_templates import RESULT_REQUIRED, Template
from app.domain.people.principal import Principal
from app.domain.reports import amounts as report_amounts

IMPORTABLE = ("exported", "settled")
MAX_LISTED = 200  # problems listed in one answer; the count says how many there were
_UNREADABLE = "无法读取回盘文件，请确认文件格式与所选模板一致"


@dataclass(frozen=True)
class Row:
    number: int  # the row's number in the file (the header is row 1), as a spreadsheet shows it
    values: dict[str, str]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _table(template: Template, content: bytes) -> list[list[str]]:
    if template.format == "csv":
        try:
            text = content.decode(template.encoding)
        except UnicodeDecodeError:
            raise Invalid(
                "result_file_unreadable", _UNREADABLE + f"（应为 {template.encoding} 编码）"
            ) from None
        return [[cell.strip() for cell in line] for line in csv.reader(io.StringIO(text.lstrip("\ufeff")))]
    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise Invalid("result_file_unreadable", _UNREADABLE) from None
    sheet = book.worksheets[0]
    table = [[_cell(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    book.close()
    return table


def read(template: Template, content: bytes) -> list[Row]:
    """The file's rows by our field names; a missing column or no row at all refuses the file."""
    table = _table(template, content)
    if not table:
        raise Invalid("result_file_invalid", "回盘文件是空的", rows=[])
    headers = {name: index for index, name in enumerate(table[0]) if name}
    wanted = template.result_columns
    missing = [wanted[f] for f in RESULT_REQUIRED if wanted[f] not in headers]
    if missing:
        raise Invalid(
            "result_file_invalid",
            f"回盘文件缺少列：{'、'.join(missing)}",
            rows=[{"row": 1, "problem": "missing_column", "column": name} for name in missing],
        )
    rows = []
    for number, line in enumerate(table[1:], start=2):
        if not any(cell for cell in line):
            continue
        values = {
            field: (
                line[headers[header]]
                if headers.get(header) is not None and headers[header] < len(line)
                else ""
            )
            for field, header in wanted.items()
        }
        rows.append(Row(number, values))
    if not rows:
        raise Invalid("result_file_invalid", "回盘文件没有数据行", rows=[])
    return rows


def _amount(template: Template, text: str) -> Decimal | None:
    try:
        if template.amount == "fen":
            return Decimal(int(text)) / 100 if text.isdigit() else None
        amount = Decimal(text.replace(",", ""))
    except (InvalidOperation, ValueError):
        return None
    return amount if amount.is_finite() and amount == amount.quantize(Decimal("0.01")) else None


def _bank_date(text: str) -> date | str | None:
    """The bank's date, None when the file has none, "bad" when it is not one."""
    if not text:
        return None
    for pattern in ("%Y-%m-%d", "%Y%m%d", "%Y/%m/%d"):
        try:
            return datetime.strptime(text[:10], pattern).date()
        except ValueError:
            continue
    return "bad"


@dataclass(frozen=True)
class Result:
    item_id: int
    status: str  # paid | failed
    bank_reference: str | None
    failure_code: str | None
    failure_reason: str | None
    bank_date: date | None


def _same(item: sa.RowMapping, result: Result) -> bool:
    return (
        item["status"] == result.status
        and (item["bank_reference"] or None) == result.bank_reference
        and (item["failure_code"] or None) == result.failure_code
    )


def check(
    template: Template, batch_id: int, rows: list[Row], items: dict[int, sa.RowMapping]
) -> tuple[list[Result], list[dict[str, Any]]]:
    """Every row against the batch's items: the results, and the problems (row, reference, problem)."""
    results: list[Result] = []
    problems: list[dict[str, Any]] = []
    seen: set[int] = set()
    for row in rows:
        v = row.values
        ref = v["reference"]

        def problem(code: str, ref: str = ref, number: int = row.number) -> None:
            problems.append({"row": number, "reference": ref, "problem": code})

        parsed = bank_files.parse_reference(ref)
        if parsed is None:
            problem("unknown_reference")
            continue
        if parsed[0] != batch_id:
            problem("wrong_batch")
            continue
        item = items.get(parsed[1])
        if item is None:
            problem("unknown_reference")
            continue
        if parsed[1] in seen:
            problem("duplicate_reference")
            continue
        seen.add(parsed[1])
        amount = _amount(template, v["amount"])
        if amount is None:
            problem("invalid_amount")
        elif amount != Decimal(item["amount"]):
            problem("amount_differs")
        day = _bank_date(v.get("date", ""))
        if day == "bad":
            problem("invalid_date")
        status = v["status"]
        if status in template.paid_values:
            if not v.get("bank_reference"):
                problem("bank_reference_missing")
            result = Result(item["id"], "paid", v.get("bank_reference") or None, None, None, None)
        elif status in template.failed_values:
            code = v.get("reason_code") or None
            text = v.get("reason_text") or (template.reasons.get(code) if code else None)
            if not code and not text:
                problem("reason_missing")
            result = Result(
                item["id"],
                "failed",
                v.get("bank_reference") or None,
                code[:32] if code else None,
                text[:200] if text else None,
                None,
            )
        else:
            problem("unknown_status")
            continue
        result = Result(
            result.item_id,
            result.status,
            result.bank_reference and result.bank_reference[:100],
            result.failure_code,
            result.failure_reason,
            day if isinstance(day, date) else None,
        )
        if item["status"] != "pending" and not _same(item, result):
            problem("result_differs")
        results.append(result)
    return results, problems


async def _locked_batch(conn: AsyncConnection, batch_id: int) -> sa.RowMapping:
    """Two imports of one batch take turns (PostgreSQL; SQLite has one writer)."""
    query = sa.select(payment_batches).where(payment_batches.c.id == batch_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return (await conn.execute(query)).mappings().one()


async def import_file(
    conn: AsyncConnection, me: Principal, batch_id: int, template: Template, content: bytes
) -> dict[str, Any]:
    batch = await batch_review.readable(conn, me, batch_id)
    program_offices = await offices.of_program(conn, batch["program"])
    place = offices.County(batch["county_code"], batch["county_path"])
    offices.require(me, program_offices.preparer, place, "导入银行回盘文件")
    batch = await _locked_batch(conn, batch_id)
    if batch["status"] not in IMPORTABLE:
        raise Conflict("batch_not_exported", f"发放批次 {batch_id} 尚未导出银行文件，不能导入回盘")
    rows = read(template, content)
    items = {
        r["id"]: r
        for r in (
            await conn.execute(sa.select(payment_items).where(payment_items.c.batch_id == batch_id))
        ).mappings()
    }
    results, problems = check(template, batch_id, rows, items)
    if problems:
        raise Invalid(
            "result_file_invalid",
            f"回盘文件有 {len(problems)} 处问题，未导入任何一行",
            count=len(problems),
            rows=problems[:MAX_LISTED],
        )
    new = [r for r in results if items[r.item_id]["status"] == "pending"]
    now = clock.now()
    if new:
        await conn.execute(
            sa.update(payment_items)
            .where(payment_items.c.id == sa.bindparam("item_id"), payment_items.c.status == "pending")
            .values(
                status=sa.bindparam("new_status"),
                bank_reference=sa.bindparam("new_bank_reference"),
                failure_code=sa.bindparam("new_failure_code"),
                failure_reason=sa.bindparam("new_failure_reason"),
                bank_date=sa.bindparam("new_bank_date"),
                settled_at=now,
            ),
            [
                {
                    "item_id": r.item_id,
                    "new_status": r.status,
                    "new_bank_reference": r.bank_reference,
                    "new_failure_code": r.failure_code,
                    "new_failure_reason": r.failure_reason,
                    "new_bank_date": r.bank_date,
                }
                for r in new
            ],
        )
    # The reports' amounts paid (and scheduled, less what the bank refused) move in this transaction.
    await report_amounts.results_recorded(conn, [r.item_id for r in new])
    paid_once = [
        items[r.item_id]["benefit_id"]
        for r in new
        if r.status == "paid" and items[r.item_id]["period"] == "once"
    ]
    if paid_once:  # the ledger's one-time row: paid
        await conn.execute(
            sa.update(benefits)
            .where(benefits.c.id.in_(paid_once), benefits.c.status == "scheduled")
            .values(status="ended", ended_at=now)
        )
    pending = (
        await conn.execute(
            sa.select(sa.func.count()).where(
                payment_items.c.batch_id == batch_id, payment_items.c.status == "pending"
            )
        )
    ).scalar_one()
    paid = sum(1 for r in new if r.status == "paid")
    failed = [r for r in new if r.status == "failed"]
    if new:
        await batch_review.record(
            conn,
            me.name,
            "results_imported",
            batch,
            template=template.key,
            rows=len(rows),
            paid=paid,
            failed=len(failed),
            sha256=hashlib.sha256(content).hexdigest(),
        )
        for r in failed:
            await payment_events.item_failed(conn, batch, items[r.item_id], r.failure_code)
    if pending == 0 and batch["status"] != "settled":
        batch = (
            (
                await conn.execute(
                    sa.update(payment_batches)
                    .where(payment_batches.c.id == batch_id)
                    .values(status="settled", settled_at=now)
                    .returning(*payment_batches.c)
                )
            )
            .mappings()
            .one()
        )
        await batch_review.record(conn, me.name, "settled", batch)
        await payment_events.batch_event(conn, "settled", batch)
    return {
        "batch": batch,
        "rows": len(rows),
        "paid": paid,
        "failed": len(failed),
        "unchanged": len(results) - len(new),
        "pending": int(pending),
    }
