from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncConnection

from app.api.deps import Ctx, Limit, Offset
from app.api.routing import api_router
from app.api.schemas import cases as out
from app.api.schemas.problems import AUTHENTICATED, problem_responses
from app.domain.people import directory
from app.domain.tasks import actions as task_actions
from app.domain.tasks import candidates as task_candidates
from app.domain.tasks import people as task_people
from app.domain.tasks import signers, signing
from app.domain.tasks import worklist as tasks

PERSON_FIELDS = ("assignee", "completed_by", "delegated_to")
CandidateAction = Literal["transfer", "delegate", "add_signer", "copy"]
router = api_router(prefix="/tasks", tags=["tasks"], responses=AUTHENTICATED)


class AssignIn(BaseModel):
    username: str = Field(min_length=1, max_length=100)


class CompleteIn(BaseModel):
    data: dict = Field(default_factory=dict)


async def _signers_as_people(conn: AsyncConnection, result: dict) -> dict:
    """Signers with ``username_display`` (a decided step's answer has no signers: unchanged)."""
    if "signers" in result:
        await directory.add_displays_to_all(conn, result["signers"], ("username",))
    return result


@router.get("", response_model=out.TaskPage)
async def inbox(
    ctx: Ctx,
    scope: str = "candidate",
    program: str | None = None,
    division_code: str | None = None,
    overdue: bool | None = None,
    due_before: datetime | None = None,
    state: str | None = None,
    sort: str = "due_at",
    limit: Limit = 50,
    offset: Offset = 0,
    q: str | None = None,
) -> dict:
    """An inbox tab (``scope``), filtered; ``q`` finds cases by number (DB-340621-2026-000123), ID
    number or part of the applicant's name."""
    async with ctx.read() as (conn, me):
        return await tasks.inbox(
            conn,
            me,
            scope=scope,
            program=program,
            division_code=division_code,
            overdue=overdue,
            state=state,
            limit=limit,
            offset=offset,
            due_before=due_before,
            sort=sort,
            q=q,
        )


@router.get("/counts", response_model=out.TaskCounts)
async def counts(ctx: Ctx) -> dict:
    """Open tasks in each inbox tab (待认领, 我的待办, 抄送我的, 我发起的) and steps I decided (已办)."""
    async with ctx.begin() as (conn, me):
        return await tasks.counts(conn, me)


@router.get("/{task_id}", response_model=out.TaskDetail)
async def get(ctx: Ctx, task_id: str) -> dict:
    async with ctx.begin() as (conn, me):
        return await directory.add_displays(conn, await tasks.get(conn, me, task_id), PERSON_FIELDS)


@router.get("/{task_id}/candidates", response_model=list[out.Candidate])
async def candidates(ctx: Ctx, task_id: str, action: CandidateAction) -> list[dict]:
    """Who the holder may choose for 转办 (transfer), 委派 (delegate), 加签 (add_signer) or 抄送 (copy):
    active users whose grants fit the task's department and place, without the caller and whoever
    the four-eyes and staff-relative rules exclude; nearest place first."""
    async with ctx.begin() as (conn, me):
        return await task_candidates.of_task(conn, me, task_id, action)


@router.post("/{task_id}/claim", response_model=out.Task)
async def claim(ctx: Ctx, task_id: str) -> dict:
    async with ctx.begin() as (conn, me):
        return await tasks.claim(conn, me, task_id)


@router.post("/{task_id}/unclaim", response_model=out.Task)
async def unclaim(ctx: Ctx, task_id: str) -> dict:
    async with ctx.begin() as (conn, me):
        return await tasks.unclaim(conn, me, task_id)


@router.post("/{task_id}/assign", response_model=out.Task)
async def assign(ctx: Ctx, task_id: str, body: AssignIn) -> dict:
    async with ctx.begin() as (conn, me):
        return await tasks.assign(conn, me, task_id, body.username)


@router.post("/{task_id}/complete", response_model=out.Change)
async def complete(ctx: Ctx, task_id: str, body: CompleteIn) -> dict:
    async with ctx.begin() as (conn, me):
        return await tasks.complete(conn, me, task_id, body.data)


