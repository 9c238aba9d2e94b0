"""Places (行政区划) and the rule that routes a role to the place that holds it."""

import re
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.models import divisions
from app.domain import audit
from app.domain.errors import Conflict, Invalid, NotFound
from app.domain.people.principal import ADMIN, Principal, path_range

# Administrative divisions from the top down; a child's level must be below its parent's.
ADMINISTRATIVE_LEVELS = ("province", "city", "county", "township", "village")
# Institutions act like levels (a school's aid office, a class's head teacher): each may sit
# under these levels, and routes by the same ancestor rule as everything else.
INSTITUTION_PARENTS = {
    "school": ("city", "county", "township"),
    "kindergarten": ("county", "township", "village"),
    "class": ("school", "kindergarten"),
    "university": ("province", "city"),
    # A unit with its own trade union: a university's department or an employer.
    "department": ("university", "city", "county", "township"),
}
LEVELS = ADMINISTRATIVE_LEVELS + tuple(INSTITUTION_PARENTS)
SPECIAL_ROLES = (ADMIN, "portal")
CODE_PATTERN = re.compile(r"^[0-9A-Za-z_-]{1,32}$")
ROLE_PATTERN = re.compile(r"^(?P<level>[a-z]+)_(?P<department>[a-z][a-z0-9_]*)$")


class DivisionIn(BaseModel):
    code: str = Field(pattern=CODE_PATTERN.pattern)
    # No control characters: a name goes into notices, spreadsheets (which refuse them) and file names.
    name: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
    parent_code: str | None = None
    level: str
    # Absent: unchanged; "": removed.
    complaint_phone: str | None = Field(default=None, max_length=40, pattern=r"^[0-9 ()+\-]*$")


def may_sit_under(level: str, parent_level: str) -> bool:
    if level in INSTITUTION_PARENTS:
        return parent_level in INSTITUTION_PARENTS[level]
    return parent_level in ADMINISTRATIVE_LEVELS and ADMINISTRATIVE_LEVELS.index(
        parent_level
    ) < ADMINISTRATIVE_LEVELS.index(level)


def levels_below(level: str) -> list[str]:
    """Levels that may occur under a place of ``level`` (for supervision)."""
    found, frontier = [], [level]
    while frontier:
        current = frontier.pop()
        for candidate in LEVELS:
            if candidate not in found and may_sit_under(candidate, current):
                found.append(candidate)
                frontier.append(candidate)
    return found


def role_level(role: str) -> str | None:
    """``township_civil_affairs`` → ``township``; None when the role is not level-bound."""
    match = ROLE_PATTERN.match(role)
    if match and match["level"] in LEVELS:
        return match["level"]
    return None


def role_department(role: str) -> str | None:
    """``county_civil_affairs`` → ``civil_affairs``; None when the role is not level-bound."""
    match = ROLE_PATTERN.match(role)
    if match and match["level"] in LEVELS:
        return match["department"]
    return None


def check_role(role: str) -> None:
    if role not in SPECIAL_ROLES and role_level(role) is None:
        raise Invalid(
            "invalid_role",
            f"role {role!r} is neither a special role {SPECIAL_ROLES} nor "
            f"<level>_<department> with level one of {LEVELS}",
            role=role,
        )


async def get(conn: AsyncConnection, code: str) -> dict[str, Any] | None:
    row = (await conn.execute(sa.select(divisions).where(divisions.c.code == code))).mappings().first()
    return dict(row) if row else None


async def path_of(conn: AsyncConnection, division_code: str) -> str:
    """The path of a ``division_code=`` query parameter's place (unknown: 422 unknown_division)."""
    division = await get(conn, division_code)
    if division is None:
        raise Invalid("unknown_division", f"division {division_code!r} does not exist")
    path: str = division["path"]
    return path


async def at_or_below(
    conn: AsyncConnection, path_column: sa.ColumnElement[str], division_code: str
) -> sa.ColumnElement[bool]:
    """SQL filter for a ``division_code=`` query parameter: rows at that place or below it."""
    return path_range(path_column, await path_of(conn, division_code))


# Places never move or change level (both refused), so ancestry is cached per process by path.
_ancestry_cache: dict[tuple[str, str], dict[str, str]] = {}


async def ancestors_by_level(conn: AsyncConnection, division: dict[str, Any]) -> dict[str, str]:
    """Level → code of the division itself and each ancestor."""
    cache_key = (str(conn.engine.url), division["path"])
    cached = _ancestry_cache.get(cache_key)
    if cached is not None:
        return cached
    codes = [c for c in division["path"].strip("/").split("/") if c]
    rows = (
        await conn.execute(sa.select(divisions.c.code, divisions.c.level).where(divisions.c.code.in_(codes)))
    ).all()
    result = {level: code for code, level in rows}
    _ancestry_cache[cache_key] = result
    return result


