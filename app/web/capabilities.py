"""Which reviewer actions and inbox tabs the UI offers: the one place that knows.

通过/不通过 (complete with the form's decision) and 认领 exist everywhere. The reviewer actions
(退回, 转办, 委派, 加签, 抄送, 催办, 撤回) come with the reviewer-actions issue; each shows as a button only
when its domain function and body model exist, so the pages degrade to complete/claim without them.
The names below are those of that issue's modules (``task_actions``, ``task_people``, ``signers``).
"""

import importlib

from app.domain.tasks import worklist as tasks

# action key → Chinese name, domain module and function, body model (module, class) or None, the
# fields it asks for, and when it is offered: "holder" (open task I hold), "other" (an open task I
# may see but do not hold: 催办), "completed" (a step I completed: 撤回), "delegated" (my opinion is
# asked for: 委派), "signer" (my signature or vote is due: 加签, 会签).
REVIEWER_ACTIONS = {
    "return": (
        "退回",
        "app.domain.tasks.actions",
        "return_to",
        ("app.domain.tasks.actions", "ReturnIn"),
        ("to", "reason"),
        "holder",
    ),
    "transfer": (
        "转办",
        "app.domain.tasks.people",
        "transfer",
        ("app.domain.tasks.people", "TransferIn"),
        ("username", "reason"),
        "holder",
    ),
    "delegate": (
        "委派",
        "app.domain.tasks.people",
        "delegate",
        ("app.domain.tasks.people", "DelegateIn"),
        ("username", "note"),
        "holder",
    ),
    "signers": (
        "加签",
        "app.domain.tasks.signing",
        "add_signers",
        ("app.domain.tasks.signers", "SignersIn"),
        ("usernames", "position", "note"),
        "holder",
    ),
    "cc": (
        "抄送",
        "app.domain.tasks.people",
        "copy",
        ("app.domain.tasks.people", "CopyIn"),
        ("usernames", "note"),
        "holder",
    ),
    "urge": (
        "催办",
        "app.domain.tasks.people",
        "urge",
        ("app.domain.tasks.people", "UrgeIn"),
        ("note",),
        "other",
    ),
    "withdraw": ("撤回", "app.domain.tasks.actions", "withdraw", None, (), "completed"),
    "resolve": (
        "提交意见",
        "app.domain.tasks.people",
        "resolve",
        ("app.domain.tasks.people", "OpinionIn"),
        ("opinion",),
        "delegated",
    ),
    "sign": (
        "签署意见",
        "app.domain.tasks.signing",
        "sign",
        ("app.domain.tasks.signers", "SignIn"),
        ("decision", "opinion"),
        "signer",
    ),
}
FIELD_LABELS = {
    "to": "退回到环节",
    "reason": "理由",
    "username": "选择人员",
    "note": "说明",
    "usernames": "选择人员（可多选）",
    "position": "加签位置",
    "opinion": "意见",
    "decision": "结论",
}


def domain_attr(module: str, name: str):
    """A function or model of a domain module, or None when this build does not have it."""
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None


def resolve(action: str):
    """(function, body model or None) of an available action, else None."""
    spec = REVIEWER_ACTIONS.get(action)
    if spec is None:
        return None
    function = domain_attr(spec[1], spec[2])
    model = domain_attr(*spec[3]) if spec[3] else None
    if not callable(function) or (spec[3] and model is None):
        return None
    return function, model


def enabled_actions(*situations: str) -> list[dict]:
    """The available reviewer actions offered in these situations, in the order reviewers know them."""
    return [
        {"key": key, "label": spec[0], "fields": [(f, FIELD_LABELS[f]) for f in spec[4]]}
        for key, spec in REVIEWER_ACTIONS.items()
        if spec[5] in situations and resolve(key)
    ]


async def situations(conn, me, view: dict, can_act: bool) -> list[str]:
    """Where the viewer stands with a task, for choosing the actions to offer."""
    found = []
    if view["state"] == "completed" and view.get("completed_by") == me.name:
        found.append("completed")
    if view["state"] != "open":
        return found
    if view.get("delegated_to") == me.name:
        found.append("delegated")
    rows_of = domain_attr("app.domain.tasks.signers", "rows_of")
    if rows_of is not None and any(
        r["username"] == me.name and r["state"] == "pending" for r in await rows_of(conn, view["id"])
    ):
        found.append("signer")
    if can_act and view["assignee"] == me.name and not view.get("delegated_to"):
        found.append("holder")
    elif view["assignee"] != me.name and not found:
        found.append("other")
    return found


def inbox_scopes() -> list[str]:
    """Inbox tabs in reviewers' order; a tab the domain lacks is an empty state (抄送我的 before the actions)."""
    return ["candidate", "mine", "done", "cc", "started", "all"]


def scope_supported(scope: str) -> bool:
    return scope in tasks.SCOPES
