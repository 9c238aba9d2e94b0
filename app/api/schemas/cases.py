"""Cases (applications), their steps (tasks) and what acting on them returns."""

from datetime import date
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from app.api.schemas import Count, DivisionCode, Json, Number, Out, Timestamp, Username, Version


class ApplicationStatus(StrEnum):
    in_progress = "in_progress"
    approved = "approved"
    refused = "refused"
    withdrawn = "withdrawn"
    terminated = "terminated"


class TaskState(StrEnum):
    open = "open"
    completed = "completed"
    cancelled = "cancelled"


class DueBasis(StrEnum):
    """calendar: counted on the published working-day calendar; provisional: a year without one
    (weekends only, recomputed when it is loaded); natural: calendar days."""

    calendar = "calendar"
    provisional = "provisional"
    natural = "natural"


class CaseApplicant(Out):
    name: str = Field(max_length=100)
    id_number: str = Field(min_length=18, max_length=18)
    phone: str | None = None


class Task(Out):
    """A step of a case as the inbox shows it."""

    id: str
    application_id: str
    name: str = Field(description="the BPMN step id, e.g. initial_review")
    title: str
    role: str = Field(description="the lane: <level>_<department>")
    division_code: DivisionCode
    assignee: Username | None
    state: TaskState
    created_at: Timestamp
    due_at: Timestamp | None
    due_basis: DueBasis | None
    completed_at: Timestamp | None
    completed_by: Username | None
    form: str | None = Field(description="the form file of the step")
    program: str
    note: Json | None = Field(description="what reviewer actions left on it (退回, 委派 opinions, 加签…)")
    case_number: str | None
    delegated_to: Username | None
    overdue: bool
    working_days_left: int | None = Field(
        None, description="working days until due_at (negative when late); absent where not computed"
    )


class Application(Out):
    id: str
    number: str | None = Field(description="DB-340621-2026-000123")
    program: str
    definition_version: Version
    division_code: DivisionCode
    status: ApplicationStatus
    applicant: CaseApplicant | None = Field(description="none for a case about a place (a school's report)")
    external_ref: str | None
    data: Json
    family_id: str | None
    subject_id: str | None = Field(description="the case a re-check or termination is about")
    settings: Json = Field(description="the program's settings, frozen on the case")
    open_tasks: list[Task]
    case_due_at: Timestamp | None
    case_due_basis: DueBasis | None
    created_at: Timestamp
    updated_at: Timestamp
    ended_at: Timestamp | None
    personal_data: Literal["full", "masked"] = Field(
        "full",
        description="masked: the caller sees the case's place but does not work on it (another "
        "department): applicant name and ID number masked (王*, 340621********1234), phone, data and "
        "family_id withheld (docs/api.md, Who reads a case)",
    )


class Page(Out):
    limit: Annotated[int, Field(ge=1, le=200)]
    offset: Annotated[int, Field(ge=0)]
    has_more: bool


class ApplicationPage(Page):
    items: list[Application]


class TaskPage(Page):
    items: list[Task]


class Change(Out):
    """What a change of a case leaves: the case and the steps it opened."""

    application: Application
    next_tasks: list[Task]
    waiting_for_signers: bool | None = Field(
        None, description="true when the decision waits for signers added after the holder (加签)"
    )


class PersonDisplay(Out):
    """A login, an API key or the service as people read it (``*_display`` next to a login field)."""

    name: str = Field(
        description="the user's name; 对接平台 for an API key; 系统（自动办理） for the service"
    )
    role: str | None = Field(description="the grant the person is shown with, e.g. township_civil_affairs")
    role_label: str | None = Field(description="that role in Chinese: 乡镇（街道）民政")
    department: str | None = Field(description="its department in Chinese: 民政")
    division_code: DivisionCode | None
    place: str | None = Field(description="the grant's place: 濉溪镇")
    text: str = Field(description="one line for a page: 张伟（濉溪镇民政）, 对接平台（濉溪县）")


