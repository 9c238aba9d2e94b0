"""People, not logins: what a login, a portal's API key or the service itself is called on a page.

Events, tasks and signatures record logins (``zhang.wei``, ``demo-portal``, ``system``); reviewers
read the person — 张伟（濉溪镇民政） — and a portal is 对接平台（濉溪县）. ``Directory`` resolves every
login of a page in one query (users and API keys share one namespace, see ``accounts``) and keeps
what it found for the rest of the request, so a page asks again only for logins it has not seen.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.models import api_keys, divisions, grants, users
from app.domain.people.principal import ADMIN
from app.domain.people.roles import SPECIAL_ROLES, department_label, role_label

# Actors that are no account: the service's own work (timers, the worker, follow-ups) and the
# public objection form.
SERVICE_ACTORS: dict[str, str] = {"system": "系统（自动办理）", "public": "公众（公示异议）"}
PersonView = dict[str, str | None]


@dataclass(frozen=True)
class Person:
    login: str
    kind: str  # "user" | "api_key" | "service" | "unknown"
    name: str
    role: str | None = None
    place_code: str | None = None
    place: str | None = None

    @property
    def role_label(self) -> str | None:
        return role_label(self.role) if self.role else None

    @property
    def department(self) -> str | None:
        return department_label(self.role) if self.role else None

    @property
    def text(self) -> str:
        """张伟（濉溪镇民政）, 对接平台（濉溪县）, 系统管理员 — the office as people name it."""
        if self.kind == "api_key":
            return f"{self.name}（{self.place}）" if self.place else self.name
        if self.role is None or self.name == SPECIAL_ROLES.get(self.role):
            return self.name
        if self.role == ADMIN:
            return f"{self.name}（{SPECIAL_ROLES[ADMIN]}）"
        return f"{self.name}（{self.place or ''}{self.department}）"

    def view(self) -> PersonView:
        """The API's ``*_display`` object."""
        return {
            "name": self.name,
            "role": self.role,
            "role_label": self.role_label,
            "department": self.department,
            "division_code": self.place_code,
            "place": self.place,
            "text": self.text,
        }


def _people_query(logins: list[str]) -> sa.CompoundSelect[Any]:
    """Users and API keys of these logins with their grants' roles and places, one row per grant."""
    user_rows = (
        sa.select(
            sa.literal("user").label("kind"),
            users.c.username.label("login"),
            users.c.display_name.label("name"),
            grants.c.id.label("grant_id"),
            grants.c.role,
            grants.c.division_code,
            divisions.c.name.label("place"),
        )
        .select_from(
            users.outerjoin(grants, grants.c.user_id == users.c.id).outerjoin(
                divisions, divisions.c.code == grants.c.division_code
            )
        )
        .where(users.c.username.in_(logins))
    )
    key_rows = (
        sa.select(
            sa.literal("api_key").label("kind"),
            api_keys.c.name.label("login"),
            sa.literal(SPECIAL_ROLES["portal"]).label("name"),
            grants.c.id.label("grant_id"),
            grants.c.role,
            grants.c.division_code,
            divisions.c.name.label("place"),
        )
        .select_from(
            api_keys.outerjoin(grants, grants.c.api_key_id == api_keys.c.id).outerjoin(
                divisions, divisions.c.code == grants.c.division_code
            )
        )
        .where(api_keys.c.name.in_(logins))
    )
    return sa.union_all(user_rows, key_rows)


def _shown_grant(rows: list[sa.Row[Any]]) -> sa.Row[Any]:
    """The grant a person is shown with: the first working one (an office at a place), else admin."""
    ordered = sorted(rows, key=lambda r: (r.role is None, r.role == ADMIN, r.grant_id or 0))
    return ordered[0]


class Directory:
    """The people of one request, resolved in as few queries as the page's parts allow."""

    def __init__(self) -> None:
        self._known: dict[str, Person] = {}

    async def load(self, conn: AsyncConnection, logins: Iterable[str | None]) -> None:
        missing = sorted({login for login in logins if login} - self._known.keys() - SERVICE_ACTORS.keys())
        if not missing:
            return
        found: dict[str, list[sa.Row[Any]]] = {}
        for row in await conn.execute(_people_query(missing)):
            found.setdefault(row.login, []).append(row)
        for login in missing:
            rows = found.get(login)
            if not rows:
                self._known[login] = Person(login, "unknown", login)
                continue
            kind = "user" if any(r.kind == "user" for r in rows) else "api_key"
            grant = _shown_grant([r for r in rows if r.kind == kind])
            self._known[login] = Person(login, kind, grant.name, grant.role, grant.division_code, grant.place)

    def person(self, login: str) -> Person:
        if login in SERVICE_ACTORS:
            return Person(login, "service", SERVICE_ACTORS[login])
        return self._known.get(login) or Person(login, "unknown", login)

    def text(self, login: str | None) -> str:
        return self.person(login).text if login else ""

    def view(self, login: str | None) -> PersonView | None:
        return self.person(login).view() if login else None


async def add_displays(
    conn: AsyncConnection,
    row: dict[str, Any],
    fields: tuple[str, ...],
    directory: Directory | None = None,
) -> dict[str, Any]:
    """``row`` with ``<field>_display`` next to each login field (``assignee`` → ``assignee_display``)."""
    directory = directory or Directory()
    await directory.load(conn, (row.get(f) for f in fields))
    for f in fields:
        row[f + "_display"] = directory.view(row.get(f))
    return row


async def add_displays_to_all(
    conn: AsyncConnection, rows: list[dict[str, Any]], fields: tuple[str, ...]
) -> list[dict[str, Any]]:
    """``add_displays`` for a list, its people in one query."""
    directory = Directory()
    await directory.load(conn, (row.get(f) for row in rows for f in fields))
    for row in rows:
        await add_displays(conn, row, fields, directory)
    return rows
