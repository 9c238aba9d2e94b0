"""Program settings (limits, ratios, fund multiples) per division subtree, set along the hierarchy.

A process declares each setting with its national default as a property ``setting.<name>``
(optionally ``setting_range.<name>`` = ``min..max``), who may set it as
``setting_authority.<name>`` = ``<level>:<direction>``, and the department that owns the
program as ``owner_department`` (``civil_affairs``…). ``<level>`` is the lowest level whose
office may set the value (that level and every level above it; ``country``: only the
country-wide value, by an administrator). ``<direction>`` says how a lower place may deviate
from a value set above it: ``ceiling`` (limits, caps: only lower or equal), ``floor``
(minimum amounts and ratios: only higher or equal) or ``any`` (dates, months: the nearest
place wins). The BPMN default is a default, not a bound; the range is the national bound.

A lower value that a later change above makes less strict is not refused and not deleted:
the value in force at a place is the strictest along its path (country, province … the
place), so a county lowering a township's ceiling binds at once, and the township's own
stricter value applies again if the county later raises it. Values stored at a level that
may not set them (left from before a declaration, or a new version narrowing it) are ignored.

The values in force are frozen on each case when it starts, and BPMN expressions read them as
``settings["<name>"]``. Every change is recorded with the old and the new value
(``setting.set`` / ``setting.changed`` / ``setting.removed``, subject
``setting:<program>/<division code or country>/<name>``); that history is never deleted.
"""

import math
import re
from dataclasses import dataclass

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock
from app.db.models import divisions, program_settings
from app.domain import audit
from app.domain.errors import Forbidden, Invalid
from app.domain.people import divisions as division_service
from app.domain.people.principal import Principal
from app.domain.programs.config import Deployed, ProcessConfig
from app.shapes import Json

# A deployed definition; ``programs.definitions`` checks its declarations with this module at deploy.
Definition = Deployed


OWNER = "owner_department"
COUNTRY = "country"
DIRECTIONS = ("ceiling", "floor", "any")
DEPARTMENT_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Authority:
    level: str  # the lowest level that may set the value, or ``country``
    direction: str  # ceiling | floor | any

    def allows(self, level: str | None) -> bool:
        """May a place of ``level`` (None: the country-wide value) hold this setting?"""
        if level is None:
            return True
        if self.level == COUNTRY:
            return False
        return level == self.level or self.level in division_service.levels_below(level)

    def stricter(self, value: float, than: float) -> bool:
        if self.direction == "ceiling":
            return value < than
        if self.direction == "floor":
            return value > than
        return True  # ``any``: the nearer place wins

    def as_dict(self) -> Json:
        return {"level": self.level, "direction": self.direction}


class SettingsIn(BaseModel):
    values: dict[str, float | int | bool | str] = Field(max_length=50)


def declared(process: ProcessConfig) -> dict[str, object]:
    """Name → default, from the process's ``setting.*`` properties (JSON values; text otherwise)."""
    return dict(process.settings)


def _range(process: ProcessConfig, name: str) -> tuple[float, float] | None:
    return process.setting_ranges.get(name)


def authority(process: ProcessConfig, name: str) -> Authority | None:
    found = process.setting_authorities.get(name)
    return Authority(found.level, found.direction) if found else None


def owner_department(process: ProcessConfig) -> str | None:
    return process.owner_department


def declaration_problems(process: ProcessConfig) -> list[str]:
    """What the parsed declaration (``config.ProcessConfig``: each value's form) says wrong as a whole."""
    problems = []
    settings = declared(process)
    for name, default in settings.items():
        bounds = _range(process, name)
        if bounds is not None and isinstance(default, (int, float)) and not bounds[0] <= default <= bounds[1]:
            problems.append(f"default of setting {name!r} ({default}) is outside {bounds[0]}..{bounds[1]}")
        found = authority(process, name)
        if found is None:
            problems.append(
                f"setting {name!r} needs setting_authority.{name} = <level>:<direction>, level "
                f"{COUNTRY} or one of {division_service.LEVELS}, direction one of {DIRECTIONS}"
            )
        elif found.direction != "any" and not _numeric(default):
            problems.append(f"setting {name!r} is not a number: its direction can only be 'any'")
    for prefix, names in (
        ("setting_range.", process.setting_ranges),
        ("setting_authority.", process.setting_authorities),
    ):
        problems += [f"{prefix}{name} names no declared setting" for name in names if name not in settings]
    if settings and not DEPARTMENT_PATTERN.match(owner_department(process) or ""):
        problems.append(
            f"a process with settings declares {OWNER} (the department whose offices set them, "
            "e.g. civil_affairs)"
        )
    return problems


