"""The bounded evaluator for BPMN code: nothing in an uploaded file runs as plain Python.

SpiffWorkflow evaluates gateway conditions, timer expressions, DMN entries and script tasks
with plain ``eval``/``exec``.  Here every source is compiled with RestrictedPython (no names
or attributes starting with ``_``, so no ``__import__``, ``__class__`` or ``__subclasses__``
walks) plus this module's own rules, and runs with a small set of builtins.

Two kinds of code, two kinds of bound:

* **Expressions** (conditions, timers, DMN, ``benefit_*`` properties) run in the service's own
  process, on the completion path, so they must be cheap *and* bounded without a timer: only a
  whitelist of node types (no comprehensions, lambdas, f-strings or ``:=``, so no loops), at most
  ``MAX_EXPRESSION_NODES`` nodes, a few safe methods, and every operation that can make a big
  value (``*``, ``**``, ``<<``, ``+``, ``%``, ``str()``) checks its operands' sizes *before* it
  runs — a C-level ``10 ** 10 ** 8`` or ``"a" * 10 ** 9`` cannot be interrupted once started.
  Each operation is then bounded by ``MAX_SIZE``/``MAX_INT_BITS`` and their count by the node cap.
* **Scripts** (script tasks, pre/post scripts) may loop, so they never run here: ``app.script_pool``
  sends them to worker processes with CPU and memory rlimits and a wall-clock kill
  (``app.script_worker`` calls ``execute`` below).  They get the same operand checks, which turn
  an accidental bomb into a clear message instead of a killed worker.

This module imports no SpiffWorkflow and nothing of the service but its guards (``app.sandbox_guards``).
"""

import ast
from dataclasses import dataclass
from functools import lru_cache
from types import CodeType
from typing import Any

from RestrictedPython.compile import compile_restricted_eval, compile_restricted_exec

from app.sandbox_guards import (
    BUILTINS,
    GUARDS,
    MAX_EXPONENT,
    MAX_EXPRESSION_NODES,
    MAX_INT_LITERAL,
    MAX_SIZE,
    ExpressionError,
    LimitExceeded,
    RestrictingPolicy,
)

# What the engine, the domain and the script worker use of the sandbox, the two errors included.
__all__ = [
    "ExpressionError",
    "LimitExceeded",
    "ScriptResult",
    "compile_expression",
    "compile_script",
    "evaluate",
    "execute",
    "is_internal",
    "namespace",
]

_FORBIDDEN = (
    ast.Import,
    ast.ImportFrom,
    ast.Global,
    ast.Nonlocal,
    ast.ClassDef,
    ast.AsyncFunctionDef,
    ast.Await,
    ast.Yield,
    ast.YieldFrom,
    ast.Try,
    ast.With,
    ast.AsyncWith,
)

# What an expression may be made of: no comprehension, lambda, f-string or ``:=``, so it has no loop.
_EXPRESSION_NODES = (
    ast.Expression,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.BinOp,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.FloorDiv,
    ast.Mod,
    ast.Pow,
    ast.LShift,
    ast.RShift,
    ast.BitOr,
    ast.BitXor,
    ast.BitAnd,
    ast.UnaryOp,
    ast.Not,
    ast.USub,
    ast.UAdd,
    ast.Invert,
    ast.IfExp,
    ast.Compare,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.Is,
    ast.IsNot,
    ast.In,
    ast.NotIn,
    ast.Call,
    ast.keyword,
    ast.Constant,
    ast.Name,
    ast.Load,
    ast.Attribute,
    ast.Subscript,
    ast.Slice,
    ast.List,
    ast.Tuple,
    ast.Dict,
    ast.Set,
)
# Methods an expression may call: none makes a value much bigger than its input
# (no join, replace, center, ljust, zfill, format, expandtabs).
EXPRESSION_METHODS = frozenset(
    {
        "get",
        "keys",
        "values",
        "items",
        "startswith",
        "endswith",
        "lower",
        "upper",
        "strip",
        "lstrip",
        "rstrip",
        "split",
        "count",
        "index",
        "find",
        "isdigit",
    }
)


def _where(node: ast.AST) -> str:
    return f"line {getattr(node, 'lineno', 1)}"


def _check_common(tree: ast.AST) -> None:
    for node in ast.walk(tree):
        if isinstance(node, _FORBIDDEN):
            raise ExpressionError(
                f"{_where(node)}: {type(node).__name__.lower()} is not allowed in BPMN code"
            )
        # A constant exponent keeps powers readable; the operand check bounds what remains.
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            exponent = node.right
            if not (
                isinstance(exponent, ast.Constant)
                and isinstance(exponent.value, int | float)
                and abs(exponent.value) <= MAX_EXPONENT
            ):
                raise ExpressionError(
                    f"{_where(node)}: '**' needs a constant exponent of at most {MAX_EXPONENT}"
                )
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, int)
            and abs(node.value) > MAX_INT_LITERAL
        ):
            raise ExpressionError(f"{_where(node)}: number literal too large")
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str | bytes)
            and len(node.value) > MAX_SIZE
        ):
            raise ExpressionError(f"{_where(node)}: text literal too long")


