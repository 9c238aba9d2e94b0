"""Review panels (评审小组) registered per institution and school year, and their votes.

A step with the property ``panel`` = ``true`` is decided by the panel of the task's place: the
form carries each member's vote, the service checks every voter against the registered panel,
the quorum (at least ``MIN_MEMBERS`` votes and more than half the panel) and counts the majority,
and hands the process ``panel_decision`` (approve when more than half of the votes agree).
"""

from datetime import date
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock
from app.db.models import panels
from app.domain import audit
from app.domain.errors import Forbidden, Invalid, NotFound
from app.domain.people import divisions as division_service
from app.domain.people.principal import Principal
from app.domain.timekeeping import calendar

MIN_MEMBERS = 5
ROLES = ("head", "staff", "parent")


class Member(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    role: str = Field(pattern="^(head|staff|parent)$")


class PanelIn(BaseModel):
    members: list[Member] = Field(min_length=1, max_length=50)


def school_year(day: date) -> int:
    """The year the school year's autumn term started in (it starts in September)."""
    return day.year if day.month >= 8 else day.year - 1


async def put(
    conn: AsyncConnection, principal: Principal, division_code: str, year: int, body: PanelIn
) -> dict[str, Any]:
    division = await division_service.get(conn, division_code)
    if division is None:
        raise Invalid("unknown_division", f"division {division_code!r} does not exist")
    if not (
        principal.is_admin
        or any(
            g.division_path
            and division["path"].startswith(g.division_path)
            and division_service.role_level(g.role) == division["level"]
            for g in principal.grants
        )
    ):
        raise Forbidden(
            "not_allowed", "only the institution's own staff or an administrator registers its panel"
        )
    names = [m.name for m in body.members]
    if len(set(names)) != len(names):
        raise Invalid("invalid_panel", "a member appears twice")
    roles = {m.role for m in body.members}
    if len(names) < MIN_MEMBERS or not set(ROLES) <= roles:
        raise Invalid(
            "invalid_panel",
            f"a panel has at least {MIN_MEMBERS} members, among them the head, staff "
            "representatives and parent representatives",
            min_members=MIN_MEMBERS,
        )
    if not 2000 <= year <= 2100:
        raise Invalid("invalid_school_year", "school year must be a year such as 2026")
    members = [m.model_dump() for m in body.members]
    old = (
        await conn.execute(
            sa.select(panels.c.members).where(
                panels.c.division_code == division_code, panels.c.school_year == year
            )
        )
    ).scalar()
    if old != members:  # who votes on a case: in the authority trail
        await audit.record_change(
            conn,
            principal.name,
            "panel.set" if old is None else "panel.changed",
            f"panel:{division_code}/{year}",
            {"members": old} if old is not None else None,
            {"members": members},
            division_code,
        )
    await conn.execute(
        sa.delete(panels).where(panels.c.division_code == division_code, panels.c.school_year == year)
    )
    await conn.execute(
        sa.insert(panels).values(
            division_code=division_code,
            school_year=year,
            members=members,
            set_by=principal.name,
            set_at=clock.now(),
        )
    )
    return {"division_code": division_code, "school_year": year, "members": members}


async def read(conn: AsyncConnection, principal: Principal, division_code: str, year: int) -> dict[str, Any]:
    """A panel as its readers see it: members' names (parents among them) only for those whose
    grants cover the institution; elsewhere it answers like a panel never registered."""
    division = await division_service.get(conn, division_code)
    if division is None or not principal.can_see(division["path"]):
        raise NotFound("panel_not_registered", f"{division_code} has no panel registered for {year}")
    return await get(conn, division_code, year)


async def get(conn: AsyncConnection, division_code: str, year: int) -> dict[str, Any]:
    row = (
        (
            await conn.execute(
                sa.select(panels).where(panels.c.division_code == division_code, panels.c.school_year == year)
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound("panel_not_registered", f"{division_code} has no panel registered for {year}")
    return {"division_code": division_code, "school_year": year, "members": row["members"]}


async def decide(conn: AsyncConnection, division_code: str, data: dict[str, Any]) -> dict[str, Any]:
    """Check the votes in ``data`` against the registered panel; returns the data with the count."""
    year = school_year(calendar.today())
    try:
        panel = await get(conn, division_code, year)
    except NotFound as exc:
        raise Invalid("panel_not_registered", exc.detail) from exc
    members = {m["name"] for m in panel["members"]}
    votes = data.get("votes") or []
    voters = [v["member"] for v in votes]
    if len(set(voters)) != len(voters):
        raise Invalid("invalid_votes", "a member voted twice")
    strangers = sorted(set(voters) - members)
    if strangers:
        raise Invalid(
            "unknown_panel_member",
            f"{strangers} are not on the panel registered for {year}",
            members=sorted(members),
        )
    if len(votes) < MIN_MEMBERS or len(votes) * 2 <= len(members):
        raise Invalid(
            "no_quorum",
            f"{len(votes)} of {len(members)} members voted: at least {MIN_MEMBERS} and more "
            "than half of the panel must vote",
            votes=len(votes),
            members=len(members),
        )
    agree = sum(1 for v in votes if v["vote"] == "agree")
    return {
        **data,
        "panel_decision": "approve" if agree * 2 > len(votes) else "refuse",
        "votes_for": agree,
        "votes_against": len(votes) - agree,
        "panel_size": len(members),
    }
