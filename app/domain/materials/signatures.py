"""Signatures (签字) a step requires: the receiver and two staff on an emergency cash payment
(临时救助), the kindergarten head on a 学前 decision. A step declares them (``signatures`` in its
BPMN, app/domain/programs/config), each required always or ``when`` an expression over the case's
data and the step's form holds.

A signature is an attachment of the case under ``signature.<key>``, added on the step's own task:
either a signed scan (an upload, like any material) or a signature drawn on the task page (a PNG
through the same checks and store, with the signer's name and the time on its row). The step cannot
complete while a required one is missing (409 ``signature_missing``).
"""

import base64
import binascii
import io
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.models import attachments
from app.domain.errors import Conflict, Invalid
from app.domain.materials import checklists
from app.domain.programs.config import DefinitionConfig
from app.domain.programs.config.values import ChecklistItem

PREFIX = checklists.SIGNATURE_PREFIX
RECORDED = "attachment.signature_recorded"
MAX_SIGNER_CHARS = 50
_DATA_URL = re.compile(r"^data:image/png;base64,")


def signer(name: str) -> str:
    """The signer's name as written: 1-50 characters, no control or format characters."""
    name = unicodedata.normalize("NFC", "".join(ch for ch in name if unicodedata.category(ch)[0] != "C"))
    name = " ".join(name.split())
    if not name or len(name) > MAX_SIGNER_CHARS:
        raise Invalid("signer_name_required", f"请填写签字人姓名（不超过 {MAX_SIGNER_CHARS} 个字）")
    return name


def drawn_png(image: str) -> bytes:
    """The PNG of a signature drawn on a canvas (``canvas.toDataURL()``, or its base64 alone)."""
    try:
        data = base64.b64decode(_DATA_URL.sub("", image.strip()), validate=True)
    except (binascii.Error, ValueError):
        data = b""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise Invalid("signature_unreadable", "没有收到手写签名，请在签名框内签字后再保存")
    return data


def check_drawn(png: bytes) -> None:
    """Something was drawn: a blank (all transparent or all one colour) canvas is no signature."""
    with Image.open(io.BytesIO(png), formats=["PNG"]) as image:
        pixels = image.convert("RGBA")
    alpha_box = pixels.getchannel("A").getbbox()
    extrema = pixels.convert("L").getextrema()
    if alpha_box is None or (pixels.getchannel("A").getextrema()[0] == 255 and extrema[0] == extrema[1]):
        raise Invalid("signature_empty", "签名框是空的，请签字后再保存")


def check_key(key: str) -> None:
    if not key.startswith(PREFIX):
        raise Invalid("not_a_signature", "手写签名只能用于本环节要求的签名", key=key)


def of_step(config: DefinitionConfig, step: str) -> tuple[ChecklistItem, ...]:
    found = config.steps.get(step)
    return found.signatures if found is not None else ()


def check_step(config: DefinitionConfig, key: str, task: Mapping[str, Any] | None) -> None:
    """A signature is filed on the open task of the step that requires it, never loose on the case."""
    signed = checklists.signature_items(config)
    if key in signed and (task is None or task["name"] != signed[key][1]):
        raise Invalid(
            "signature_needs_its_step",
            "签名须在要求签名的环节上添加（请在该环节的办理页面上传签字件或手写签名）",
            step=signed[key][1],
        )


async def signed_keys(conn: AsyncConnection, task_id: str) -> dict[str, int]:
    """``signature.<key>`` → how many signatures the task has under it."""
    rows = await conn.execute(
        sa.select(attachments.c.checklist_key, sa.func.count())
        .where(
            attachments.c.task_id == task_id,
            attachments.c.checklist_key.startswith(PREFIX),
            attachments.c.deleted_at.is_(None),
        )
        .group_by(attachments.c.checklist_key)
    )
    return {str(key): int(n) for key, n in rows.all()}


async def status(
    conn: AsyncConnection, config: DefinitionConfig, task: Mapping[str, Any], data: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The step's signatures: required now (by ``data``: the case's and the step's form so far)
    and whether each is there."""
    have = await signed_keys(conn, str(task["id"]))
    return [
        {
            "key": PREFIX + item.key,
            "label": item.label,
            "required": checklists.required_now(item, data),
            "signed": have.get(PREFIX + item.key, 0) > 0,
        }
        for item in of_step(config, str(task["name"]))
    ]


async def require(
    conn: AsyncConnection,
    config: DefinitionConfig,
    task: Mapping[str, Any],
    case_data: Mapping[str, Any],
    form_data: Mapping[str, Any],
) -> None:
    """409 ``signature_missing`` while a signature the step requires (for this form) is not there."""
    if not of_step(config, str(task["name"])):
        return
    found = await status(conn, config, task, {**case_data, **form_data})
    missing = [s for s in found if s["required"] and not s["signed"]]
    if missing:
        labels = "、".join(s["label"] for s in missing)
        raise Conflict(
            "signature_missing",
            f"本环节须签字后才能办结，还缺少：{labels}",
            missing=[s["key"] for s in missing],
            labels=labels,
        )