def _check_expression(tree: ast.Expression) -> None:
    nodes = list(ast.walk(tree))
    if len(nodes) > MAX_EXPRESSION_NODES:
        raise ExpressionError(
            f"expression too long ({len(nodes)} parts, at most {MAX_EXPRESSION_NODES}); "
            "use a script task for longer computations"
        )
    for node in nodes:
        if not isinstance(node, _EXPRESSION_NODES):
            raise ExpressionError(f"{_where(node)}: {type(node).__name__} is not allowed in an expression")
        if isinstance(node, ast.Attribute) and node.attr not in EXPRESSION_METHODS:
            raise ExpressionError(
                f"{_where(node)}: .{node.attr} is not available in an expression "
                f"(available: {', '.join(sorted(EXPRESSION_METHODS))})"
            )
        if isinstance(node, ast.Call) and not isinstance(node.func, ast.Name | ast.Attribute):
            raise ExpressionError(f"{_where(node)}: only named functions may be called")


def _never_ends(loop: ast.While) -> bool:
    """``while True:`` (or any constant true test) with no ``break`` of its own."""
    if not (isinstance(loop.test, ast.Constant) and loop.test.value):
        return False
    pending: list[ast.AST] = list(loop.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Break):
            return False
        if not isinstance(
            node, ast.While | ast.For | ast.FunctionDef | ast.Lambda
        ):  # their breaks are theirs
            pending.extend(ast.iter_child_nodes(node))
    return True


def _check_script(tree: ast.Module) -> None:
    for node in ast.walk(tree):
        if isinstance(node, ast.While) and _never_ends(node):
            raise ExpressionError(f"{_where(node)}: this loop never ends (a constant condition and no break)")


# Longer than any script a procedure needs; Python's parser recurses per operator, so a huge
# source ("1+1+…" thirty thousand times) exhausts the stack or memory before any node cap applies.
MAX_SOURCE_CHARS = 50_000


def _compile(source: str, mode: str) -> CodeType:
    if len(source) > MAX_SOURCE_CHARS:
        raise ExpressionError(
            f"the code is {len(source)} characters long; at most {MAX_SOURCE_CHARS} are allowed"
        )
    try:
        tree = ast.parse(source, mode=mode)
    except SyntaxError as exc:
        raise ExpressionError(f"line {exc.lineno}: {exc.msg}") from None
    except (RecursionError, MemoryError):
        raise ExpressionError(
            "the code is nested too deeply to be read: split it into simpler steps"
        ) from None
    _check_common(tree)
    if isinstance(tree, ast.Expression):
        _check_expression(tree)
    elif isinstance(tree, ast.Module):
        _check_script(tree)
    result = (compile_restricted_eval if mode == "eval" else compile_restricted_exec)(
        source, "<bpmn>", policy=RestrictingPolicy
    )
    if result.errors or result.code is None:
        raise ExpressionError("; ".join(result.errors))
    return result.code


@lru_cache(maxsize=2048)
def compile_expression(source: str) -> CodeType:
    return _compile(source.strip(), "eval")


@lru_cache(maxsize=512)
def compile_script(source: str) -> CodeType:
    return _compile(source, "exec")


def namespace(values: dict[str, Any]) -> dict[str, Any]:
    return {"__builtins__": BUILTINS, **GUARDS, **values}


def evaluate(source: str, values: dict[str, Any]) -> Any:
    """The value of an expression over ``values`` (the case's data and the service's functions).
    Bounded by construction: no loops, at most ``MAX_EXPRESSION_NODES`` operations, each bounded."""
    code = compile_expression(source)
    try:
        return eval(code, namespace(values))
    except (MemoryError, RecursionError) as exc:
        raise LimitExceeded(f"{type(exc).__name__}") from None


def is_internal(name: str) -> bool:
    """Names the sandbox itself puts into a script's namespace."""
    return name == "__builtins__" or name in GUARDS


@dataclass
class ScriptResult:
    # Names the script created or changed, with their new values.
    changed: dict[str, Any]


def execute(source: str, values: dict[str, Any], before: dict[str, Any]) -> ScriptResult:
    """Run a script over ``values``; only ``app.script_worker`` calls this, inside its rlimits.
    ``before`` is an untouched copy of ``values``, to tell what the script changed in place."""
    code = compile_script(source)
    names = namespace(values)
    exec(code, names)
    changed = {
        key: value
        for key, value in names.items()
        if not (is_internal(key) or callable(value)) and (key not in before or before[key] != value)
    }
    return ScriptResult(changed)