class Candidate(Out):
    """Someone who may receive a task for an action (转办, 委派, 加签, 抄送)."""

    username: Username
    name: str
    role: str
    role_label: str
    department: str
    division_code: DivisionCode
    place: str


class CaseEvent(Out):
    at: Timestamp
    actor: str
    actor_display: PersonDisplay | None
    internal: bool = Field(
        description="the service's own bookkeeping (timers, messages received, recomputed deadlines): "
        "left out of the reviewer's timeline"
    )
    type: str
    task: str | None
    task_id: str | None
    data: Json


class RecordStep(Out):
    """A line of the 审批记录."""

    task_id: str
    step: str
    title: str
    role: str
    division_code: DivisionCode
    state: TaskState
    handler: Username | None
    handler_name: str | None
    handler_display: PersonDisplay | None
    result: str | None
    opinion: str | None
    arrived_at: Timestamp
    completed_at: Timestamp | None
    working_days: int
    working_days_provisional: bool


class Benefit(Out):
    """A ledger entry."""

    id: int
    application_id: str
    program: str
    kind: Literal["monthly", "one_time"]
    amount: Number
    year: int = Field(ge=1900, le=2200)
    starts_on: date
    ends_on: date | None
    status: Literal["active", "scheduled", "ended", "cancelled"]
    category: str | None
    next_recheck_on: date | None
    cap_exempt: bool
    note: Json | None


class Objection(Out):
    """An objection to a notice entry of the case, as reviewers see it."""

    number: str
    status: Literal["received", "answered"]
    outcome: Literal["upheld", "dismissed"] | None
    reply: str | None
    received_at: Timestamp
    answered_at: Timestamp | None
    reason: str
    name: str | None
    contact: str | None
    entry_id: str
    notice_id: str
    answered_by: Username | None
    answered_by_display: PersonDisplay | None = None


class TaskDetail(Task):
    """One step with its data, its form's JSON Schema and the case."""

    data: Json | None
    form_schema: Json | None
    application: Application
    objections: list[Objection] | None = Field(
        None, description="a step that answers objections: the open ones"
    )
    assignee_display: PersonDisplay | None = None
    completed_by_display: PersonDisplay | None = None
    delegated_to_display: PersonDisplay | None = None


class ReturnTarget(Out):
    step: str
    title: str


class Signer(Out):
    username: Username
    username_display: PersonDisplay | None = None
    kind: Literal["before", "after", "all", "any", "sequence", "decider"]
    seq: int
    state: Literal["queued", "pending", "decided", "removed"]
    decision: Literal["approve", "refuse"] | None
    opinion: str | None
    decided_at: Timestamp | None


class Signers(Out):
    task_id: str
    signers: list[Signer]
    back_to: Username | None = Field(None, description="a signer refused: the holder decides again")


class Copies(Out):
    """抄送: who may now read the case."""

    task_id: str
    usernames: list[Username]
    usernames_display: list[PersonDisplay] = Field(default_factory=list, description="who they are")
    roles: list[str]


class Urged(Out):
    task_id: str
    urged: list[str] = Field(description="usernames, or role@division for an unclaimed step")
    at: Timestamp


class MessageResult(Out):
    """What a message did: a case reached (its status and new steps), a message kept for a case to
    come (``kept``), an objection relayed, or several cases reached (``deliveries``)."""

    application_id: str | None = None
    status: ApplicationStatus | None = None
    kept: bool | None = None
    kept_until: Timestamp | None = None
    next_tasks: list[Task] | None = None
    objection_number: str | None = None
    check_code: str | None = None
    deliveries: list["MessageResult"] | None = None


class TaskCounts(Out):
    """Open tasks in each inbox tab, and steps the caller decided."""

    candidate: Count
    mine: Count
    done: Count
    cc: Count
    started: Count


class OverdueAtPlace(Out):
    division_code: DivisionCode
    name: str
    overdue: Count


class Overdue(Out):
    total: Count
    by_division: list[OverdueAtPlace]
    items: list[Task]