def _numeric(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_values(definition: Definition, values: Json) -> None:
    process = definition.config.process
    defaults = declared(process)
    for name, value in values.items():
        if name not in defaults:
            raise Invalid(
                "unknown_setting", f"{definition.key} has no setting {name!r}", known=sorted(defaults)
            )
        default = defaults[name]
        numeric = _numeric(default)
        if numeric != _numeric(value) or isinstance(default, bool) != isinstance(value, bool):
            raise Invalid(
                "invalid_setting", f"setting {name!r} must be of the same kind as its default {default!r}"
            )
        if numeric:
            if not math.isfinite(value) or value < 0:
                raise Invalid("invalid_setting", f"setting {name!r} must be a finite number ≥ 0")
            bounds = _range(process, name)
            if bounds is not None and not bounds[0] <= value <= bounds[1]:
                raise Invalid(
                    "invalid_setting", f"setting {name!r} must be within {bounds[0]:g}..{bounds[1]:g}"
                )


async def _rows_for(conn: AsyncConnection, program: str, division_path: str) -> list[Json]:
    """The stored rows along the path to a place, country-wide first, each with its place's level."""
    rows = (
        await conn.execute(
            sa.select(program_settings, divisions.c.level)
            .select_from(
                program_settings.outerjoin(divisions, divisions.c.code == program_settings.c.division_code)
            )
            .where(program_settings.c.program == program)
        )
    ).mappings()
    matching = [
        dict(r) for r in rows if r["division_path"] is None or division_path.startswith(r["division_path"])
    ]
    return sorted(matching, key=lambda r: len(r["division_path"] or ""))


def _source(row: Json) -> str:
    return row["division_code"] or COUNTRY


def _effective(process: ProcessConfig, rows: list[Json]) -> dict[str, Json]:
    """Name → {value, source}: the BPMN default, replaced by values set along the path (top down)
    as each setting's direction allows; a value set at a level that may not hold it is ignored."""
    values: dict[str, Json] = {
        name: {"value": default, "source": "bpmn"} for name, default in declared(process).items()
    }
    for row in rows:
        for name, value in row["values"].items():
            rule = authority(process, name)
            if name not in values or rule is None or not rule.allows(row["level"]):
                continue
            current = values[name]
            if current["source"] == "bpmn" or rule.stricter(value, current["value"]):
                values[name] = {"value": value, "source": _source(row)}
    return values


async def in_force(conn: AsyncConnection, definition: Definition, division_path: str) -> Json:
    """The values a case at this place takes: the strictest set along its path, else the BPMN default."""
    effective = _effective(definition.config.process, await _rows_for(conn, definition.key, division_path))
    return {name: entry["value"] for name, entry in effective.items()}


async def _division(conn: AsyncConnection, division_code: str | None) -> Json | None:
    if division_code is None:
        return None
    division = await division_service.get(conn, division_code)
    if division is None:
        raise Invalid("unknown_division", f"division {division_code!r} does not exist")
    return division


async def view(conn: AsyncConnection, definition: Definition, division_code: str | None) -> Json:
    """Each setting's value in force at a place (or country-wide), where it comes from (the place that
    set it, ``country`` or ``bpmn``), its range and authority, and the place's own stored value."""
    division = await _division(conn, division_code)
    rows = await _rows_for(conn, definition.key, division["path"] if division else "/")
    if division is None:
        rows = [r for r in rows if r["division_code"] is None]
    own: Json = next((r["values"] for r in rows if r["division_code"] == division_code), {})
    process = definition.config.process
    values = _effective(process, rows)
    for name, entry in values.items():
        bounds = _range(process, name)
        rule = authority(process, name)
        entry.update(
            {
                "range": list(bounds) if bounds else None,
                "authority": rule.as_dict() if rule else None,
                "own": own.get(name),
            }
        )
    return {
        "program": definition.key,
        "division_code": division_code,
        "owner_department": owner_department(process),
        "settings": values,
    }


def _check_authority(principal: Principal, definition: Definition, division: Json | None) -> None:
    """The program's own department at that very place (a county's civil affairs office for its
    county), or an administrator; nobody else, whatever else their grants cover."""
    if principal.is_admin:
        return
    if division is None:
        raise Forbidden("not_allowed", "only an administrator sets country-wide values")
    here = [
        g
        for g in principal.grants
        if g.division_path
        and division["path"].startswith(g.division_path)
        and division_service.role_level(g.role) == division["level"]
    ]
    if not here:
        raise Forbidden("not_allowed", "only that place's own office or an administrator may set its values")
    department = owner_department(definition.config.process)
    if not any(division_service.role_department(g.role) == department for g in here):
        raise Forbidden(
            "not_program_department",
            f"{definition.key} settings are set by the {department} office of a place (or an administrator)",
            owner_department=department,
        )


def _check_hierarchy(process: ProcessConfig, division: Json | None, above: list[Json], values: Json) -> None:
    """Each value may be held at this level, and is no less strict than any value set above."""
    level = division["level"] if division else None
    for name, value in values.items():
        rule = authority(process, name)
        if rule is None or not rule.allows(level):
            raise Forbidden(
                "setting_level_not_allowed",
                f"setting {name!r} is set at the "
                f"{rule.level if rule else COUNTRY} level or above, not at a {level}",
                setting=name,
                lowest_level=rule.level if rule else COUNTRY,
            )
        if rule.direction == "any":
            continue
        for row in above:
            bound = row["values"].get(name)
            if bound is None or not rule.allows(row["level"]) or not rule.stricter(bound, value):
                continue
            code, word = (
                ("setting_above_ceiling", "above the ceiling")
                if rule.direction == "ceiling"
                else ("setting_below_floor", "below the floor")
            )
            raise Invalid(
                code,
                f"setting {name!r} = {value:g} is {word} {bound:g} set at {_source(row)}; "
                "a lower place may only be stricter",
                setting=name,
                bound=bound,
                source=_source(row),
            )


async def _overruled_below(
    conn: AsyncConnection, process: ProcessConfig, program: str, division: Json | None, values: Json
) -> list[Json]:
    """Values set below this place that the new values now overrule (kept, not in force while so)."""
    rows = (
        await conn.execute(
            sa.select(program_settings, divisions.c.level)
            .select_from(
                program_settings.join(divisions, divisions.c.code == program_settings.c.division_code)
            )
            .where(program_settings.c.program == program)
        )
    ).mappings()
    found = []
    for row in rows:
        if division is not None and (
            row["division_path"] == division["path"] or not row["division_path"].startswith(division["path"])
        ):
            continue
        for name, value in row["values"].items():
            rule = authority(process, name)
            if (
                name in values
                and rule is not None
                and rule.direction != "any"
                and rule.stricter(values[name], value)
            ):
                found.append({"division_code": row["division_code"], "setting": name, "value": value})
    return sorted(found, key=lambda f: (f["division_code"], f["setting"]))


def subject(program: str, division_code: str | None, name: str = "") -> str:
    return f"setting:{program}/{division_code or COUNTRY}/{name}"


async def put(
    conn: AsyncConnection,
    principal: Principal,
    definition: Definition,
    division_code: str | None,
    body: SettingsIn,
) -> Json:
    """Replace a place's own values, within its authority; every changed value is audited."""
    process = definition.config.process
    division = await _division(conn, division_code)
    _check_authority(principal, definition, division)
    check_values(definition, body.values)
    rows = await _rows_for(conn, definition.key, division["path"] if division else "/")
    above = [r for r in rows if r["division_code"] != division_code and division is not None]
    _check_hierarchy(process, division, above, body.values)
    old: Json = next((r["values"] for r in rows if r["division_code"] == division_code), {})
    where = sa.and_(
        program_settings.c.program == definition.key,
        program_settings.c.division_code.is_(None)
        if division is None
        else program_settings.c.division_code == division_code,
    )
    await conn.execute(sa.delete(program_settings).where(where))
    if body.values:
        await conn.execute(
            sa.insert(program_settings).values(
                program=definition.key,
                division_code=division_code,
                division_path=division["path"] if division else None,
                values=body.values,
                set_by=principal.name,
                set_at=clock.now(),
            )
        )
    for name in sorted(set(old) | set(body.values)):
        before, after = old.get(name), body.values.get(name)
        if before == after and (name in old) == (name in body.values):
            continue
        verb = "set" if name not in old else "removed" if name not in body.values else "changed"
        await audit.record_change(
            conn,
            principal.name,
            f"setting.{verb}",
            subject(definition.key, division_code, name),
            {"value": before} if name in old else None,
            {"value": after} if name in body.values else None,
            division_code,
        )
    result = await view(conn, definition, division_code)
    result["overruled_below"] = await _overruled_below(conn, process, definition.key, division, body.values)
    return result


async def history(
    conn: AsyncConnection,
    definition: Definition,
    division_code: str | None,
    before_id: int | None,
    limit: int,
) -> list[Json]:
    """Changes of the values that shape what is in force at a place: its own and its ancestors'
    (country-wide included), newest first."""
    division = await _division(conn, division_code)
    codes = [COUNTRY] + (division["path"].strip("/").split("/") if division else [])
    return await audit.changes(
        conn, subject_prefixes=[subject(definition.key, c) for c in codes], before_id=before_id, limit=limit
    )