async def upsert(conn: AsyncConnection, items: list[DivisionIn], actor: str) -> int:
    """Insert or rename places; parents may come earlier in the same batch or already exist. Each new
    place and each rename is in the authority trail (a place is where grants and settings attach)."""
    if len({d.code for d in items}) != len(items):
        raise Invalid("duplicate_division_code", "a code appears twice in the batch")
    existing = {
        r["code"]: dict(r)
        for r in (
            await conn.execute(sa.select(divisions).where(divisions.c.code.in_([d.code for d in items])))
        ).mappings()
    }
    known: dict[str, dict[str, Any]] = {}
    pending = {d.code: d for d in items}
    # Resolve parents in dependency order, so a batch may list children before parents.
    while pending:
        progressed = False
        for code, item in list(pending.items()):
            if item.level not in LEVELS:
                raise Invalid(
                    "invalid_level", f"level {item.level!r} is not one of {LEVELS}", division_code=code
                )
            parent = None
            if item.parent_code is not None:
                parent = known.get(item.parent_code)
                if parent is None and item.parent_code in pending:
                    continue
                if parent is None:
                    parent = await get(conn, item.parent_code)
                if parent is None:
                    raise Invalid(
                        "unknown_parent",
                        f"parent {item.parent_code!r} of {code!r} does not exist",
                        division_code=code,
                    )
                if not may_sit_under(item.level, parent["level"]):
                    raise Invalid(
                        "level_order",
                        f"{code!r} ({item.level}) cannot sit under {parent['code']!r} ({parent['level']})",
                        division_code=code,
                    )
            path = (parent["path"] if parent else "/") + code + "/"
            old = existing.get(code)
            if old and (old["path"] != path or old["level"] != item.level):
                raise Conflict(
                    "division_move_not_supported",
                    f"{code!r} exists with another parent or level; places cannot be moved",
                    division_code=code,
                )
            known[code] = {
                "code": code,
                "name": item.name,
                "level": item.level,
                "parent_code": item.parent_code,
                "path": path,
                "complaint_phone": item.complaint_phone,
            }
            del pending[code]
            progressed = True
        if not progressed:
            raise Invalid("division_cycle", f"parents form a cycle among {sorted(pending)}")
    for code, row in known.items():
        phone = row.pop("complaint_phone")
        phone = None if phone is None else (phone.strip() or "")
        if code in existing:
            await conn.execute(sa.update(divisions).where(divisions.c.code == code).values(name=row["name"]))
            if existing[code]["name"] != row["name"]:
                await audit.record_change(
                    conn,
                    actor,
                    "division.renamed",
                    f"division:{code}",
                    {"name": existing[code]["name"]},
                    {"name": row["name"]},
                    code,
                )
            if phone is not None and (phone or None) != existing[code]["complaint_phone"]:
                await conn.execute(
                    sa.update(divisions).where(divisions.c.code == code).values(complaint_phone=phone or None)
                )
                await audit.record_change(
                    conn,
                    actor,
                    "division.complaint_phone_changed",
                    f"division:{code}",
                    {"complaint_phone": existing[code]["complaint_phone"]},
                    {"complaint_phone": phone or None},
                    code,
                )
        else:
            await conn.execute(sa.insert(divisions).values(**row, complaint_phone=phone or None))
            await audit.record_change(
                conn,
                actor,
                "division.created",
                f"division:{code}",
                None,
                {"name": row["name"], "level": row["level"], "parent_code": row["parent_code"]},
                code,
            )
    return len(known)


async def list_all(conn: AsyncConnection) -> list[dict[str, Any]]:
    rows = await conn.execute(sa.select(divisions).order_by(divisions.c.path))
    return [dict(r) for r in rows.mappings()]


async def lookup(conn: AsyncConnection, codes: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Code → {name, level, path} of the given places (for lists that show where each row is)."""
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    rows = await conn.execute(
        sa.select(divisions.c.code, divisions.c.name, divisions.c.level, divisions.c.path).where(
            divisions.c.code.in_(wanted)
        )
    )
    return {r.code: dict(r._mapping) for r in rows}


async def visible_to(conn: AsyncConnection, principal: Principal, limit: int = 500) -> list[dict[str, Any]]:
    """Places a principal can see (its grants' places and everything below), top-down, for filters."""
    query = sa.select(divisions.c.code, divisions.c.name, divisions.c.level, divisions.c.path).where(
        principal.visible(divisions.c.path)
    )
    rows = await conn.execute(query.order_by(divisions.c.path).limit(limit))
    return [dict(r) for r in rows.mappings()]


async def places_for(
    conn: AsyncConnection, principal: Principal, parent_code: str | None
) -> list[dict[str, str | None]]:
    """Division codes for whoever files or reviews cases (GET /divisions), one level at a time: without
    ``parent_code`` the caller's own places (its grants'; an administrator: the top places), with it the
    places directly under that place, which the caller must see (else 404, as for a place that is not)."""
    columns = (divisions.c.code, divisions.c.name, divisions.c.level, divisions.c.parent_code)
    if parent_code is None:
        own = sorted({g.division_path for g in principal.grants if g.division_path})
        where: sa.ColumnElement[bool] = (
            divisions.c.parent_code.is_(None) if principal.is_admin else divisions.c.path.in_(own)
        )
    else:
        parent = await get(conn, parent_code)
        if parent is None or not principal.can_see(parent["path"]):
            raise NotFound("unknown_division", f"no division {parent_code!r} among the caller's places")
        where = divisions.c.parent_code == parent_code
    rows = await conn.execute(sa.select(*columns).where(where).order_by(divisions.c.code))
    return [dict(r) for r in rows.mappings()]
