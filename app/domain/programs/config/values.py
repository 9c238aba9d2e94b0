"""How one property's text becomes a value: the readers, the value types and the base of the models."""

import json
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from app import sandbox
from app.domain.people.divisions import LEVELS
from app.domain.timekeeping.deadlines import parse_time_limit

OUTCOMES = ("approved", "refused", "withdrawn", "terminated")
SUBJECT_EFFECTS = ("continue", "adjust", "gradual_exit", "terminate")
APPROVAL_MODES = ("all", "any", "sequence")
SEPARATION_MODES = ("none", "review", "strict")
SETTING_LEVELS = ("country", *LEVELS)
SETTING_DIRECTIONS = ("ceiling", "floor", "any")
DEFAULT_SENDERS = ("portal",)


def _text(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _items(value: Any) -> Any:
    """``a, b,`` → ("a", "b"): comma-separated, blanks around and empty items dropped."""
    if isinstance(value, str):
        return tuple(item.strip() for item in value.split(",") if item.strip())
    return value


def _named_items(value: Any) -> Any:
    """Like ``_items`` but an empty item (``a,,b``, or nothing at all) is an error: each names something."""
    if isinstance(value, str):
        items = tuple(item.strip() for item in value.split(","))
        if not all(items):
            raise ValueError("must name one or more, separated by commas, without empty items")
        return items
    return value


def _flag(value: Any) -> Any:
    if isinstance(value, str):
        if value.strip() not in ("true", "false"):
            raise ValueError("must be true or false")
        return value.strip() == "true"
    return value


def _time_limit(value: str) -> str:
    parse_time_limit(value)  # ValueError says what is wrong
    return value


def _expression(value: str) -> str:
    if not value.strip():
        raise ValueError("must be an expression")
    return value


def _json_scalar(value: Any) -> Any:
    """A setting's default: a JSON number or boolean, else the text itself."""
    if not isinstance(value, str):
        return value
    try:
        parsed = json.loads(value)
    except ValueError:
        return value
    if parsed is None or isinstance(parsed, (list, dict)):
        raise ValueError("must be a number, true/false or a text")
    return parsed


def _range(value: Any) -> Any:
    if isinstance(value, str):
        low, sep, high = value.partition("..")
        if not sep:
            raise ValueError("must be written min..max")
        try:
            return float(low), float(high)
        except ValueError:
            raise ValueError("must be written min..max with numbers") from None
    return value


def _authority(value: Any) -> Any:
    if isinstance(value, str):
        level, sep, direction = value.partition(":")
        if not sep:
            raise ValueError("must be written <level>:<direction>")
        return {"level": level.strip(), "direction": direction.strip()}
    return value


def _pairs(value: Any) -> Any:
    """``person_deceased:died_on, pupil_left:left_on`` → {message: payload field}."""
    if isinstance(value, str):
        found = {}
        for item in (i.strip() for i in value.split(",") if i.strip()):
            name, sep, field = item.partition(":")
            if not sep or not name.strip() or not field.strip():
                raise ValueError("must be written <message>:<date field>, separated by commas")
            found[name.strip()] = field.strip()
        return found
    return value


# What an item may accept, in words a program writes (``types=pdf/image``), and the content types they
# stand for (what app/domain/materials/files keeps: a HEIC photo is kept as JPEG).
MATERIAL_KINDS = {"pdf": ("application/pdf",), "image": ("image/jpeg", "image/png", "image/webp")}


class ChecklistItem(BaseModel):
    """One material a program asks for: its key (what uploads name), its label, whether it is
    required (always, or only ``when`` an expression over the case's data holds), which kinds of
    file it accepts and how many documents it needs (at least ``min_count``, at most ``max_count``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    label: str = Field(min_length=1, max_length=50)
    required: bool = True
    when: str | None = None
    types: tuple[Literal["pdf", "image"], ...] = ()
    min_count: int = Field(1, ge=1, le=100)
    max_count: int | None = Field(None, ge=1, le=100)

    def content_types(self) -> tuple[str, ...]:
        """The content types this item accepts (every accepted one when it names none)."""
        kinds: tuple[str, ...] = self.types or tuple(MATERIAL_KINDS)
        return tuple(t for kind in kinds for t in MATERIAL_KINDS[kind])


def split_outside_brackets(text: str, separator: str) -> list[str]:
    """``a, f(b, c), "d,e"`` → ["a", " f(b, c)", ' "d,e"']: an expression's commas stay in it."""
    parts, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == separator and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _count(value: str) -> dict[str, int | None]:
    low, sep, high = value.partition("..")
    try:
        if not sep:
            return {"min_count": int(low), "max_count": int(low)}
        least, most = int(low), int(high) if high.strip() else None
    except ValueError:
        raise ValueError(f"count must be N, N..M or N.. (not {value!r})") from None
    if most is not None and most < least:
        raise ValueError(f"count {value!r}: the most is below the least")
    return {"min_count": least, "max_count": most}


def _modifiers(parts: list[str]) -> dict[str, Any]:
    """``when=<expression>``, ``types=pdf/image``, ``count=2`` / ``1..3`` / ``1..``."""
    found: dict[str, Any] = {}
    for part in parts:
        name, sep, value = part.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not value or name in found:
            raise ValueError(f"{part.strip()!r}: a modifier is written name=value, each once")
        if name == "when":
            try:
                sandbox.compile_expression(value)
            except sandbox.ExpressionError as exc:
                raise ValueError(f"when={value!r} does not compile: {exc}") from None
            found["when"] = value
        elif name == "types":
            found["types"] = tuple(t.strip() for t in value.split("/") if t.strip())
        elif name == "count":
            found.update(_count(value))
        else:
            raise ValueError(f"unknown modifier {name!r} (when, types, count)")
    return found


def _checklist(value: Any) -> Any:
    """``hukou:户口簿, property:家庭财产申报?, invoice:票据; types=pdf/image; count=1..30`` → items;
    a label ending in ``?`` is not required; ``; when=<expression>`` makes it required only then."""
    if isinstance(value, str):
        found = []
        items = (i.strip() for i in split_outside_brackets(value.replace("，", ","), ","))
        for item in (i for i in items if i):
            head, *modifiers = split_outside_brackets(item, ";")
            key, sep, label = head.partition(":")
            label = label.strip()
            if not sep or not key.strip() or not label.rstrip("?？"):
                raise ValueError("must be written <key>:<label>, a label ending in ? when not required")
            found.append(
                {
                    "key": key.strip(),
                    "label": label.rstrip("?？").strip(),
                    "required": label[-1] not in "?？",
                    **_modifiers(modifiers),
                }
            )
        if len({i["key"] for i in found}) != len(found):
            raise ValueError("names a material twice")
        return tuple(found)
    return value


Text = Annotated[str, BeforeValidator(_text)]
Checklist = Annotated[tuple[ChecklistItem, ...], BeforeValidator(_checklist)]
Names = Annotated[tuple[str, ...], BeforeValidator(_items)]
NamedItems = Annotated[tuple[str, ...], BeforeValidator(_named_items)]
Flag = Annotated[bool, BeforeValidator(_flag)]
TimeLimit = Annotated[str, AfterValidator(_time_limit)]
# Literal[a tuple] gives pydantic the tuple's values, kept in one place; type checkers want literals
# written out, hence the valid-type ignores here and in elements.py.
Level = Literal[LEVELS]  # type: ignore[valid-type]
Levels = Annotated[tuple[Level, ...], BeforeValidator(_items)]
ProgramKey = Annotated[str, BeforeValidator(_text), Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$")]
Expression = Annotated[str, AfterValidator(_expression)]
SettingValue = Annotated[bool | int | float | str, BeforeValidator(_json_scalar)]
SettingRange = Annotated[tuple[float, float], BeforeValidator(_range)]


class SettingAuthority(BaseModel):
    """``<level>:<direction>`` of a setting."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    level: Literal[SETTING_LEVELS]  # type: ignore[valid-type]
    direction: Literal[SETTING_DIRECTIONS]  # type: ignore[valid-type]


def refused_as(code: str) -> dict[str, Any]:
    """The problem code a malformed value of this property is refused with (default ``invalid_property``)."""
    return {"problem_code": code}


def family(prefix: str, code: str = "invalid_property") -> dict[str, Any]:
    return {"family": prefix, "problem_code": code}


class PropertyModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @classmethod
    def families(cls) -> dict[str, str]:
        """Name prefix (``setting.``) → field alias, for the fields holding a family of names."""
        return {
            str(extra["family"]): f.alias or name
            for name, f in cls.model_fields.items()
            if isinstance(extra := f.json_schema_extra, dict) and "family" in extra
        }
