"""The operand checks and builtins of the bounded evaluator (``app.sandbox``): every operation that
can make a big value checks its operands' sizes before it runs, and the small set of builtins and
guards BPMN code gets. Imports nothing of the service.
"""

import ast
import itertools
import operator

from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr,
)
from RestrictedPython.Limits import limited_range
from RestrictedPython.transformer import RestrictingNodeTransformer

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


class RestrictingPolicy(RestrictingNodeTransformer):
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
