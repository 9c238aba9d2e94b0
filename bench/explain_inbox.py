"""EXPLAIN (ANALYZE, BUFFERS) of the inbox queries, as `domain/tasks/worklist.inbox` writes them.

Run against a database the inbox benchmark kept (``BENCH_ONLY=inbox BENCH_KEEP_DB=1``):

    .venv/bin/python bench/explain_inbox.py postgresql://postgres@127.0.0.1:5432/aidflow_bench_xxxxxxxx

Each case of ``bench_service.INBOX_CASES`` is run once to warm the cache, then explained; the plan and
the query's own execution time are printed. Only PostgreSQL.
"""

import asyncio
import sys
from pathlib import Path

from sqlalchemy import event

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_service import INBOX_CASES  # noqa: E402

from app.db.engine import create_engine  # noqa: E402
from app.domain.people import accounts  # noqa: E402
from app.domain.people.principal import GrantScope, Principal  # noqa: E402
from app.domain.tasks import worklist  # noqa: E402


async def _principal(conn, who: str) -> Principal:
    if who == "portal":  # the benchmark's API key (its secret is not kept): the same name and grant
        return Principal("portal", "api_key", (GrantScope("portal", "340621", "/34/3406/340621/"),))
    return await accounts.principal_for_user(conn, who)


async def _explain(conn, name: str, who: str, params, query: tuple) -> None:
    statement, parameters = query
    raw = await conn.get_raw_connection()
    plan = await raw.driver_connection.fetch("EXPLAIN (ANALYZE, BUFFERS) " + statement, *(parameters or ()))
    print(f"=== {name} ({who}, {params})")
    print("\n".join(r[0] for r in plan))
    print()


async def main(url: str, only: list[str]) -> None:
    engine = create_engine(url)
    captured: list[tuple[str, object]] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _capture(_conn, _cursor, statement, parameters, _context, _many):
        captured.append((statement, parameters))

    async with engine.connect() as conn:
        for name, who, params, _ in INBOX_CASES:
            if only and name not in only:
                continue
            me = await _principal(conn, who)
            if params is None:  # the counts of the tabs
                await worklist.counts(conn, me)
                captured.clear()
                await worklist.counts(conn, me)
                await _explain(conn, name, who, params, captured[-1])
                continue
            args = {
                "scope": params.get("scope", "candidate"),
                "program": params.get("program"),
                "division_code": params.get("division_code"),
                "overdue": params.get("overdue"),
                "state": params.get("state"),
                "limit": params.get("limit", 50),
                "offset": params.get("offset", 0),
                "sort": params.get("sort", "due_at"),
            }
            await worklist.inbox(conn, me, **args)  # warm
            captured.clear()
            await worklist.inbox(conn, me, **args)
            await _explain(conn, name, who, params, next((s, p) for s, p in captured if "FROM tasks" in s))
        await conn.rollback()
    await engine.dispose()


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    asyncio.run(main(sys.argv[1], sys.argv[2:]))
