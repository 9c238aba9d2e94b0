"""Program settings (limits, ratios, fund multiples) per division subtree.

A process declares each setting with its national default as a property
``setting.<name>`` (and optionally ``setting_range.<name>`` = ``min..max``). A province,
city or county may override a value for its subtree without a new BPMN; the nearest
place wins. The values in force are frozen on each case when it starts, and BPMN
expressions read them as ``settings["<name>"]``.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock, engine
from app.db.models import program_settings
from app.domain import divisions as division_service
from app.domain.errors import Forbidden, Invalid
from app.domain.principal import Principal

if TYPE_CHECKING:  # definitions checks declarations with this module
    from app.domain.definitions import Definition

PREFIX = "setting."
RANGE_PREFIX = "setting_range."


class SettingsIn(BaseModel):
    values: dict[str, float | int | bool | str] = Field(max_length=50)


def declared(model: engine.ProcessModel) -> dict[str, object]:
    """Name → default, from the process's ``setting.*`` properties (JSON values; text otherwise)."""
    found = {}
    for name, raw in model.properties.items():
        if name.startswith(PREFIX):
            try:
                found[name[len(PREFIX):]] = json.loads(raw)
            except ValueError:
                found[name[len(PREFIX):]] = raw
    return found


def _range(model: engine.ProcessModel, name: str) -> tuple[float, float] | None:
    raw = model.properties.get(RANGE_PREFIX + name)
    if not raw or ".." not in raw:
        return None
    low, high = raw.split("..", 1)
    return float(low), float(high)


def declaration_problems(model: engine.ProcessModel) -> list[str]:
    problems = []
    for name, default in declared(model).items():
        bounds = _range(model, name) if (RANGE_PREFIX + name) in model.properties else None
        if (RANGE_PREFIX + name) in model.properties and bounds is None:
            problems.append(f"setting_range.{name} must be written min..max")
        if bounds is not None and isinstance(default, (int, float)) and not bounds[0] <= default <= bounds[1]:
            problems.append(f"default of setting {name!r} ({default}) is outside {bounds[0]}..{bounds[1]}")
    return problems


def check_values(model: engine.ProcessModel, values: dict) -> None:
    defaults = declared(model)
    for name, value in values.items():
        if name not in defaults:
            raise Invalid("unknown_setting", f"{model.key} has no setting {name!r}", known=sorted(defaults))
        default = defaults[name]
        numeric = isinstance(default, (int, float)) and not isinstance(default, bool)
        if numeric != (isinstance(value, (int, float)) and not isinstance(value, bool)) or (
                isinstance(default, bool) != isinstance(value, bool)):
            raise Invalid("invalid_setting", f"setting {name!r} must be of the same kind as its default {default!r}")
        if numeric:
            if not math.isfinite(value) or value < 0:
                raise Invalid("invalid_setting", f"setting {name!r} must be a finite number ≥ 0")
            bounds = _range(model, name)
            if bounds is not None and not bounds[0] <= value <= bounds[1]:
                raise Invalid("invalid_setting", f"setting {name!r} must be within {bounds[0]:g}..{bounds[1]:g}")


async def _rows_for(conn: AsyncConnection, program: str, division_path: str) -> list[dict]:
    rows = (await conn.execute(sa.select(program_settings).where(program_settings.c.program == program))).mappings()
    # Country-wide row first, then from the province down to the place itself.
    matching = [dict(r) for r in rows if r["division_path"] is None or division_path.startswith(r["division_path"])]
    return sorted(matching, key=lambda r: len(r["division_path"] or ""))


async def in_force(conn: AsyncConnection, definition: Definition, division_path: str) -> dict:
    """The values a case at this place takes: BPMN defaults, overridden from the country down."""
    values = declared(definition.model)
    for row in await _rows_for(conn, definition.key, division_path):
        values.update({k: v for k, v in row["values"].items() if k in values})
    return values


async def view(conn: AsyncConnection, definition: Definition, division_code: str | None) -> dict:
    path = "/"
    if division_code is not None:
        division = await division_service.get(conn, division_code)
        if division is None:
            raise Invalid("unknown_division", f"division {division_code!r} does not exist")
        path = division["path"]
    defaults = declared(definition.model)
    values = {name: {"value": default, "source": "bpmn"} for name, default in defaults.items()}
    rows = await _rows_for(conn, definition.key, path) if division_code else [
        r for r in await _rows_for(conn, definition.key, "/") if r["division_code"] is None]
    for row in rows:
        for name, value in row["values"].items():
            if name in values:
                values[name] = {"value": value, "source": row["division_code"] or "country"}
    for name in values:
        bounds = _range(definition.model, name)
        values[name]["range"] = list(bounds) if bounds else None
    return {"program": definition.key, "division_code": division_code, "settings": values}


def _may_set(principal: Principal, division: dict | None) -> bool:
    if principal.is_admin:
        return True
    # The office of a place sets its own subtree's values (a county its delegated limit).
    return division is not None and any(
        g.division_path and division["path"].startswith(g.division_path)
        and division_service.role_level(g.role) == division["level"] for g in principal.grants)


async def put(conn: AsyncConnection, principal: Principal, definition: Definition, division_code: str | None,
              body: SettingsIn) -> dict:
    division = None
    if division_code is not None:
        division = await division_service.get(conn, division_code)
        if division is None:
            raise Invalid("unknown_division", f"division {division_code!r} does not exist")
    if not _may_set(principal, division):
        raise Forbidden("not_allowed", "only that place's own office or an administrator may set its values")
    check_values(definition.model, body.values)
    where = sa.and_(program_settings.c.program == definition.key,
                    program_settings.c.division_code.is_(None) if division is None
                    else program_settings.c.division_code == division_code)
    await conn.execute(sa.delete(program_settings).where(where))
    if body.values:
        await conn.execute(sa.insert(program_settings).values(
            program=definition.key, division_code=division_code, division_path=division["path"] if division else None,
            values=body.values, set_by=principal.name, set_at=clock.now()))
    return await view(conn, definition, division_code)
