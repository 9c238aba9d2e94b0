"""A restricted evaluator for BPMN expressions and scripts: nothing in an uploaded file runs as code.

SpiffWorkflow evaluates gateway conditions, timer expressions and script tasks with plain
``eval``/``exec``.  Here every source is compiled with RestrictedPython (no names or attributes
starting with ``_``, so no ``__import__``, ``__class__`` or ``__subclasses__`` walks), checked
for oversized arithmetic, and run with a small set of builtins, guarded attribute and item
access, and a time budget that stops Python-level loops.

Functions available to BPMN authors (documented in the README): the builtins below and what
the service adds per case (``working_days(N)``).
"""

import ast
import operator
import sys
import time
from functools import lru_cache

from RestrictedPython import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (full_write_guard, guarded_iter_unpack_sequence, guarded_unpack_sequence,
                                     safer_getattr)
from RestrictedPython.Limits import limited_range

TIME_BUDGET_SECONDS = 0.25
MAX_EXPONENT = 64
MAX_INT_LITERAL = 10**15

BUILTINS = {
    "abs": abs, "all": all, "any": any, "bool": bool, "dict": dict, "divmod": divmod, "float": float, "int": int,
    "len": len, "list": list, "max": max, "min": min, "range": limited_range, "round": round, "set": set,
    "sorted": sorted, "str": str, "sum": sum, "tuple": tuple, "True": True, "False": False, "None": None,
    "ValueError": ValueError, "KeyError": KeyError, "TypeError": TypeError,
}
_INPLACE = {"+=": operator.add, "-=": operator.sub, "*=": operator.mul, "/=": operator.truediv,
            "//=": operator.floordiv, "%=": operator.mod}


def _inplacevar(op: str, x, y):
    if op not in _INPLACE:
        raise ExpressionError(f"operator {op} is not allowed")
    return _INPLACE[op](x, y)


GUARDS = {
    "_getattr_": safer_getattr, "_getitem_": default_guarded_getitem, "_getiter_": default_guarded_getiter,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence, "_unpack_sequence_": guarded_unpack_sequence,
    "_write_": full_write_guard, "_inplacevar_": _inplacevar,
}


class ExpressionError(Exception):
    """The source may not run here (forbidden construct, or it exceeded its budget)."""


_FORBIDDEN = (ast.Import, ast.ImportFrom, ast.Global, ast.Nonlocal, ast.ClassDef, ast.AsyncFunctionDef, ast.Await,
              ast.Yield, ast.YieldFrom, ast.Try, ast.With, ast.AsyncWith)


def _check(tree: ast.AST) -> None:
    for node in ast.walk(tree):
        if isinstance(node, _FORBIDDEN):
            raise ExpressionError(f"line {node.lineno}: {type(node).__name__.lower()} is not allowed in BPMN code")
        # RestrictedPython does not bound arithmetic: 10 ** 10 ** 10 would hold a worker for hours.
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            exponent = node.right
            if not (isinstance(exponent, ast.Constant) and isinstance(exponent.value, int | float)
                    and abs(exponent.value) <= MAX_EXPONENT):
                raise ExpressionError(f"line {node.lineno}: '**' needs a constant exponent of at most {MAX_EXPONENT}")
        if isinstance(node, ast.Constant) and isinstance(node.value, int) and abs(node.value) > MAX_INT_LITERAL:
            raise ExpressionError(f"line {node.lineno}: number literal too large")


def _compile(source: str, mode: str):
    try:
        _check(ast.parse(source, mode="eval" if mode == "eval" else "exec"))
    except SyntaxError as exc:
        raise ExpressionError(f"line {exc.lineno}: {exc.msg}") from None
    result = (compile_restricted_eval if mode == "eval" else compile_restricted_exec)(source, "<bpmn>")
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


def run(code, names: dict, *, evaluate: bool):
    """Run compiled code in ``names`` within the time budget."""
    deadline = time.perf_counter() + TIME_BUDGET_SECONDS

    def tracer(frame, event, arg):
        if time.perf_counter() > deadline:
            raise ExpressionError(f"took longer than {TIME_BUDGET_SECONDS}s")
        return tracer

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        if evaluate:
            return eval(code, names)  # noqa: S307 - restricted code, restricted namespace
        exec(code, names)  # noqa: S102 - restricted code, restricted namespace
        return None
    finally:
        sys.settrace(previous)


def is_internal(name: str) -> bool:
    """Names the sandbox itself puts into a script's namespace."""
    return name == "__builtins__" or name in GUARDS
