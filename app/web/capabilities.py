"""Which reviewer actions the task page offers: the one place to switch an action on.

通过/不通过 (complete with the form's decision) and 认领 exist in the domain now. The actions of
the reviewer-actions issue (退回, 转办, 委派, 加签, 抄送, 催办, 撤回) are built on another branch;
each shows as a button only when the domain module has its function, so the page degrades to
complete/claim until they land. At merge, wire each action's POST handler in ``routes/task.py``
(``ACTION_FORMS`` lists the fields each one asks for).
"""

from app.domain import tasks

# action key → (Chinese name, domain function in app.domain.tasks, fields the action asks for)
REVIEWER_ACTIONS = {
    "return": ("退回", "return_task", ("to", "reason")),
    "transfer": ("转办", "transfer", ("username", "reason")),
    "delegate": ("委派", "delegate", ("username", "note")),
    "signers": ("加签", "add_signers", ("usernames", "position", "note")),
    "cc": ("抄送", "copy", ("usernames", "note")),
    "urge": ("催办", "urge", ("note",)),
    "withdraw": ("撤回", "withdraw", ()),
}
FIELD_LABELS = {"to": "退回到环节", "reason": "理由", "username": "办理人用户名", "note": "说明",
                "usernames": "用户名（多个用逗号分隔）", "position": "加签位置"}


def enabled_actions() -> list[dict]:
    """The reviewer actions whose domain function exists, in the order reviewers know them."""
    return [{"key": key, "label": label, "fields": [(f, FIELD_LABELS[f]) for f in fields]}
            for key, (label, function, fields) in REVIEWER_ACTIONS.items() if callable(getattr(tasks, function, None))]


def inbox_scopes() -> list[str]:
    """Inbox tabs in reviewers' order; 抄送我的 and 我发起的 are empty states until the domain has them."""
    return ["candidate", "mine", "done", "cc", "started", "all"]


def scope_supported(scope: str) -> bool:
    return scope in tasks.SCOPES
