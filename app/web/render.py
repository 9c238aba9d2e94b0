"""Jinja2 for the web UI: one environment, Chinese date and money filters, HTML responses."""

import hashlib
import hmac
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from app.domain.notices.publication import mask_name
from app.domain.timekeeping import calendar
from app.web import capabilities, labels, material_items, problem_texts

TEMPLATES = Path(__file__).resolve().parent / "templates"


def date_cn(value) -> str:
    """2026年10月8日 (Asia/Shanghai for instants)."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        value = value.astimezone(calendar.SHANGHAI).date()
    return f"{value.year}年{value.month}月{value.day}日"


def datetime_cn(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    local = value.astimezone(calendar.SHANGHAI)
    return f"{date_cn(local.date())} {local:%H:%M}"


def yuan(value) -> str:
    """1234.5 → 1,234.50元."""
    if value is None or value == "":
        return ""
    try:  # a value stored before application forms were validated may be anything: show it, never fail
        amount = Decimal(str(value)).quantize(Decimal("0.01"))
    except ArithmeticError:
        return str(value)
    return f"{amount:,}元"


def mask_id(value: str | None) -> str:
    """ID numbers keep their first 6 (the place) and last 4 characters: 340621********1234."""
    if not value:
        return ""
    return value[:6] + "*" * max(0, len(value) - 10) + value[-4:] if len(value) > 10 else "*" * len(value)


def deadline_text(task: dict) -> str:
    left = task.get("working_days_left")
    if task.get("state") != "open" or task.get("due_at") is None or left is None:
        return ""
    # Counted into a year whose official calendar is not loaded: weekends only, recomputed once it is.
    caveat = "（暂按周末计）" if task.get("due_basis") == "provisional" else ""
    if task.get("overdue"):
        return (f"已超期{-left}个工作日" if left < 0 else "已超期") + caveat
    return ("今日到期" if left == 0 else f"剩余{left}个工作日") + caveat


_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters.update(
    date_cn=date_cn,
    datetime_cn=datetime_cn,
    yuan=yuan,
    mask_id=mask_id,
    mask_name=mask_name,
    role=labels.role,
    deadline=deadline_text,
    material=material_items.label,
    filesize=material_items.size,
)
_env.globals.update(
    labels=labels,
    capabilities=capabilities,
    material_items=material_items.ITEMS,
    problem_texts=problem_texts,
)


def _flash_signature(request: Request, message: str) -> str:
    key = request.app.state.settings.signing_key.encode()
    return hmac.new(key, b"flash:" + message.encode(), hashlib.sha256).hexdigest()[:32]


def flash(request: Request, message: str) -> dict[str, str]:
    """Query parameters that show ``message`` as the banner of the page redirected to. Signed: a link
    someone else made cannot put its own text ("系统升级，请把密码…") on our pages."""
    return {"msg": message, "msg_sig": _flash_signature(request, message)}


def _shown_flash(request: Request) -> str | None:
    message, signature = request.query_params.get("msg"), request.query_params.get("msg_sig", "")
    if message and hmac.compare_digest(signature, _flash_signature(request, message)):
        return message
    return None


def page(request: Request, template: str, status: int = 200, **context) -> HTMLResponse:
    context.setdefault("me", None)
    context.setdefault("csrf", "")
    context.setdefault("nav", None)
    context.setdefault("error", "")
    context.setdefault("flash", _shown_flash(request))
    html = _env.get_template(template).render(request=request, **context)
    # Pages show personal data: never cached by shared proxies; no framing (clickjacking).
    return HTMLResponse(
        html,
        status_code=status,
        headers={
            "Cache-Control": "no-store",
            "X-Frame-Options": "DENY",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
            "Content-Security-Policy": CSP,
        },
    )


# Scripts only from our own static files; forms post only to us; no framing.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
