"""Reading a parsed process's properties into its configuration, with every problem found."""

import difflib
from typing import Any, TypeVar

import structlog
from pydantic import ValidationError
from pydantic.fields import FieldInfo

from app import engine
from app.domain.programs.config.elements import (
    BY_TAG,
    CatchEventConfig,
    DefinitionConfig,
    EndEventConfig,
    MessageConfig,
    StepConfig,
)
from app.domain.programs.config.process import ProcessConfig
from app.domain.programs.config.values import PropertyModel

# The config model of one kind of element
Config = TypeVar("Config", bound=PropertyModel)

log = structlog.get_logger(__name__)


def _grouped(cls: type[PropertyModel], properties: dict[str, str]) -> dict[str, Any]:
    families = cls.families()
    data: dict[str, Any] = {}
    for name, value in properties.items():
        prefix = next((p for p in families if name.startswith(p) and len(name) > len(p)), None)
        if prefix is None:
            data[name] = value
        else:
            data.setdefault(families[prefix], {})[name[len(prefix) :]] = value
    return data


def _property_name(cls: type[PropertyModel], loc: tuple[str | int, ...]) -> str:
    prefixes = {alias: prefix for prefix, alias in cls.families().items()}
    if loc and loc[0] in prefixes and len(loc) > 1:
        return f"{prefixes[loc[0]]}{loc[1]}"
    return str(loc[0]) if loc else ""


def _field_of(cls: type[PropertyModel], name: str) -> FieldInfo | None:
    for field_name, f in cls.model_fields.items():
        if name in (field_name, f.alias):
            return f
    family = next((alias for prefix, alias in cls.families().items() if name.startswith(prefix)), None)
    return _field_of(cls, family) if family else None


def _known_names(cls: type[PropertyModel]) -> list[str]:
    return [f.alias or name for name, f in cls.model_fields.items()]


def _validate(
    cls: type[Config], element_id: str, tag: str, line: int | None, properties: dict[str, str]
) -> tuple[Config, list[dict[str, Any]]]:
    """The element's config, and a problem per unknown or malformed property (those are left out)."""
    try:
        return cls.model_validate(_grouped(cls, properties)), []
    except ValidationError as exc:
        errors = exc.errors()
    problems: list[dict[str, Any]] = []
    bad: set[str] = set()
    for error in errors:
        name = _property_name(cls, tuple(error["loc"]))
        if name in bad:
            continue
        bad.add(name)
        if error["type"] == "extra_forbidden":
            close = difflib.get_close_matches(name, _known_names(cls), n=1)
            problems.append(
                {
                    "line": line,
                    "element_id": element_id,
                    "code": "unknown_property",
                    "property": name,
                    "message": f"{tag} {element_id!r} has no property {name!r}"
                    + (f" (did you mean {close[0]!r}?)" if close else "")
                    + "; see docs/bpmn-properties.md",
                }
            )
            continue
        f = _field_of(cls, name)
        extra = f.json_schema_extra if f is not None and isinstance(f.json_schema_extra, dict) else {}
        reason = str(error["msg"]).removeprefix("Value error, ")
        problems.append(
            {
                "line": line,
                "element_id": element_id,
                "code": extra.get("problem_code", "invalid_property"),
                "property": name,
                "message": f"{tag} {element_id!r}: property {name}={properties.get(name)!r}: {reason}",
            }
        )
    kept = {name: value for name, value in properties.items() if name not in bad}
    try:
        return cls.model_validate(_grouped(cls, kept)), problems
    except ValidationError:  # a check across properties; nothing of the element is kept
        return cls(), problems


def read(model: engine.ProcessModel) -> tuple[DefinitionConfig, list[dict[str, Any]]]:
    """The configuration of a parsed process, and every problem with its properties (each with
    ``line``, ``element_id``, ``code``, ``property`` and ``message``)."""
    problems: list[dict[str, Any]] = []
    lines, tags = model.element_lines, model.element_tags

    def check(
        cls: type[Config], element_id: str, tag: str, line: int | None, properties: dict[str, str]
    ) -> Config:
        config, found = _validate(cls, element_id, tag, line, properties)
        problems.extend(found)
        return config

    process = check(ProcessConfig, model.key, "process", lines.get(model.key), model.properties)
    steps: dict[str, StepConfig] = {}
    ends: dict[str, EndEventConfig] = {}
    catches: dict[str, CatchEventConfig] = {}
    for element_id, properties in model.element_properties.items():
        tag = tags.get(element_id, "element")
        if element_id == model.key:
            continue
        cls = BY_TAG.get(tag)
        if cls is None or cls is MessageConfig or cls is ProcessConfig:
            for name in properties:
                problems.append(
                    {
                        "line": lines.get(element_id),
                        "element_id": element_id,
                        "code": "unknown_property",
                        "property": name,
                        "message": f"{tag} {element_id!r} takes no properties (has {name!r}); "
                        "see docs/bpmn-properties.md",
                    }
                )
            continue
        config = check(cls, element_id, tag, lines.get(element_id), properties)
        if isinstance(config, StepConfig):
            steps[element_id] = config
        elif isinstance(config, EndEventConfig):
            ends[element_id] = config
        elif isinstance(config, CatchEventConfig):
            catches[element_id] = config
    for message_id, (_, line, properties) in model.message_declarations.items():
        check(MessageConfig, message_id, "message", line, properties)
    messages: dict[str, MessageConfig] = {}
    for name, properties in model.message_properties.items():
        # the message's own properties and those of the events catching it, as the engine merged them
        known = {k: v for k, v in properties.items() if k in MessageConfig.model_fields}
        messages[name] = _validate(MessageConfig, name, "message", None, known)[0]
    for step_id in model.steps:  # a step with no properties at all
        steps.setdefault(step_id, StepConfig())
    for element_id in model.end_events:
        ends.setdefault(element_id, EndEventConfig())
    definition_config = DefinitionConfig(
        process=process, steps=steps, end_events=ends, catch_events=catches, messages=messages
    )
    return definition_config, problems


def parse(model: engine.ProcessModel, *, stored: bool = False) -> DefinitionConfig:
    """The configuration of a process; ``engine.BpmnError`` with every problem. A ``stored`` version
    (deployed before a property was checked) loads without the properties it would now be refused
    for, as if they were not declared, and says so in the log."""
    config, problems = read(model)
    if problems and not stored:
        raise engine.BpmnError(problems)
    for problem in problems:
        log.warning("stored_definition_property_ignored", process=model.key, **problem)
    return config
