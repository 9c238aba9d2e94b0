"""What a program asks for (``materials`` on the process and on steps, app/domain/programs/config)
and what a case has of it: the checklist the acceptance step checks, and the missing items that
become the one-time notice (一次性告知). Signatures a step requires (``signatures``) are items too,
under ``signature.<key>`` (app/domain/materials/signatures)."""

from collections.abc import Iterable, Mapping
from typing import Any

from app import sandbox
from app.domain.errors import Conflict, Invalid
from app.domain.programs.config import DefinitionConfig
from app.domain.programs.config.values import ChecklistItem

OTHER = ChecklistItem(key="other", label="其他材料", required=False)
SIGNATURE_PREFIX = "signature."
_KIND_WORDS = {"pdf": "PDF", "image": "图片（JPG、PNG、WebP、HEIC）"}


def declared(config: DefinitionConfig) -> dict[str, tuple[ChecklistItem, str | None]]:
    """Key → (item, the step that adds it, or None for the program's own), in the file's order."""
    found: dict[str, tuple[ChecklistItem, str | None]] = {i.key: (i, None) for i in config.process.materials}
    for step, step_config in config.steps.items():
        for item in step_config.materials:
            found.setdefault(item.key, (item, step))
    return found


def signature_items(config: DefinitionConfig) -> dict[str, tuple[ChecklistItem, str]]:
    """``signature.<key>`` → (item, its step): what a signed scan or a drawn signature is filed under."""
    return {
        SIGNATURE_PREFIX + item.key: (item, step)
        for step, step_config in config.steps.items()
        for item in step_config.signatures
    }


def item_of(config: DefinitionConfig, key: str) -> ChecklistItem | None:
    if key in (signed := signature_items(config)):
        return signed[key][0]
    found = declared(config).get(key)
    return found[0] if found else None


def check_key(config: DefinitionConfig, key: str) -> None:
    """A program that declares its materials takes only those keys (and ``other``), and the
    signature keys of its steps; one that declares none takes any well-formed key."""
    items = declared(config)
    signed = signature_items(config)
    if key in signed:
        return
    if items and key not in items and key != OTHER.key:
        raise Invalid(
            "unknown_checklist_key",
            f"该业务的材料清单中没有“{key}”，请选择清单中的材料或“其他材料”",
            accepted=[*items, OTHER.key, *signed],
        )


def check_kind(item: ChecklistItem | None, content_type: str) -> None:
    """An item that names the kinds it accepts (``types=pdf``) refuses the others."""
    if item is not None and content_type not in item.content_types():
        words = "、".join(_KIND_WORDS[k] for k in item.types)
        raise Invalid(
            "type_not_accepted_for_item",
            f"“{item.label}”只接受{words}",
            accepted=list(item.content_types()),
        )


def check_room(item: ChecklistItem | None, present: int) -> None:
    """An item with ``count=..N`` takes no more than N documents."""
    if item is not None and item.max_count is not None and present >= item.max_count:
        raise Conflict(
            "checklist_item_full",
            f"“{item.label}”最多 {item.max_count} 份，已经齐了",
            max_count=item.max_count,
        )


def required_now(item: ChecklistItem, data: Mapping[str, Any]) -> bool:
    """Required, and its ``when`` (if any) holds over ``data``; a ``when`` that cannot be read over
    this data (a field the case does not have) does not make the item required."""
    if not item.required:
        return False
    if item.when is None:
        return True
    try:
        return bool(sandbox.evaluate(item.when, dict(data)))
    except (sandbox.ExpressionError, sandbox.LimitExceeded, NameError, LookupError, TypeError, ValueError):
        return False


def entry(item: ChecklistItem, count: int, data: Mapping[str, Any]) -> dict[str, Any]:
    required = required_now(item, data)
    return {
        "key": item.key,
        "label": item.label,
        "required": required,
        "count": count,
        "min_count": item.min_count,
        "max_count": item.max_count,
        "types": list(item.types),
        "missing": required and count < item.min_count,
    }


def status(
    config: DefinitionConfig,
    present: Iterable[str],
    steps_reached: Iterable[str],
    data: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The checklist of a case: the program's items and those of the steps it has reached, each
    with how many documents it has and whether a required one (now, by its ``when`` over the case's
    data) is missing or short of its count."""
    counts: dict[str, int] = {}
    for key in present:
        counts[key] = counts.get(key, 0) + 1
    reached = set(steps_reached)
    items = [item for item, step in declared(config).values() if step is None or step in reached]
    if counts.get(OTHER.key):
        items.append(OTHER)
    return [entry(item, counts.get(item.key, 0), data or {}) for item in items]


def choices(config: DefinitionConfig) -> list[dict[str, str]]:
    """What an upload may name for this program ([] when it declares nothing: any key)."""
    items = [item for item, _ in declared(config).values()]
    return [{"key": i.key, "label": i.label} for i in (*items, OTHER)] if items else []
