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

This module imports no SpiffWorkflow and nothing of the service.
"""

import ast
import itertools
import operator
from dataclasses import dataclass
from functools import lru_cache

from RestrictedPython import RestrictingNodeTransformer, compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr,
)
from RestrictedPython.Limits import limited_range

MAX_EXPONENT = 64
MAX_INT_LITERAL = 10**15
# Every string, list, tuple or dict BPMN code builds holds at most this many characters/items
# (counted through nested containers), and every integer at most this many bits (~1,200 digits).
MAX_SIZE = 100_000
MAX_INT_BITS = 4096
# An expression is a few names and comparisons; the cap bounds how many bounded operations it does.
MAX_EXPRESSION_NODES = 400


class ExpressionError(Exception):
    """The source may not run here (forbidden construct, or it failed)."""


class LimitExceeded(ExpressionError):
    """The code tried to go beyond a bound (size, time or memory); nothing it did is kept."""


# --- operations that check their operands before they run ------------------------------------

_CONTAINERS = (list, tuple, dict, set, frozenset)
_SIZED = (str, bytes, *_CONTAINERS)


def _weight(value, budget: int = MAX_SIZE) -> int:
    """Characters and items in ``value``, through nested containers; stops counting past ``budget``
    so the count itself is bounded (a list repeating one big list is counted at every reference)."""
    if isinstance(value, str | bytes):
        return len(value)
    if not isinstance(value, _CONTAINERS):
        return 1
    total = len(value)
    items = itertools.chain.from_iterable(value.items()) if isinstance(value, dict) else value
    for item in items:
        if total > budget:
            break
        if isinstance(item, _SIZED):
            total += _weight(item, budget - total)
    return total


def _too_big(what: str) -> LimitExceeded:
    return LimitExceeded(
        f"{what} would exceed the limit of BPMN code ({MAX_SIZE} characters or items, "
        f"{MAX_INT_BITS}-bit integers)"
    )


def _is_int(value) -> bool:
    return isinstance(value, int)  # bool included: True * "a" is a repetition too


def _repeat(sequence, count):
    if count > 0 and _weight(sequence) * count > MAX_SIZE:
        raise _too_big("repeating a sequence")
    return sequence * count


def _binop(op: str, left, right):
    """``left <op> right`` for the operators that can make a huge value in one C call."""
    if op == "*":
        if _is_int(left) and _is_int(right):
            if left.bit_length() + right.bit_length() > MAX_INT_BITS:
                raise _too_big("the product")
        elif _is_int(right) and isinstance(left, str | bytes | list | tuple):
            return _repeat(left, right)
        elif _is_int(left) and isinstance(right, str | bytes | list | tuple):
            return _repeat(right, left)
        return left * right
    if op == "**":
        if (
            _is_int(left)
            and _is_int(right)
            and right > 0
            and abs(left) > 1
            and left.bit_length() * right > MAX_INT_BITS
        ):
            raise _too_big("the power")
        return left**right
    if op == "<<":
        if (
            _is_int(left)
            and _is_int(right)
            and left
            and right > 0
            and left.bit_length() + right > MAX_INT_BITS
        ):
            raise _too_big("the shift")
        return left << right
    if op == "+":
        if (
            isinstance(left, str | bytes | list | tuple)
            and isinstance(right, str | bytes | list | tuple)
            and len(left) + len(right) > MAX_SIZE
        ):
            raise _too_big("the concatenation")
        return left + right
    if op == "%":
        # "%0999999999d" % 1 would build a gigabyte: printf-style formatting is not offered.
        if isinstance(left, str | bytes):
            raise ExpressionError("'%' formatting of strings is not available; use + and str()")
        return left % right
    raise ExpressionError(f"operator {op} is not allowed")


_GUARDED_OPS = {ast.Mult: "*", ast.Pow: "**", ast.LShift: "<<", ast.Add: "+", ast.Mod: "%"}
_PLAIN_INPLACE = {
    "-=": operator.sub,
    "/=": operator.truediv,
    "//=": operator.floordiv,
    ">>=": operator.rshift,
    "&=": operator.and_,
    "|=": operator.or_,
    "^=": operator.xor,
}


def _inplacevar(op: str, x, y):
    if op in _PLAIN_INPLACE:
        return _PLAIN_INPLACE[op](x, y)
    if op in ("+=", "*=", "**=", "<<=", "%="):
        return _binop(op[:-1], x, y)
    raise ExpressionError(f"operator {op} is not allowed")


def _str(value="") -> str:
    # str() of a container renders every nested item: bounded like any value the code builds.
    if isinstance(value, _CONTAINERS) and _weight(value) > MAX_SIZE:
        raise _too_big("str()")
    return str(value)


def _sum(values, start=0):
    # sum([[...], ...], []) would concatenate lists quadratically; BPMN code sums numbers.
    if not isinstance(start, int | float):
        raise ExpressionError("sum() adds numbers only")
    return sum(values, start)


class _Policy(RestrictingNodeTransformer):
    """RestrictedPython's rules, and the size-making operators routed through ``_binop_``."""

    def visit_BinOp(self, node: ast.BinOp):
        node = self.node_contents_visit(node)
        op = _GUARDED_OPS.get(type(node.op))
        if op is None:
            return node
        call = ast.Call(
            func=ast.Name("_binop_", ast.Load()), args=[ast.Constant(op), node.left, node.right], keywords=[]
        )
        return ast.fix_missing_locations(ast.copy_location(call, node))


BUILTINS = {
    "abs": abs,
    "all": all,
    "any": any,
    "bool": bool,
    "dict": dict,
    "divmod": divmod,
    "float": float,
    "int": int,
    "len": len,
    "list": list,
    "max": max,
    "min": min,
    "range": limited_range,
    "round": round,
    "set": set,
    "sorted": sorted,
    "str": _str,
    "sum": _sum,
    "tuple": tuple,
    "True": True,
    "False": False,
    "None": None,
    "ValueError": ValueError,
    "KeyError": KeyError,
    "TypeError": TypeError,
}

GUARDS = {
    "_getattr_": safer_getattr,
    "_getitem_": default_guarded_getitem,
    "_getiter_": default_guarded_getiter,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_write_": full_write_guard,
    "_inplacevar_": _inplacevar,
    "_binop_": _binop,
}


# --- static checks ---------------------------------------------------------------------------

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
    pending = list(loop.body)
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


def _compile(source: str, mode: str):
    try:
        tree = ast.parse(source, mode=mode)
    except SyntaxError as exc:
        raise ExpressionError(f"line {exc.lineno}: {exc.msg}") from None
    _check_common(tree)
    (_check_expression if mode == "eval" else _check_script)(tree)
    result = (compile_restricted_eval if mode == "eval" else compile_restricted_exec)(
        source, "<bpmn>", policy=_Policy
    )
    if result.errors:
        raise ExpressionError("; ".join(result.errors))
    return result.code


@lru_cache(maxsize=2048)
def compile_expression(source: str):
    return _compile(source.strip(), "eval")


@lru_cache(maxsize=512)
def compile_script(source: str):
    return _compile(source, "exec")


def namespace(values: dict) -> dict:
    return {"__builtins__": BUILTINS, **GUARDS, **values}


def evaluate(source: str, values: dict):
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
    changed: dict


def execute(source: str, values: dict, before: dict) -> ScriptResult:
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
