"""The background worker: timers, deadline reminders, overdue marks, stale claims, periodic re-checks,
the end of gradual exits, payment batches as pay dates come near, and webhooks, on the service clock."""

import asyncio
import time
import uuid
from dataclasses import asdict, dataclass

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.engine import is_unavailable, transaction
from app.delivery import run_deliveries
from app.domain.cases import enrolment_ends, followups, timers
from app.domain.errors import DomainError
from app.domain.money import batch_schedule
from app.domain.money.batch_schedule import PaySchedule
from app.domain.reports import rollups
from app.domain.tasks import reminders
from app.domain.timekeeping import service_clock
from app.domain.webhooks.deliveries import Policy

log = structlog.get_logger(__name__)


@dataclass
class Round:
    fired: int = 0
    reminders: int = 0
    overdue: int = 0
    claims_released: int = 0
    followups_started: int = 0
    rechecks_started: int = 0
    monthly_cases_started: int = 0
    enrolments_ended: int = 0
    payment_batches_built: int = 0
    webhook_attempts: int = 0
    report_deltas_folded: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


async def run_due_timers(db: AsyncEngine, limit: int | None = None) -> int:
    """Fire every timer due now (each in its own transaction); returns how many fired or were tried.

    A timer whose firing fails in any way — its case cannot be loaded, its next step has nobody to
    do it, an unexpected error — counts as a failed attempt (back-off, then set aside) in a
    transaction of its own, and the round goes on: one broken case never stops the others, nor the
    reminders and webhooks after the timers. Only a concurrent change of the case is transient."""
    tried: set[int] = set()
    while limit is None or len(tried) < limit:
        before = set(tried)
        try:
            async with transaction(db) as conn:
                if await timers.fire_next(conn, tried) is None:
                    break
        except DomainError as exc:
            if exc.code == "concurrent_change":  # a reviewer changed the case at that moment: next round
                log.warning("timer_deferred", code=exc.code, detail=exc.detail)
            else:
                await _count_failure(db, tried - before, exc)
        except Exception as exc:
            if is_unavailable(exc):  # the database itself: the whole round waits for it
                raise
            await _count_failure(db, tried - before, exc)
        if len(tried) == len(before):
            break
    return len(tried)


async def _count_failure(db: AsyncEngine, failed: set[int], exc: Exception) -> None:
    error_id = uuid.uuid4().hex[:16]
    log.error("timer_step_failed", timer_ids=sorted(failed), error_id=error_id, exc_info=exc)
    for timer_id in failed:
        async with transaction(db) as conn:
            await timers.record_failure(conn, timer_id, timers.reason_of(exc, error_id))


async def _drain(db: AsyncEngine, step, *args) -> int:
    """Repeat one kind of work until none is left. A failure ends this kind for the round (logged
    with an error id) but not the round: the webhooks after it still go out."""
    total = 0
    try:
        while True:
            async with transaction(db) as conn:
                done = await step(conn, *args)
            total += done
            if done == 0:
                return total
    except Exception as exc:
        if is_unavailable(exc):
            raise
        log.error("worker_step_failed", step=step.__name__, error_id=uuid.uuid4().hex[:16], exc_info=exc)
        return total


async def run_due_work(
    db: AsyncEngine,
    stale_claim_working_days: int,
    limit: int | None = None,
    webhooks: Policy | None = None,
    payments: PaySchedule = batch_schedule.DEFAULT_SCHEDULE,
) -> Round:
    """Everything due now; webhooks last, so the events of this round go out in it (None: no sending)."""
    result = Round(fired=await run_due_timers(db, limit))
    result.reminders = await _drain(db, reminders.send_reminders)
    result.overdue = await _drain(db, reminders.mark_overdue)
    result.claims_released = await _drain(db, reminders.release_stale_claims, stale_claim_working_days)
    followup_round = followups.FollowUpRound()
    await _drain(db, followups.start_requested, followup_round)
    result.followups_started = followup_round.started
    result.rechecks_started = await _drain(db, followups.start_due_rechecks)
    result.monthly_cases_started = await _drain(db, followups.start_monthly_cases)
    result.enrolments_ended = await _drain(db, enrolment_ends.end_expired)
    result.payment_batches_built = await _drain(db, batch_schedule.build_due, payments)
    result.report_deltas_folded = await _drain(db, rollups.fold)
    if webhooks is not None:
        result.webhook_attempts = await run_deliveries(db, webhooks, limit)
    return result


async def run_forever(
    db: AsyncEngine,
    poll_seconds: float,
    batch_size: int,
    sync_clock: bool,
    stale_claim_working_days: int,
    webhooks: Policy | None = None,
    payments: PaySchedule = batch_schedule.DEFAULT_SCHEDULE,
) -> None:
    log.info("worker_started", poll_seconds=poll_seconds)
    outage_since: float | None = None
    while True:
        try:
            if sync_clock:
                async with transaction(db) as conn:
                    await service_clock.load(conn)
            await run_due_work(db, stale_claim_working_days, batch_size, webhooks, payments)
            if outage_since is not None:
                log.warning("database_available_again", seconds=round(time.monotonic() - outage_since, 1))
                outage_since = None
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # keep the worker alive
            if not is_unavailable(exc):
                log.exception("worker_iteration_failed")
            elif outage_since is None:  # a failover: said once, not with a traceback every poll
                outage_since = time.monotonic()
                log.warning("database_unavailable", error=type(exc).__name__)
        await asyncio.sleep(poll_seconds)
