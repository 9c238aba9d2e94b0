"""What a program asks for (``materials`` on the process and on steps, app/domain/programs/config)
and what a case has of it: the checklist the acceptance step checks, and the missing items that
become the one-time notice (一次性告知)."""

from collections.abc import Iterable
from typing import Any

from app.domain.errors import Invalid
from app.domain.programs.config import DefinitionConfig
from app.domain.programs.config.values import ChecklistItem

OTHER = ChecklistItem(key="other", label="其他材料", required=False)


def declared(config: DefinitionConfig) -> dict[str, tuple[ChecklistItem, str | None]]:
    """Key → (item, the step that adds it, or None for the program's own), in the file's order."""
    found: dict[str, tuple[ChecklistItem, str | None]] = {i.key: (i, None) for i in config.process.materials}
    for step, step_config in config.steps.items():
        for item in step_config.materials:
            found.setdefault(item.key, (item, step))
    return found


def check_key(config: DefinitionConfig, key: str) -> None:
    """A program that declares its materials takes only those keys (and ``other``); one that
    declares none takes any well-formed key."""
    items = declared(config)
    if items and key not in items and key != OTHER.key:
        raise Invalid(
            "unknown_checklist_key",
            f"该业务的材料清单中没有“{key}”，请选择清单中的材料或“其他材料”",
            accepted=[*items, OTHER.key],
        )


def status(
    config: DefinitionConfig, present: Iterable[str], steps_reached: Iterable[str]
) -> list[dict[str, Any]]:
    """The checklist of a case: the program's items and those of the steps it has reached, each
    with how many documents it has and whether a required one is missing."""
    counts: dict[str, int] = {}
    for key in present:
        counts[key] = counts.get(key, 0) + 1
    reached = set(steps_reached)
    items = [item for item, step in declared(config).values() if step is None or step in reached]
    if counts.get(OTHER.key):
        items.append(OTHER)
    return [
        {
            "key": item.key,
            "label": item.label,
            "required": item.required,
            "count": counts.get(item.key, 0),
            "missing": item.required and not counts.get(item.key),
        }
        for item in items
    ]


def choices(config: DefinitionConfig) -> list[dict[str, str]]:
    """What an upload may name for this program ([] when it declares nothing: any key)."""
    items = [item for item, _ in declared(config).values()]
    return [{"key": i.key, "label": i.label} for i in (*items, OTHER)] if items else []
