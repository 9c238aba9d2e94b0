"""Materials (材料): one row per document added to a case; the bytes are in the object store."""

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.db.models.base import timestamp


class Attachment(SQLModel, table=True):
    __tablename__ = "attachments"
    __table_args__ = (
        sa.Index("ix_attachments_application_id_uploaded_at", "application_id", "uploaded_at"),
        # Whether any row still names an object: the orphan sweep asks it for every object in the store.
        sa.Index("ix_attachments_storage_key", "storage_key"),
    )
    id: str = Field(primary_key=True, max_length=36)
    application_id: str = Field(foreign_key="applications.id", max_length=36)
    # The checklist item it answers (户口簿, 身份证…); free text until programs declare their lists.
    checklist_key: str = Field(max_length=64)
    # Sanitised, with the extension of what the content is.
    file_name: str = Field(max_length=120)
    # Decided from the content (magic bytes), never from the name or the client's header.
    content_type: str = Field(max_length=64)
    size: int  # of the stored bytes (images after re-encoding)
    sha256: str = Field(max_length=64)
    # The object store's key (content-addressed: equal to sha256 today, kept apart so it may change).
    storage_key: str = Field(max_length=200)
    storage_backend: str = Field(max_length=16)
    uploaded_by: str = Field(max_length=100)
    uploaded_by_kind: str = Field(max_length=16)  # "user" | "api_key"
    # The step it was added on, for a reviewer's upload on their task.
    task_id: str | None = Field(default=None, max_length=36)
    uploaded_at: datetime = timestamp()
    # Deleted by the program's retention (the row stays, naming the bytes that were; reads ignore it).
    deleted_at: datetime | None = timestamp(nullable=True)
    # A signature drawn on the task page (checklist_key signature.<key>): who signed, as they wrote
    # it, and when. A signed scan has none: its signer is on the paper.
    signer_name: str | None = Field(default=None, max_length=100)
    signed_at: datetime | None = timestamp(nullable=True)
