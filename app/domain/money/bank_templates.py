"""Bank file templates: what each bank wants in the file we send it and what its result file holds.

Templates are configuration, one JSON file per bank in ``bank_templates/`` (the banks differ in
columns, Chinese headers, encoding and amount format); a bank that changes its layout is a new
or edited file, not new code. See docs/payments.md for the fields.
"""

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from app.domain.errors import Invalid

DIRECTORY = Path(__file__).parent / "bank_templates"
# What an export column may hold (money/bank_files.py fills them).
EXPORT_FIELDS = frozenset(
    {
        "sequence",
        "reference",
        "account_number",
        "holder_name",
        "bank_name",
        "amount",
        "person_id_number",
        "recipient_name",
        "period",
        "pay_date",
        "purpose",
    }
)
# What a result file must (reference, amount, status) or may hold, by our name → the bank's header.
RESULT_REQUIRED = ("reference", "amount", "status")
RESULT_FIELDS = frozenset({*RESULT_REQUIRED, "bank_reference", "reason_code", "reason_text", "date"})
FORMATS = ("csv", "xlsx")
AMOUNTS = ("yuan", "fen")  # 1234.50 or 123450


@dataclass(frozen=True)
class Column:
    field: str
    header: str


@dataclass(frozen=True)
class Template:
    key: str
    name: str
    format: str
    encoding: str
    amount: str
    columns: tuple[Column, ...]
    result_columns: dict[str, str]
    paid_values: frozenset[str]
    failed_values: frozenset[str]
    reasons: dict[str, str]

    @property
    def text_fields(self) -> frozenset[str]:
        """Columns a spreadsheet must keep as text (long digit strings turn into 6.2E+18 otherwise)."""
        return frozenset({"reference", "account_number", "person_id_number"})


def _parse(raw: dict[str, Any], source: str) -> Template:
    """A template file, checked when loaded: a wrong key fails the service's start, not an export."""
    columns = tuple(Column(c["field"], c["header"]) for c in raw["columns"])
    results = raw["results"]
    template = Template(
        key=raw["key"],
        name=raw["name"],
        format=raw["format"],
        encoding=raw.get("encoding", "utf-8"),
        amount=raw["amount"],
        columns=columns,
        result_columns=dict(results["columns"]),
        paid_values=frozenset(results["paid"]),
        failed_values=frozenset(results["failed"]),
        reasons=dict(raw.get("reasons", {})),
    )
    problems = [f"field {c.field}" for c in columns if c.field not in EXPORT_FIELDS]
    problems += [f"result field {f}" for f in template.result_columns if f not in RESULT_FIELDS]
    problems += [f"result field {f} missing" for f in RESULT_REQUIRED if f not in template.result_columns]
    if template.format not in FORMATS or template.amount not in AMOUNTS:
        problems.append(f"format {template.format} / amount {template.amount}")
    if "reference" not in {c.field for c in columns}:
        problems.append("no reference column: results could not be matched")
    "".encode(template.encoding)  # an unknown encoding fails here (LookupError)
    if problems:
        raise ValueError(f"bank template {source}: " + ", ".join(problems))
    return template


@cache
def all_templates() -> dict[str, Template]:
    found: dict[str, Template] = {}
    for path in sorted(DIRECTORY.glob("*.json")):
        template = _parse(json.loads(path.read_text(encoding="utf-8")), path.name)
        found[template.key] = template
    return found


def get(key: str) -> Template:
    template = all_templates().get(key)
    if template is None:
        raise Invalid(
            "unknown_bank_template",
            f"没有银行文件模板 {key}（可用：{'、'.join(sorted(all_templates()))}）",
            field="template",
        )
    return template


def choices() -> list[dict[str, str]]:
    return [{"key": t.key, "name": t.name, "format": t.format} for t in all_templates().values()]
