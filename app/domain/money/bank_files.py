"""The file a bank is given: an approved batch's payments still without a result, in the bank's
template (``bank_templates.py``: columns, Chinese headers, CSV encoding or XLSX, amount format).

Only the preparing county office exports; the batch becomes ``exported`` and every export, the
first and each again, is in the audit trail (template, rows, the file's SHA-256) and sends
``payment.batch_exported``. A re-export holds only the items still pending, so a file sent again
after part of the results came back cannot pay anyone twice.
"""

import csv
import hashlib
import io
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from openpyxl import Workbook
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock
from app.db.models import bank_accounts, payment_batches, payment_items
from app.domain.errors import Conflict, Invalid
from app.domain.money import batch_review, offices, payment_events
from app.domain.money.bank_templates import Template
from app.domain.money.vault import Vault
from app.domain.people.principal import Principal
from app.domain.programs import definitions

EXPORTABLE = ("approved", "exported")
# The item's reference in the bank file, which its result file carries back: batch and item id.
_REFERENCE = re.compile(r"^AF([0-9]{1,12})-([0-9]{1,12})$")
MEDIA_TYPES = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def reference(batch_id: int, item_id: int) -> str:
    return f"AF{batch_id}-{item_id}"


def parse_reference(text: str) -> tuple[int, int] | None:
    found = _REFERENCE.match(text.strip())
    return (int(found.group(1)), int(found.group(2))) if found else None


def format_amount(template: Template, amount: Decimal) -> str:
    return str(int(amount * 100)) if template.amount == "fen" else f"{amount:.2f}"


@dataclass(frozen=True)
class BankFile:
    filename: str
    media_type: str
    content: bytes
    rows: int


def _period_words(period: str) -> str:
    return "一次性" if period == "once" else f"{period[:4]}年{int(period[5:])}月"


async def _rows(
    conn: AsyncConnection, vault: Vault, batch: sa.RowMapping, template: Template
) -> list[dict[str, Any]]:
    program_name = (await definitions.latest(conn, batch["program"])).name
    items = (
        await conn.execute(
            sa.select(
                payment_items,
                bank_accounts.c.holder_name,
                bank_accounts.c.bank_name,
                bank_accounts.c.number_encrypted,
            )
            .join(bank_accounts, bank_accounts.c.id == payment_items.c.account_id)
            .where(payment_items.c.batch_id == batch["id"], payment_items.c.status == "pending")
            .order_by(payment_items.c.id)
        )
    ).mappings()
    rows = []
    for sequence, item in enumerate(items, start=1):
        rows.append(
            {
                "sequence": str(sequence),
                "reference": reference(batch["id"], item["id"]),
                "account_number": vault.decrypt(item["number_encrypted"]),
                "holder_name": item["holder_name"],
                "bank_name": item["bank_name"],
                "amount": format_amount(template, Decimal(item["amount"])),
                "person_id_number": item["person_id_number"],
                "recipient_name": item["recipient_name"],
                "period": item["period"],
                "pay_date": batch["pay_date"].isoformat(),
                "purpose": f"{program_name}{_period_words(item['period'])}",
                "_item_id": item["id"],
            }
        )
    return rows


def _csv(template: Template, rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.header for c in template.columns])
    for row in rows:
        writer.writerow([row[c.field] for c in template.columns])
    text = out.getvalue()
    try:
        return text.encode(template.encoding)
    except UnicodeEncodeError:
        # A rare character (生僻字) the bank's encoding lacks: say which items, write nothing.
        bad = [r["_item_id"] for r in rows if not _encodes(r, template)]
        raise Invalid(
            "bank_file_unencodable",
            f"有 {len(bad)} 笔发放的姓名或开户行含 {template.encoding} 编码无法表示的字，请改用其他模板或联系银行",
            item_ids=bad[:100],
        ) from None


def _encodes(row: dict[str, Any], template: Template) -> bool:
    try:
        "".join(str(row[c.field]) for c in template.columns).encode(template.encoding)
        return True
    except UnicodeEncodeError:
        return False


def _xlsx(template: Template, rows: list[dict[str, Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "代发明细"
    sheet.append([c.header for c in template.columns])
    for row in rows:
        values: list[Any] = []
        for column in template.columns:
            value = row[column.field]
            # Amounts and sequence numbers as numbers; every digit string a bank matches on as text.
            if column.field == "amount":
                values.append(int(value) if template.amount == "fen" else Decimal(value))
            elif column.field == "sequence":
                values.append(int(value))
            else:
                values.append(value)
        sheet.append(values)
    for index, column in enumerate(template.columns, start=1):
        if column.field in template.text_fields:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                cell.number_format = "@"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def export(
    conn: AsyncConnection, me: Principal, vault: Vault, batch_id: int, template: Template
) -> tuple[BankFile, sa.RowMapping]:
    batch = await batch_review.readable(conn, me, batch_id)
    program_offices = await offices.of_program(conn, batch["program"])
    place = offices.County(batch["county_code"], batch["county_path"])
    offices.require(me, program_offices.preparer, place, "导出银行文件")
    if batch["status"] not in EXPORTABLE:
        words = "已全部回盘" if batch["status"] == "settled" else "尚未审核通过"
        raise Conflict("batch_not_exportable", f"发放批次 {batch_id} {words}，不能导出银行文件")
    rows = await _rows(conn, vault, batch, template)
    content = _csv(template, rows) if template.format == "csv" else _xlsx(template, rows)
    done = (
        (
            await conn.execute(
                sa.update(payment_batches)
                .where(payment_batches.c.id == batch_id, payment_batches.c.status.in_(EXPORTABLE))
                .values(status="exported", exported_by=me.name, exported_at=clock.now())
                .returning(*payment_batches.c)
            )
        )
        .mappings()
        .first()
    )
    if done is None:
        raise Conflict("batch_not_exportable", f"发放批次 {batch_id} 已被他人处理，请刷新")
    await batch_review.record(
        conn,
        me.name,
        "exported",
        done,
        template=template.key,
        rows=len(rows),
        sha256=hashlib.sha256(content).hexdigest(),
    )
    await payment_events.batch_event(conn, "exported", done)
    stamp = done["pay_date"].strftime("%Y%m%d")
    filename = f"payment-batch-{batch_id}-{stamp}-{template.key}.{template.format}"
    return BankFile(filename, MEDIA_TYPES[template.format], content, len(rows)), done
