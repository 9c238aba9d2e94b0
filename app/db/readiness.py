"""What /readyz asks of the database: reachable, schema at Alembic's head, processes deployed."""

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.migrate import alembic_config

# Read once: the migrations shipped with this code do not change while it runs.
_SCRIPTS: ScriptDirectory | None = None


def _scripts() -> ScriptDirectory:
    global _SCRIPTS
    if _SCRIPTS is None:
        _SCRIPTS = ScriptDirectory.from_config(alembic_config())
    return _SCRIPTS


def code_heads() -> set[str]:
    return set(_scripts().get_heads())


def behind(versions: set[str]) -> bool:
    """The schema lacks a migration this code needs. A revision the code does not know is newer:
    during a rolling upgrade the migration runs first and the old replicas stay ready on the
    expanded schema (migrations expand before they contract, docs/operations.md)."""
    known = {v for v in versions if v in {r.revision for r in _scripts().walk_revisions()}}
    return not versions or (known == versions and versions != code_heads())


async def problems(db: AsyncEngine) -> list[str]:
    """Empty when ready; otherwise the reasons, in words an operator reads in a probe's log."""
    try:
        async with db.connect() as conn:
            versions = set((await conn.execute(sa.text("SELECT version_num FROM alembic_version"))).scalars())
            deployed = (await conn.execute(sa.text("SELECT count(*) FROM process_definitions"))).scalar_one()
    except Exception as exc:  # any failure to read is "not ready"; the probe must never raise
        return [f"database unreachable or without schema: {type(exc).__name__}"]
    reasons = []
    if behind(versions):
        reasons.append(
            f"schema at {sorted(versions)}, code expects {sorted(code_heads())}: run `aidflow migrate`"
        )
    if not deployed:
        reasons.append("no process definition deployed")
    return reasons
