"""The background worker: fires due timers on the service clock."""

import asyncio

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.engine import transaction
from app.domain import service_clock, timers
from app.domain.errors import DomainError

log = structlog.get_logger(__name__)


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


async def run_forever(db: AsyncEngine, poll_seconds: float, batch_size: int, sync_clock: bool) -> None:
    log.info("worker_started", poll_seconds=poll_seconds)
    while True:
        try:
            if sync_clock:
                async with transaction(db) as conn:
                    await service_clock.load(conn)
            await run_due_timers(db, batch_size)
        except asyncio.CancelledError:
            raise
        except Exception:  # keep the worker alive; the failure is logged with its traceback
            log.exception("worker_iteration_failed")
        await asyncio.sleep(poll_seconds)
