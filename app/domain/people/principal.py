"""Who is calling, and what their grants let them see and do.

A grant ``{role, division}`` covers the division and everything below it: the holder
sees every task there and acts on tasks of that role there.  Coverage is a prefix test
on division paths ("/34/3406/340621/" covers "/34/3406/340621/340621101/").
"""

from dataclasses import dataclass, field

import sqlalchemy as sa

ADMIN = "admin"


@dataclass(frozen=True)
class GrantScope:
    role: str
    division_code: str | None
    division_path: str | None  # None only for the global admin grant


def path_range(column: sa.ColumnElement[str], path: str) -> sa.ColumnElement[bool]:
    """SQL for "column is at or below path" as an index-friendly range ('/' + 1 == '0')."""
    return sa.and_(column >= path, column < path[:-1] + "0")


@dataclass(frozen=True)
class Principal:
    name: str
    kind: str  # "user" | "api_key" | "system"
    grants: tuple[GrantScope, ...] = field(default_factory=tuple)

    @property
    def is_admin(self) -> bool:
        return any(g.role == ADMIN for g in self.grants)

    def can_see(self, division_path: str) -> bool:
        return self.is_admin or any(
            g.division_path and division_path.startswith(g.division_path) for g in self.grants
        )

    def can_act(self, role: str, division_path: str) -> bool:
        return self.is_admin or any(
            g.role == role and g.division_path and division_path.startswith(g.division_path)
            for g in self.grants
        )

    def is_user(self, name: str | None) -> bool:
        """Is ``name`` (an assignee, a signer, who completed a step…) this principal? Only users hold
        tasks and have inboxes; an API key whose name is a user's is not that user."""
        return self.kind == "user" and name is not None and name == self.name

    def personal(self, column: sa.ColumnElement[str | None]) -> sa.ColumnElement[bool]:
        """SQL for ``column == my name`` where the column holds usernames; never true for an API key."""
        return column == self.name if self.kind == "user" else sa.false()

    def visible(self, path_column: sa.ColumnElement[str]) -> sa.ColumnElement[bool]:
        """SQL condition: rows whose division is covered by any grant."""
        if self.is_admin:
            return sa.true()
        paths = {g.division_path for g in self.grants if g.division_path}
        return sa.or_(sa.false(), *(path_range(path_column, p) for p in sorted(paths)))

    def actionable(
        self, role_column: sa.ColumnElement[str], path_column: sa.ColumnElement[str]
    ) -> sa.ColumnElement[bool]:
        """SQL condition: rows of a role this principal holds, under a division its grant covers."""
        if self.is_admin:
            return sa.true()
        return sa.or_(
            sa.false(),
            *(
                sa.and_(role_column == g.role, path_range(path_column, g.division_path))
                for g in self.grants
                if g.division_path
            ),
        )


SYSTEM = Principal(name="system", kind="system", grants=(GrantScope(ADMIN, None, None),))
