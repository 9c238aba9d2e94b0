"""Finding cases by what a reviewer types into a search box: a case number (DB-340621-2026-000123),
an ID number, or the applicant's name or part of it.

A number or an ID number is one index lookup. Part of a name is a substring: on PostgreSQL the name's
characters are indexed (``ix_applications_name_chars``, a GIN index of the name split into
characters, migration 0025_inbox_search), so ``超丽`` reads the cases whose names hold both characters and checks
the order with LIKE; Chinese names are two to four characters, too short for trigrams. SQLite scans.
An ID number or a name looks for a person: it finds only the cases the caller reads in full
(``privacy``), so another department cannot learn who is on 低保 by typing an ID number.
"""

import re

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from app.db.models import applications
from app.domain.cases import numbers as case_numbers
from app.domain.cases import privacy
from app.domain.errors import Invalid
from app.domain.people.principal import Principal

ID_NUMBER = re.compile(r"^[0-9]{17}[0-9Xx]$")
MAX_LENGTH = 40


def clean(q: str | None) -> str | None:
    """The search text without surrounding blanks; None for nothing to search; 422 for too long."""
    text = (q or "").strip()
    if len(text) > MAX_LENGTH:
        raise Invalid("invalid_search", f"a search is at most {MAX_LENGTH} characters")
    return text or None


def name_characters() -> ColumnElement[list[str]]:
    """The name as an array of its characters, written exactly as ``ix_applications_name_chars``
    indexes it (constants, not parameters: PostgreSQL matches an index's expression by its text)."""
    name = sa.type_coerce(applications.c.applicant.op("->>")(sa.literal_column("'name'")), sa.Text)
    return sa.func.regexp_split_to_array(name, sa.literal_column("''"), type_=postgresql.ARRAY(sa.Text))


def matching(q: str, dialect: str) -> ColumnElement[bool]:
    """A condition on ``applications`` for the cleaned search text ``q``."""
    if case_numbers.PATTERN.match(q.upper()):
        return applications.c.number == q.upper()
    if ID_NUMBER.match(q):
        return applications.c.applicant_id_number == q.upper()
    contains: ColumnElement[bool] = applications.c.applicant["name"].as_string().contains(q, autoescape=True)
    if dialect != "postgresql":
        return contains
    characters = sa.literal(sorted(set(q)), type_=postgresql.ARRAY(sa.Text))
    has_characters: ColumnElement[bool] = name_characters().contains(characters)
    return sa.and_(has_characters, contains)


async def found(conn: AsyncConnection, principal: Principal, q: str) -> sa.Select[tuple[str]]:
    """The ids of the cases the cleaned search text ``q`` finds for the caller: by a case number any
    case (the caller's scope then applies), by an ID number or a name only those it reads in full."""
    query = sa.select(applications.c.id).where(matching(q, conn.dialect.name))
    if case_numbers.PATTERN.match(q.upper()):
        return query
    return query.where(await privacy.condition(conn, principal))
