"""Pilots: which version new cases take, by place (e.g. county 340621 on v3, everyone else on v2).

Running cases never change version here; only new applications read the rollout.
"""

from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock
from app.db.models import process_definitions, rollouts
from app.domain import audit
from app.domain.errors import Invalid
from app.domain.people import divisions as division_service
from app.domain.programs import definitions


class RolloutRule(BaseModel):
    division_code: str = Field(min_length=1, max_length=32)
    version: int = Field(ge=1, le=2**31 - 1)


class RolloutIn(BaseModel):
    # Version for every place no rule names; None: always the newest version.
    default_version: int | None = Field(default=None, ge=1, le=2**31 - 1)
    rules: list[RolloutRule] = Field(default_factory=list, max_length=500)


async def get(conn: AsyncConnection, key: str) -> dict[str, Any]:
    await definitions.list_versions(conn, key)  # 404 for an unknown program
    rows = (
        (
            await conn.execute(
                sa.select(rollouts).where(rollouts.c.key == key).order_by(rollouts.c.division_path)
            )
        )
        .mappings()
        .all()
    )
    return {
        "key": key,
        "default_version": next((r["version"] for r in rows if r["division_code"] is None), None),
        "rules": [
            {
                "division_code": r["division_code"],
                "version": r["version"],
                "set_by": r["set_by"],
                "set_at": r["set_at"],
            }
            for r in rows
            if r["division_code"] is not None
        ],
    }


async def put(conn: AsyncConnection, key: str, body: RolloutIn, actor: str) -> dict[str, Any]:
    known = set(
        (
            await conn.execute(
                sa.select(process_definitions.c.version).where(process_definitions.c.key == key)
            )
        ).scalars()
    )
    if not known:
        await definitions.list_versions(conn, key)
    wanted = [r.version for r in body.rules] + ([body.default_version] if body.default_version else [])
    unknown = sorted(set(wanted) - known)
    if unknown:
        raise Invalid("unknown_version", f"{key} has no version {unknown}", versions=sorted(known))
    if len({r.division_code for r in body.rules}) != len(body.rules):
        raise Invalid("duplicate_division_code", "a place appears twice in the rules")
    now = clock.now()
    rows = []
    for rule in body.rules:
        division = await division_service.get(conn, rule.division_code)
        if division is None:
            raise Invalid("unknown_division", f"division {rule.division_code!r} does not exist")
        rows.append(
            {
                "key": key,
                "division_code": rule.division_code,
                "division_path": division["path"],
                "version": rule.version,
                "set_by": actor,
                "set_at": now,
            }
        )
    if body.default_version:
        rows.append(
            {
                "key": key,
                "division_code": None,
                "division_path": None,
                "version": body.default_version,
                "set_by": actor,
                "set_at": now,
            }
        )
    old = _plan(await get(conn, key))
    await conn.execute(sa.delete(rollouts).where(rollouts.c.key == key))
    if rows:
        await conn.execute(sa.insert(rollouts), rows)
    result = await get(conn, key)
    # Which version new cases take, where: a change of behaviour, in the authority trail.
    if (new := _plan(result)) != old:
        await audit.record_change(conn, actor, "rollout.changed", f"rollout:{key}", old, new)
    return result


def _plan(rollout: dict[str, Any]) -> dict[str, Any]:
    return {
        "default_version": rollout["default_version"],
        "rules": [{"division_code": r["division_code"], "version": r["version"]} for r in rollout["rules"]],
    }


_RULES = sa.select(rollouts.c.division_path, rollouts.c.version).where(rollouts.c.key == sa.bindparam("key"))


async def for_new_case(conn: AsyncConnection, key: str, division_path: str) -> definitions.Definition:
    """The version a new case at this place starts on: the most specific rule, the default, or the newest."""
    rows = (await conn.execute(_RULES, {"key": key})).all()
    matching = [
        (len(path or ""), version) for path, version in rows if path is None or division_path.startswith(path)
    ]
    if not matching:
        return await definitions.latest(conn, key)
    return await definitions.version_of(conn, key, max(matching)[1])
