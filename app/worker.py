"""The background worker: timers, deadline reminders, overdue marks, stale claims, periodic re-checks,
the end of gradual exits and webhooks, on the service clock."""

import asyncio
from dataclasses import asdict, dataclass

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.engine import transaction
from app.delivery import run_deliveries
from app.domain import case_effects, followups, reminders, service_clock, timers
from app.domain.deliveries import Policy
from app.domain.errors import DomainError

log = structlog.get_logger(__name__)


@dataclass
class Round:
    fired: int = 0
    reminders: int = 0
    overdue: int = 0
    claims_released: int = 0
    rechecks_started: int = 0
    monthly_cases_started: int = 0
    enrolments_ended: int = 0
    webhook_attempts: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


async def run_due_timers(db: AsyncEngine, limit: int | None = None) -> int:
    """Fire every timer due now (each in its own transaction); returns how many fired or were tried."""
    tried: set[int] = set()
    while limit is None or len(tried) < limit:
        before = len(tried)
        try:
            async with transaction(db) as conn:
                if await timers.fire_next(conn, tried) is None:
                    break
        except DomainError as exc:
            # A reviewer changed the case at the same moment; the timer stays due for the next round.
            log.warning("timer_deferred", code=exc.code, detail=exc.detail)
        if len(tried) == before:
            break
    return len(tried)


async def _drain(db: AsyncEngine, step, *args) -> int:
    total = 0
    while True:
        async with transaction(db) as conn:
            done = await step(conn, *args)
        total += done
        if done == 0:
            return total


async def run_due_work(db: AsyncEngine, stale_claim_working_days: int, limit: int | None = None,
                       webhooks: Policy | None = None) -> Round:
    """Everything due now; webhooks last, so the events of this round go out in it (None: no sending)."""
    result = Round(fired=await run_due_timers(db, limit))
    result.reminders = await _drain(db, reminders.send_reminders)
    result.overdue = await _drain(db, reminders.mark_overdue)
    result.claims_released = await _drain(db, reminders.release_stale_claims, stale_claim_working_days)
    result.rechecks_started = await _drain(db, followups.start_due_rechecks)
    result.monthly_cases_started = await _drain(db, followups.start_monthly_cases)
    result.enrolments_ended = await _drain(db, case_effects.end_expired_enrolments)
    if webhooks is not None:
        result.webhook_attempts = await run_deliveries(db, webhooks, limit)
    return result


async def run_forever(db: AsyncEngine, poll_seconds: float, batch_size: int, sync_clock: bool,
                      stale_claim_working_days: int, webhooks: Policy | None = None) -> None:
    log.info("worker_started", poll_seconds=poll_seconds)
    while True:
        try:
            if sync_clock:
                async with transaction(db) as conn:
                    await service_clock.load(conn)
            await run_due_work(db, stale_claim_working_days, batch_size, webhooks)
        except asyncio.CancelledError:
            raise
        except Exception:  # keep the worker alive; the failure is logged with its traceback
            log.exception("worker_iteration_failed")
        await asyncio.sleep(poll_seconds)
