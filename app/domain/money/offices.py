"""Who handles a program's money in a county: the program's own county office prepares and submits a
batch (``county_<owner_department>``: county civil affairs for 低保, the county education bureau for
preschool aid…), the county finance office approves it."""

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.models import divisions
from app.domain.errors import Forbidden, Invalid, NotFound
from app.domain.people.principal import Principal
from app.domain.programs import definitions

FINANCE = "county_finance"


@dataclass(frozen=True)
class Offices:
    preparer: str
    approver: str = FINANCE


@dataclass(frozen=True)
class County:
    code: str
    path: str


async def of_program(conn: AsyncConnection, program: str) -> Offices:
    definition = await definitions.latest(conn, program)
    department = definition.config.process.owner_department
    if not department:
        raise Invalid(
            "program_not_payable",
            f"项目 {program} 未声明主管部门（owner_department），不能发放",
            program=program,
        )
    preparer = f"county_{department}"
    if preparer == FINANCE:
        # The finance office would prepare and approve: two offices for money would be one. The
        # upload refuses such a definition (programs/validation.py); one stored before is refused here.
        raise Invalid(
            "program_owner_is_finance",
            f"项目 {program} 的主管部门是财政部门，而财政部门负责审核发放：不能发放",
            program=program,
        )
    return Offices(preparer=preparer)


async def county(conn: AsyncConnection, code: str) -> County:
    row = (
        await conn.execute(sa.select(divisions.c.path, divisions.c.level).where(divisions.c.code == code))
    ).first()
    if row is None or row.level != "county":
        raise NotFound("county_not_found", f"没有代码为 {code} 的县级行政区划", division_code=code)
    return County(code, row.path)


def require(me: Principal, role: str, place: County, action: str) -> None:
    """Only a person of the office itself: an administrator or an API key does not move money."""
    if me.kind != "user" or not any(
        g.role == role and g.division_path and place.path.startswith(g.division_path) for g in me.grants
    ):
        raise Forbidden("not_payment_office", f"只有 {place.code} 的 {role} 可以{action}", role=role)


def is_office(me: Principal, offices: Offices, place: County) -> bool:
    """The caller is of the county's preparing or finance office (an administrator is not)."""
    return any(
        g.role in (offices.preparer, offices.approver)
        and g.division_path
        and place.path.startswith(g.division_path)
        for g in me.grants
    )


def may_read(me: Principal, offices: Offices, place: County) -> bool:
    return me.is_admin or is_office(me, offices, place)
