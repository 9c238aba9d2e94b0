"""What /readyz asks of the database: reachable, schema at Alembic's head, processes deployed."""

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.migrate import alembic_config

# Read once: the migrations shipped with this code do not change while it runs.
_HEADS: set[str] | None = None


def code_heads() -> set[str]:
    global _HEADS
    if _HEADS is None:
        _HEADS = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    return _HEADS


async def problems(db: AsyncEngine) -> list[str]:
    """Empty when ready; otherwise the reasons, in words an operator reads in a probe's log."""
    try:
        async with db.connect() as conn:
            versions = set((await conn.execute(sa.text("SELECT version_num FROM alembic_version"))).scalars())
            deployed = (await conn.execute(sa.text("SELECT count(*) FROM process_definitions"))).scalar_one()
    except Exception as exc:  # any failure to read is "not ready"; the probe must never raise
        return [f"database unreachable or without schema: {type(exc).__name__}"]
    reasons = []
    if versions != code_heads():
        reasons.append(f"schema at {sorted(versions)}, code expects {sorted(code_heads())}: run `aidflow migrate`")
    if not deployed:
        reasons.append("no process definition deployed")
    return reasons