@router.get("/{task_id}/return-targets", response_model=list[out.ReturnTarget])
async def return_targets(ctx: Ctx, task_id: str) -> list[dict]:
    """Earlier steps of this step's own path the case may be returned to (退回)."""
    async with ctx.begin() as (conn, me):
        return await task_actions.return_targets(conn, me, task_id)


@router.post("/{task_id}/return", response_model=out.Change)
async def return_(ctx: Ctx, task_id: str, body: task_actions.ReturnIn) -> dict:
    """退回: send the case back to an earlier step, with the reason."""
    async with ctx.begin() as (conn, me):
        return await task_actions.return_to(conn, me, task_id, body)


@router.post("/{task_id}/withdraw", response_model=out.Change)
async def withdraw(ctx: Ctx, task_id: str) -> dict:
    """撤回: reopen the step you completed, while nothing after it has been touched."""
    async with ctx.begin() as (conn, me):
        return await task_actions.withdraw(conn, me, task_id)


@router.post("/{task_id}/transfer", response_model=out.Task)
async def transfer(ctx: Ctx, task_id: str, body: task_people.TransferIn) -> dict:
    """转办: hand the task to someone else who may act on it."""
    async with ctx.begin() as (conn, me):
        return await task_people.transfer(conn, me, task_id, body)


@router.post("/{task_id}/delegate", response_model=out.Task)
async def delegate(ctx: Ctx, task_id: str, body: task_people.DelegateIn) -> dict:
    """委派: ask someone for an opinion; the task comes back to you to decide."""
    async with ctx.begin() as (conn, me):
        return await task_people.delegate(conn, me, task_id, body)


@router.post("/{task_id}/resolve", response_model=out.Task)
async def resolve(ctx: Ctx, task_id: str, body: task_people.OpinionIn) -> dict:
    """Give the opinion a task was delegated to you for."""
    async with ctx.begin() as (conn, me):
        return await task_people.resolve(conn, me, task_id, body)


@router.post("/{task_id}/signers", response_model=out.Signers)
async def add_signers(ctx: Ctx, task_id: str, body: signers.SignersIn) -> dict:
    """加签: people who decide before you, or after you."""
    async with ctx.begin() as (conn, me):
        return await _signers_as_people(conn, await signing.add_signers(conn, me, task_id, body))


@router.delete("/{task_id}/signers/{username}", response_model=out.Signers)
async def remove_signer(ctx: Ctx, task_id: str, username: str) -> dict:
    """减签: remove a signer you added, before they have signed."""
    async with ctx.begin() as (conn, me):
        return await _signers_as_people(conn, await signing.remove_signer(conn, me, task_id, username))


@router.post("/{task_id}/sign", response_model=out.Change | out.Signers)
async def sign(ctx: Ctx, task_id: str, body: signers.SignIn) -> dict:
    """A signer's or decider's vote (加签, 会签, 或签, 依次)."""
    async with ctx.begin() as (conn, me):
        return await _signers_as_people(conn, await signing.sign(conn, me, task_id, body))


@router.post("/{task_id}/cc", response_model=out.Copies)
async def cc(ctx: Ctx, task_id: str, body: task_people.CopyIn) -> dict:
    """抄送: let people or roles read the case; they cannot act on it."""
    async with ctx.begin() as (conn, me):
        copied = await task_people.copy(conn, me, task_id, body)
        people = directory.Directory()
        await people.load(conn, copied["usernames"])
        copied["usernames_display"] = [people.view(username) for username in copied["usernames"]]
        return copied


@router.post("/{task_id}/urge", response_model=out.Urged, responses=problem_responses(429))
async def urge(ctx: Ctx, task_id: str, body: task_people.UrgeIn) -> dict:
    """催办: remind the task's holders (a supervising office or the submitting portal; once a working day)."""
    async with ctx.begin() as (conn, me):
        return await task_people.urge(conn, me, task_id, body)
