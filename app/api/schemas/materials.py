"""Materials (材料): a document of a case as the API lists it (never its content)."""

from typing import Annotated

from pydantic import BaseModel, Field

from app.api.schemas import Count, Out, Timestamp, Username


class Attachment(Out):
    id: str
    application_id: str
    key: str = Field(description="the checklist item it was added for")
    file_name: str = Field(description="sanitised, with the extension of what the content is")
    content_type: Annotated[
        str, Field(description="decided from the content: application/pdf, image/jpeg, image/png, image/webp")
    ]
    size: Count = Field(description="bytes stored (an image after re-encoding)")
    sha256: str
    uploaded_by: Username
    uploaded_at: Timestamp
    task_id: str | None = Field(description="the step it was added on, for a reviewer's upload")
    previewable: bool = Field(description="whether ?preview=true shows it inline (PDF, images)")
    signer_name: str | None = Field(None, description="a signature drawn on a screen: who signed")
    signed_at: Timestamp | None = Field(None, description="a signature drawn on a screen: when")


class ChecklistEntry(Out):
    key: str
    label: str
    required: bool = Field(description="required for this case now (an item's `when` is read over its data)")
    count: Count = Field(description="documents of this item on the case")
    min_count: Count = Field(description="documents the item needs when required")
    max_count: Count | None = Field(description="the most it takes (null: no limit)")
    types: list[str] = Field(description="the kinds it accepts: pdf, image (empty: any accepted file)")
    missing: bool = Field(description="required and fewer than min_count there")


class Choice(Out):
    key: str
    label: str


class Checklist(Out):
    items: list[ChecklistEntry] = Field(
        description="the program's materials and those of the steps the case has reached"
    )
    missing: list[str] = Field(description="labels of the required items not there: the 一次性告知 list")
    choices: list[Choice] = Field(description="the keys an upload may name (empty: any key)")
    signatures: list[Choice] = Field(
        description="the signatures the program's steps require (signature.<key>), filed on their step"
    )


class StepSignature(Out):
    key: str = Field(description="signature.<key>: what a signed scan or a drawn signature is filed under")
    label: str
    required: bool = Field(description="required by the case's data and the step's data so far")
    conditional: bool = Field(description="required only when the step's form says so (e.g. cash)")
    signed: bool


class StepSignatures(Out):
    task_id: str
    application_id: str
    items: list[StepSignature]


class DrawnSignature(BaseModel):
    key: str = Field(max_length=64, description="signature.<key> of the step, e.g. signature.receiver")
    signer_name: str = Field(max_length=200, description="who signed, as they write their name")
    image: str = Field(
        max_length=700_000, description="the PNG drawn (a data: URL from canvas.toDataURL(), or base64)"
    )
