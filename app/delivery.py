"""Sending webhooks: fan the outbox out, claim due deliveries, POST them signed, record the results.

Transactions are short and never span an HTTP request: a claim commits a lease, the sends run
outside any transaction, and their results commit together afterwards (``domain/deliveries``).
"""

import asyncio
import json
import time
from urllib.parse import urlsplit

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from app import clock
from app.db.engine import transaction
from app.domain.webhooks import deliveries, signatures
from app.domain.webhooks import urls as webhook_urls
from app.domain.webhooks.deliveries import Attempt, Policy
from app.metrics import WEBHOOK_ATTEMPTS, WEBHOOK_FAILURES, WEBHOOK_LATENCY, WEBHOOK_QUEUE_DEPTH

log = structlog.get_logger(__name__)
USER_AGENT = "AidFlow-Webhooks/1"


def encode(payload: dict) -> bytes:
    # Deterministic bytes, so every attempt of a delivery sends the same body.
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


async def _blocked(url: str, policy: Policy) -> str | None:
    """Check the addresses the host resolves to now (a name may have moved since it was accepted)."""
    parts = urlsplit(url)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(parts.hostname, parts.port or 443)
    except OSError as exc:
        return f"cannot resolve {parts.hostname}: {exc}"
    for info in infos:
        why = webhook_urls.address_problem(str(info[4][0]), allow_loopback=policy.test_mode)
        if why:
            return f"{parts.hostname} resolves to {why}"
    return None


async def send(client: httpx.AsyncClient, claimed: dict, policy: Policy) -> tuple[Attempt, bool]:
    """One attempt; returns it and whether the receiver asked never to be called again (410).

    The whole attempt — resolving the name, connecting, the answer's headers — ends within the
    policy's timeout, which the claim's lease outlives: httpx's timeout bounds each phase and each
    read only (a receiver trickling its answer a byte at a time never trips it) and the name
    lookup not at all, so a send could outlast its lease and another worker send it again."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(policy.timeout_seconds):
            return await _send(client, claimed, policy)
    except TimeoutError:
        WEBHOOK_FAILURES.labels("timeout").inc()
        return Attempt(
            False,
            None,
            (time.perf_counter() - started) * 1000,
            f"timed out after {policy.timeout_seconds:g} s",
        ), False


async def _send(client: httpx.AsyncClient, claimed: dict, policy: Policy) -> tuple[Attempt, bool]:
    blocked = await _blocked(claimed["url"], policy)
    if blocked:
        WEBHOOK_FAILURES.labels("blocked_address").inc()
        return Attempt(False, None, 0.0, blocked), False
    body = encode(claimed["payload"])
    # Wall-clock time, not the service clock: receivers compare it with their own clocks.
    headers = signatures.headers(claimed["secrets"], claimed["id"], int(clock.real_now().timestamp()), body)
    headers.update({"content-type": "application/json", "user-agent": USER_AGENT})
    started = time.perf_counter()
    try:
        # Streamed and never read: a receiver's answer body is not ours to buffer.
        async with client.stream("POST", claimed["url"], content=body, headers=headers) as response:
            code = response.status_code
    except httpx.TimeoutException:
        WEBHOOK_FAILURES.labels("timeout").inc()
        return Attempt(
            False,
            None,
            (time.perf_counter() - started) * 1000,
            f"timed out after {policy.timeout_seconds:g} s",
        ), False
    except httpx.HTTPError as exc:
        WEBHOOK_FAILURES.labels("connection").inc()
        return Attempt(
            False, None, (time.perf_counter() - started) * 1000, f"{type(exc).__name__}: {exc}"
        ), False
    elapsed = time.perf_counter() - started
    WEBHOOK_LATENCY.observe(elapsed)
    if 200 <= code < 300:
        return Attempt(True, code, elapsed * 1000), False
    WEBHOOK_FAILURES.labels("http_status").inc()
    return Attempt(False, code, elapsed * 1000, f"receiver answered HTTP {code}"), code == 410


async def run_deliveries(db: AsyncEngine, policy: Policy, limit: int | None = None) -> int:
    """Hand over every pending outbox row, then send every delivery due now; returns attempts made."""
    while True:
        async with transaction(db) as conn:
            if await deliveries.fan_out(conn, policy) < policy.batch_size:
                break
    attempts = 0
    async with httpx.AsyncClient(timeout=policy.timeout_seconds, follow_redirects=False) as client:
        while limit is None or attempts < limit:
            async with transaction(db) as conn:
                batch = await deliveries.claim(conn, policy, policy.batch_size)
            if not batch:
                break
            try:
                results = await asyncio.gather(*(send(client, c, policy) for c in batch))
            except asyncio.CancelledError:  # the worker is stopping (SIGTERM): hand the claims back
                async with transaction(db) as conn:
                    released = await deliveries.release(conn, batch)
                log.info("webhook_claims_released", deliveries=released)
                raise
            async with transaction(db) as conn:
                for claimed, (attempt, gone) in zip(batch, results, strict=False):
                    outcome = await deliveries.record(conn, claimed, attempt, policy, gone=gone)
                    WEBHOOK_ATTEMPTS.labels(outcome).inc()
                    if outcome != "delivered":
                        log.info(
                            "webhook_failed",
                            delivery_id=claimed["id"],
                            outcome=outcome,
                            error=attempt.error,
                            status_code=attempt.status_code,
                        )
            attempts += len(batch)
    async with transaction(db) as conn:
        WEBHOOK_QUEUE_DEPTH.set(await deliveries.queue_depth(conn))
    return attempts
