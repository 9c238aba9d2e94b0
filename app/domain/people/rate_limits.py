"""Rate limits that every replica shares: a sliding log of accepted hits per client, in the database.

A hit is allowed when fewer than ``limit`` hits were accepted in the ``window`` before it — exactly,
over any window, not the estimate of a sliding-window counter (which lets up to twice the allowance
through around the edge of its fixed windows). Concurrent hits of one client through several
replicas are serialized on a lock of that client (a transaction-scoped advisory lock on PostgreSQL;
SQLite has one writer). Times come from the database's clock, the one clock every replica shares;
moving the service's test clock neither resets nor extends anyone's allowance.

Hits are stored per millisecond (two in the same millisecond add up), so the log of a client
holds at most ``limit`` rows per window; refused hits are not stored.
"""

import ipaddress
import math
from dataclasses import dataclass

import sqlalchemy as sa
from limits import parse
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock
from app.db.models import rate_limit_hits as hits
from app.domain.errors import TooMany

# One bucket for requests whose peer address is unknown (a Unix-socket proxy not listed in
# AIDFLOW_TRUSTED_PROXIES): they share one allowance rather than escape the limit.
UNKNOWN_CLIENT = "unknown"


@dataclass(frozen=True)
class Rule:
    limit: int
    window_seconds: int

    @classmethod
    def parse(cls, text: str) -> "Rule":
        """``10/10 minutes``, ``2/minute``… (the `limits` notation)."""
        item = parse(text)
        return cls(limit=item.amount, window_seconds=item.get_expiry())


def client_key(address: str | None) -> str:
    """The bucket of a peer address: an IPv4 address, or the /64 network of an IPv6 one (a single
    household or host gets a whole /64, so counting addresses inside it would count nothing)."""
    if not address:
        return UNKNOWN_CLIENT
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return UNKNOWN_CLIENT
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


async def _now_ms(conn: AsyncConnection) -> int:
    if conn.dialect.name == "postgresql":
        now_ms: int = (
            await conn.execute(sa.text("SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint"))
        ).scalar_one()
        return now_ms
    return int(clock.real_now().timestamp() * 1000)  # SQLite: one process, its clock is the only one


async def _lock(conn: AsyncConnection, scope: str, client: str) -> None:
    if conn.dialect.name == "postgresql":
        await conn.execute(
            sa.select(
                sa.func.pg_advisory_xact_lock(sa.func.hashtextextended(f"rate_limit:{scope}:{client}", 0))
            )
        )


def _upsert(dialect: str) -> postgresql.Insert | sqlite.Insert:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(hits).on_conflict_do_update(
        index_elements=["scope", "client", "at_ms"], set_={"hits": hits.c.hits + 1}
    )


async def hit(conn: AsyncConnection, scope: str, address: str | None, rule: Rule) -> None:
    """Count one hit of the client at ``address``, or refuse it with 429 ``rate_limited`` and a
    Retry-After of exactly when the oldest counted hit leaves the window.

    Run it in a transaction of its own, committed before the work it guards: a request that then
    fails still spent its allowance."""
    client = client_key(address)[:64]
    await _lock(conn, scope, client)
    now = await _now_ms(conn)
    window = rule.window_seconds * 1000
    mine = sa.and_(hits.c.scope == scope, hits.c.client == client)
    await conn.execute(sa.delete(hits).where(mine, hits.c.at_ms <= now - window))
    counted = (
        await conn.execute(sa.select(hits.c.at_ms, hits.c.hits).where(mine).order_by(hits.c.at_ms))
    ).all()
    total = sum(row.hits for row in counted)
    if total < rule.limit:
        await conn.execute(_upsert(conn.dialect.name).values(scope=scope, client=client, at_ms=now, hits=1))
        return
    # A hit is allowed again once enough of the oldest hits have left the window.
    leaving, free_at = 0, now + window
    for row in counted:
        leaving += row.hits
        if total - leaving < rule.limit:
            free_at = row.at_ms + window
            break
    retry = max(1, math.ceil((free_at - now) / 1000))
    raise TooMany(
        "rate_limited", f"too many requests from this address; retry in {retry} seconds", retry_after=retry
    )
