"""What a public notice may show, and how names are masked (Personal Information Protection Law)."""

import math
from collections.abc import Callable
from typing import Any

from app.domain.programs.config.process import ProcessConfig

# Fields a program may publish, and fields it never may, whatever its BPMN says.
PUBLIC_FIELDS = ("name", "household_size", "proposed_decision", "amount", "village")
NEVER_PUBLIC = (
    "id_number",
    "phone",
    "bank_account",
    "address",
    "illness",
    "disability",
    "income",
    "hardship_reason",
)
COMPOUND_SURNAMES = frozenset(
    [
        "欧阳",
        "太史",
        "端木",
        "上官",
        "司马",
        "东方",
        "独孤",
        "南宫",
        "万俟",
        "闻人",
        "夏侯",
        "诸葛",
        "尉迟",
        "公羊",
        "赫连",
        "澹台",
        "皇甫",
        "宗政",
        "濮阳",
        "公冶",
        "太叔",
        "申屠",
        "公孙",
        "慕容",
        "仲孙",
        "钟离",
        "长孙",
        "宇文",
        "司徒",
        "鲜于",
        "司空",
        "闾丘",
        "子车",
        "亓官",
        "司寇",
        "巫马",
        "公西",
        "颛孙",
        "壤驷",
        "公良",
        "漆雕",
        "乐正",
        "宰父",
        "谷梁",
        "拓跋",
        "夹谷",
        "轩辕",
        "令狐",
        "段干",
        "百里",
        "呼延",
        "东郭",
        "南门",
        "羊舌",
        "微生",
        "公户",
        "公玉",
        "公仪",
        "梁丘",
        "公仲",
        "公上",
        "公门",
        "公山",
        "公坚",
        "左丘",
        "公伯",
        "西门",
        "公祖",
        "第五",
        "公乘",
        "贯丘",
        "公皙",
        "南荣",
        "东里",
        "东宫",
        "仲长",
        "子书",
        "子桑",
        "即墨",
        "达奚",
        "褚师",
    ]
)


def _count(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _money(value: object) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0 <= value <= 10_000_000
    )


def _text(value: object, longest: int) -> bool:
    return isinstance(value, str) and 0 < len(value.strip()) <= longest


# What each public field must be to be shown: a value of another kind (an ID number typed into
# household_size, "abc" as an amount) is withheld, never published and never breaks a page.
PUBLIC_TYPES: dict[str, Callable[[Any], bool]] = {
    "entry_number": lambda v: _count(v, 1, 10_000_000),
    "name": lambda v: _text(v, 100),
    "household_size": lambda v: _count(v, 1, 50),
    "proposed_decision": lambda v: v in ("approve", "refuse"),
    "amount": _money,
    "village": lambda v: _text(v, 200),
}


def published(values: dict[str, Any]) -> dict[str, Any]:
    """The public fields of an entry that have their declared type; the names of those present but
    not fit to show are listed in ``data_withheld`` (so a reader knows something is missing)."""
    shown = {k: v for k, v in values.items() if k in PUBLIC_TYPES and v is not None and PUBLIC_TYPES[k](v)}
    unfit = {k for k, v in values.items() if k in PUBLIC_TYPES and v is not None and k not in shown}
    earlier = values.get("data_withheld")  # an entry read back: what was withheld when it was made
    withheld = sorted(
        unfit | {k for k in earlier if isinstance(k, str) and k in PUBLIC_TYPES}
        if isinstance(earlier, list)
        else unfit
    )
    return {**shown, "data_withheld": withheld} if withheld else shown


def mask_name(name: str) -> str:
    """Surname kept, every other character a ``*``: 张三 → 张*, 张三丰 → 张**, 欧阳娜娜 → 欧阳**."""
    name = name.strip()
    surname = name[:2] if len(name) > 2 and name[:2] in COMPOUND_SURNAMES else name[:1]
    return surname + "*" * (len(name) - len(surname))


def check_declaration(process: ProcessConfig) -> list[str]:
    """Problems with a process's notice declaration (``config.ProcessConfig``, checked when it is deployed)."""
    fields = process.notice_fields or ()
    problems = [f"{f!r} may never be published" for f in fields if f in NEVER_PUBLIC]
    problems += [
        f"{f!r} is not a public field (allowed: {', '.join(PUBLIC_FIELDS)})"
        for f in fields
        if f not in NEVER_PUBLIC and f not in PUBLIC_FIELDS
    ]
    return problems
