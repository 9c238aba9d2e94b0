"""Moving materials' bytes between a request, the checks and the store — shared by the REST API and
the web UI, so both refuse, store, record and send a document the same way.

An upload takes three steps: the right to add is checked in a short transaction; the file is checked
and re-encoded outside any transaction (in a thread: Pillow and pypdf are CPU work) and put into the
store; a second transaction checks the right again and writes the row and its audit event. A refused
file never reaches the store or the database. A failure after the put leaves an object no row names
(content-addressed, so a retry reuses it).
"""

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager
from typing import Any
from urllib.parse import quote

from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.datastructures import UploadFile

from app.config import Settings
from app.domain.errors import Damaged, NotFound, TooLarge
from app.domain.materials import attachments, checklists, files, names, signatures
from app.domain.people.principal import Principal
from app.storage import ObjectStore, StoredObjectCorrupt, StoredObjectMissing

# Decoding a large image costs seconds and hundreds of MB for a small upload (a black 6300×6300 PNG
# is 115 KB): a process checks two files at a time in threads of its own, so a burst of uploads
# waits here instead of taking the default pool's few threads from store reads and case changes.
_CHECKS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="materials-check")

Begin = Callable[[], AbstractAsyncContextManager[tuple[AsyncConnection, Principal]]]

# A document is never a page: no script, no form, no frame of it runs. Chromium's PDF viewer is a
# plugin that a sandboxed document may not load, so a PDF shown inline gets object-src instead.
_CSP_DOWNLOAD = "default-src 'none'; sandbox; frame-ancestors 'none'"
_CSP_IMAGE = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox; frame-ancestors 'self'"
_CSP_PDF = "default-src 'none'; object-src 'self'; plugin-types application/pdf; frame-ancestors 'self'"


async def read_upload(file: UploadFile, settings: Settings) -> bytes:
    """At most the per-file limit plus one byte, so an oversized file is known without reading it all."""
    data = await file.read(settings.max_attachment_bytes + 1)
    if len(data) > settings.max_attachment_bytes:
        limit = settings.max_attachment_bytes
        raise TooLarge(
            "file_too_large", f"文件超过 {limit // (1024 * 1024)} MB，请压缩后再上传", max_bytes=limit
        )
    return data


async def upload(
    begin: Begin,
    store: ObjectStore,
    settings: Settings,
    case_ref: str,
    key: str,
    data: bytes,
    file_name: str | None,
    task_id: str | None = None,
    signer_name: str | None = None,
) -> dict[str, Any]:
    attachments.check_key(key)
    async with begin() as (conn, me):
        await attachments.case_for_upload(conn, me, case_ref, key, task_id)
        item = await attachments.item_for_upload(conn, case_ref, me, key)
    clean = await asyncio.get_running_loop().run_in_executor(
        _CHECKS,
        functools.partial(
            files.clean,
            data,
            file_name,
            max_bytes=settings.max_attachment_bytes,
            max_pixels=settings.max_image_pixels,
        ),
    )
    checklists.check_kind(item, clean.content_type)
    if signer_name is not None:
        await asyncio.to_thread(signatures.check_drawn, clean.content)
    storage_key = await store.put(clean.content)
    async with begin() as (conn, me):
        return await attachments.add(
            conn, me, case_ref, key, clean, storage_key, store.name, task_id, signer_name
        )


async def drawn_signature(
    begin: Begin,
    store: ObjectStore,
    settings: Settings,
    case_ref: str,
    task_id: str,
    key: str,
    signer_name: str,
    image: str,
) -> dict[str, Any]:
    """A signature drawn on the task page: a PNG through the same checks, store and audit as any
    document, filed under the step's ``signature.<key>`` with the signer's name and the time."""
    signatures.check_key(key)
    name = signatures.signer(signer_name)
    png = signatures.drawn_png(image)
    return await upload(begin, store, settings, case_ref, key, png, "签名.png", task_id, name)


async def content(begin: Begin, store: ObjectStore, attachment_id: str, preview: bool) -> Response:
    """The document's bytes with headers that never let a browser run or sniff them."""
    async with begin() as (conn, me):
        row, inline = await attachments.open_for_reading(conn, me, attachment_id, preview=preview)
        try:
            data = await store.get(row["storage_key"])
        except StoredObjectMissing:
            raise NotFound("attachment_content_missing", "材料文件在存储中不存在，请联系管理员") from None
        except StoredObjectCorrupt:
            raise Damaged(
                "attachment_content_corrupt", "材料文件已损坏（与登记的校验值不符），请联系管理员"
            ) from None
    return document_response(row, data, inline)


def document_response(row: dict[str, Any], data: bytes, inline: bool) -> Response:
    name = row["file_name"]
    disposition = "inline" if inline else "attachment"
    if inline:
        csp = _CSP_PDF if row["content_type"] == files.PDF else _CSP_IMAGE
    else:
        csp = _CSP_DOWNLOAD
    return Response(
        content=data,
        media_type=row["content_type"],
        headers={
            "Content-Disposition": (
                f"{disposition}; filename=\"{names.ascii_fallback(name)}\"; filename*=UTF-8''{quote(name)}"
            ),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": csp,
            "Cache-Control": "private, no-store",
            "Referrer-Policy": "no-referrer",
            "X-Attachment-Sha256": row["sha256"],
        },
    )
