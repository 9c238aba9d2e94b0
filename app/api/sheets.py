"""The printable board sheet of a notice (A4, Simplified Chinese), rendered with Jinja2."""

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from app.domain.timekeeping import calendar

_env = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent.parent / "templates"),
    autoescape=select_autoescape(["html"]),
)
COLUMNS = {
    "entry_number": "序号",
    "name": "姓名",
    "household_size": "家庭人口",
    "proposed_decision": "拟审核意见",
    "amount": "拟保障金额（元/月）",
    "village": "村（社区）",
}
DECISIONS = {"approve": "拟批准", "refuse": "拟不予批准"}


def _date(value) -> str:
    day = value.astimezone(calendar.SHANGHAI)
    return f"{day.year}年{day.month}月{day.day}日"


def render(notice: dict, program_name: str) -> str:
    entries = [
        {**e, "proposed_decision": DECISIONS.get(e.get("proposed_decision"), e.get("proposed_decision"))}
        for e in notice["entries"]
    ]
    keys = [k for k in COLUMNS if any(k in e or k in e.get("data_withheld", ()) for e in entries)] or [
        "entry_number"
    ]
    return _env.get_template("notice_sheet.html").render(
        notice=notice,
        entries=entries,
        program_name=program_name,
        columns=[{"key": k, "label": COLUMNS[k]} for k in keys],
        period=f"{_date(notice['starts_at'])}至{_date(notice['ends_at'])}",
        issued_on=_date(notice["starts_at"]),
    )
