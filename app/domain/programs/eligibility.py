"""Eligibility rules checked when an application arrives, declared in the BPMN.

A process lists rules as properties ``rule.<name>`` = an expression that must hold, with the
message shown when it does not as ``rule_message.<name>`` (the users' words; ``{name}`` shows
the setting of that name). Expressions run in
``app.sandbox`` over the application's data, ``applicant``, ``settings`` and the functions
below; a rule that fails refuses the application with 422 ``not_eligible`` naming the rule.
"""

import re
from datetime import date
from typing import Any

from app import sandbox
from app.domain.errors import Invalid
from app.domain.programs.config.process import ProcessConfig
from app.domain.timekeeping import calendar

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def declaration_problems(process: ProcessConfig) -> list[str]:
    """Rules of a ``config.ProcessConfig`` that do not compile."""
    problems = []
    for name, source, _ in process.rule_list():
        try:
            sandbox.compile_expression(source)
        except sandbox.ExpressionError as exc:
            problems.append(f"rule {name!r}: {exc}")
    return problems


def birth_date(id_number: str) -> date:
    return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))


def sex(id_number: str) -> str:
    # GB 11643: the 17th character is odd for men, even for women.
    return "male" if int(id_number[16]) % 2 else "female"


def age_on(id_number: str, day: date) -> int:
    born = birth_date(id_number)
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def reaches_age_on(id_number: str, age: int) -> date:
    """The day the person is ``age`` years old (1 March for a 29 February birthday in a common year)."""
    born = birth_date(id_number)
    try:
        return born.replace(year=born.year + age)
    except ValueError:
        return date(born.year + age, 3, 1)


def functions(id_number: str) -> dict[str, Any]:
    today = calendar.today()

    def in_window(month: int, day: int, days: int) -> bool:
        """Today is within ``days`` days from month/day of this year (e.g. the autumn term start)."""
        start = date(today.year, int(month), int(day))
        return 0 <= (today - start).days < int(days)

    return {
        "age": lambda: age_on(id_number, today),
        # Age on 31 December of this year: who reaches an age during the year may apply from its start.
        "age_at_year_end": lambda: age_on(id_number, date(today.year, 12, 31)),
        "sex": lambda: sex(id_number),
        "born_on": lambda: birth_date(id_number).isoformat(),
        "today": today.isoformat,
        "month": lambda: today.month,
        "in_window": in_window,
    }


def check(
    process: ProcessConfig,
    data: dict[str, Any],
    applicant: dict[str, Any],
    settings: dict[str, Any],
    extra: dict[str, Any] | None = None,
) -> None:
    """Every ``rule.<name>`` of the process (``config.ProcessConfig``) holds, or 422 ``not_eligible``."""
    names = {
        **data,
        "applicant": applicant,
        "settings": settings,
        **functions(applicant["id_number"]),
        **(extra or {}),
    }
    for name, source, message in process.rule_list():
        try:
            holds = sandbox.evaluate(source, names)
        except sandbox.LimitExceeded as exc:
            raise Invalid(
                "script_limit_exceeded", f"rule {name!r} went beyond its limits: {exc}", rule=name
            ) from exc
        except sandbox.ExpressionError as exc:
            raise Invalid("data_invalid", f"rule {name!r} could not be checked: {exc}", rule=name) from exc
        if not holds:
            # "{window_days}" in a message shows the setting in force, so the message never goes stale.
            shown = _PLACEHOLDER.sub(lambda m: str(settings.get(m[1], m[0])), message)
            raise Invalid("not_eligible", f"not eligible: {shown}", rule=name, message=shown)
