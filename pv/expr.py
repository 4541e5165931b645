"""The ``check:`` expression language: thresholds that live in the contract, evaluated safely.

A contract is untrusted input, so ``check:`` is never handed to ``eval``. It is parsed with
``ast.parse(mode="eval")`` and only a whitelist of node kinds is interpreted by the small tree
walker below: names (looked up in the run's metrics), numbers, arithmetic (``+ - * / // % **``,
unary ``+ -``), comparisons (chained too), ``and``/``or``/``not``, and calls to a fixed set of
math functions with positional arguments. Everything else (attribute access, subscripts,
strings, lambdas, comprehensions, keyword arguments, other calls) is rejected at parse time with
a message naming the construct and its column, so a bad check fails ``pv verify --live`` with a
clear error instead of doing something surprising.

Every failure is an :class:`EvalError`; evaluation returns a number or a bool, nothing else.

Bounds must be finite, and NaN is never compared: ``val_loss < nan`` is always false and
``not (val_loss > inf)`` always true, so a non-finite bound switches a guard off without a word.
A non-finite literal (``1e999``) or ``inf``/``nan`` is rejected at parse time, arithmetic that
overflows finite numbers is an error, and a NaN reaching a comparison, ``min`` or ``max`` is an
error rather than a quiet ``False`` that ``not`` would turn into a pass. ``isfinite(x)`` is how a
check asks about a non-finite metric.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass

Number = int | float
Value = Number | bool

MAX_LENGTH = 1000
MAX_DEPTH = 64
MAX_EXPONENT = 1024  # bigger integer powers are how "2 ** 2 ** 64" eats a machine
MAX_INT_BITS = 4096


class EvalError(Exception):
    """The expression is malformed, unsafe, refers to a missing metric, or cannot be computed."""

    def __init__(self, message: str, col: int | None = None) -> None:
        super().__init__(message if col is None else f"{message} (at column {col + 1})")
        self.col = col


def _ln(x: Value) -> float:
    if x <= 0:
        raise EvalError(f"ln({x!r}) is undefined (argument must be > 0)")
    return math.log(x)


def _sqrt(x: Value) -> float:
    if x < 0:
        raise EvalError(f"sqrt({x!r}) is undefined (argument must be >= 0)")
    return math.sqrt(x)


def _exp(x: Value) -> float:
    try:
        return math.exp(x)
    except OverflowError as exc:
        raise EvalError(f"exp({x!r}) overflows") from exc


def _minmax(fn: Callable[..., Value], name: str) -> Callable[..., Value]:
    def call(*args: Value) -> Value:
        if not args:
            raise EvalError(f"{name}() needs at least one argument")
        if any(_is_nan(a) for a in args):  # max(nan, 1) is nan but max(1, nan) is 1: order must not decide
            raise EvalError(f"{name}() got NaN; guard it with isfinite()")
        return fn(args)

    return call


# name -> (callable, allowed argument counts; None = one or more)
FUNCTIONS: dict[str, tuple[Callable[..., Value], tuple[int, ...] | None]] = {
    "ln": (_ln, (1,)),
    "log": (_ln, (1,)),
    "exp": (_exp, (1,)),
    "sqrt": (_sqrt, (1,)),
    "isfinite": (lambda x: math.isfinite(x), (1,)),
    "abs": (lambda x: abs(x), (1,)),
    "min": (_minmax(min, "min"), None),
    "max": (_minmax(max, "max"), None),
}

_BINOPS: dict[type[ast.operator], Callable[[Value, Value], Value]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_CMPOPS: dict[type[ast.cmpop], Callable[[Value, Value], bool]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
_CONSTANTS = {"pi": math.pi, "e": math.e, "true": True, "false": False}
_NON_FINITE = {"inf", "nan", "infinity"}


@dataclass(frozen=True)
class Expression:
    """A parsed, whitelisted expression; evaluate it against any number of metric dicts."""

    source: str
    tree: ast.Expression

    @property
    def names(self) -> set[str]:
        """Metric names the expression reads (function names and constants excluded)."""
        called = {id(n.func) for n in ast.walk(self.tree) if isinstance(n, ast.Call)}
        return {n.id for n in ast.walk(self.tree) if isinstance(n, ast.Name)
                and id(n) not in called and n.id not in _CONSTANTS}

    def evaluate(self, metrics: Mapping[str, object]) -> Value:
        return _Evaluator(metrics).visit(self.tree.body)


def parse(source: str) -> Expression:
    """Parse and whitelist ``source``; raises :class:`EvalError` for anything outside the language."""
    if not isinstance(source, str):
        raise EvalError(f"a check must be a string, got {type(source).__name__}")
    if len(source) > MAX_LENGTH:
        raise EvalError(f"check is {len(source)} characters long; the limit is {MAX_LENGTH}")
    if not source.strip():
        raise EvalError("check is empty")
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        raise EvalError(f"not a valid expression: {exc.msg}", (exc.offset or 1) - 1) from None
    except (ValueError, MemoryError, RecursionError) as exc:
        raise EvalError(f"not a valid expression: {exc}") from None
    _check_tree(tree.body, 0)
    return Expression(source, tree)


def evaluate(source: str, metrics: Mapping[str, object]) -> Value:
    """Parse and evaluate in one go: ``evaluate("loss < ln(v)", {"loss": 1.0, "v": 10})``."""
    return parse(source).evaluate(metrics)


_ALLOWED = ("use names, numbers, arithmetic, comparisons, and/or/not, and calls to "
            + ", ".join(f"{n}()" for n in FUNCTIONS))


def _reject(node: ast.AST, what: str) -> EvalError:
    return EvalError(f"{what} is not allowed in a check; {_ALLOWED}", getattr(node, "col_offset", None))


_DESCRIBE = {
    ast.Attribute: "attribute access", ast.Subscript: "subscripting", ast.Lambda: "a lambda",
    ast.ListComp: "a comprehension", ast.SetComp: "a comprehension", ast.DictComp: "a comprehension",
    ast.GeneratorExp: "a generator", ast.IfExp: "a conditional expression", ast.NamedExpr: "assignment (:=)",
    ast.Starred: "unpacking (*)", ast.List: "a list", ast.Tuple: "a tuple", ast.Dict: "a dict", ast.Set: "a set",
    ast.JoinedStr: "an f-string", ast.Await: "await", ast.Yield: "yield", ast.YieldFrom: "yield",
}


def _check_tree(node: ast.AST, depth: int) -> None:
    """Reject, before evaluating anything, every node outside the whitelist."""
    if depth > MAX_DEPTH:
        raise EvalError(f"expression nests deeper than {MAX_DEPTH} levels")
    match node:
        case ast.Constant(value=value):
            if not isinstance(value, bool | int | float):
                raise _reject(node, f"the literal {value!r}" if not isinstance(value, str) else "a string")
            if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
                raise EvalError("integer literal is too large", node.col_offset)
            if isinstance(value, float) and not math.isfinite(value):
                raise EvalError("a number literal overflows to infinity; a bound must be finite", node.col_offset)
        case ast.Name(id=name):
            if name.startswith("_"):
                raise _reject(node, f"the name {name!r} (names may not start with _)")
            if name.lower() in _NON_FINITE:
                raise EvalError(f"{name!r} is not a finite number; a bound must be finite "
                                "(ask about a metric with isfinite(x))", node.col_offset)
        case ast.UnaryOp(op=ast.UAdd() | ast.USub() | ast.Not(), operand=operand):
            _check_tree(operand, depth + 1)
        case ast.BinOp(op=op, left=left, right=right) if type(op) in _BINOPS:
            _check_tree(left, depth + 1)
            _check_tree(right, depth + 1)
        case ast.BoolOp(values=values):
            for value in values:
                _check_tree(value, depth + 1)
        case ast.Compare(left=left, ops=ops, comparators=comparators):
            for op in ops:
                if type(op) not in _CMPOPS:
                    raise _reject(node, f"the operator {type(op).__name__}")
            for sub in [left, *comparators]:
                _check_tree(sub, depth + 1)
        case ast.Call(func=func, args=args, keywords=keywords):
            if not isinstance(func, ast.Name) or func.id not in FUNCTIONS:
                shown = repr(func.id) if isinstance(func, ast.Name) else \
                    "a method" if isinstance(func, ast.Attribute) else "an expression"
                raise _reject(node, f"calling {shown}")
            if keywords:
                raise _reject(node, "a keyword argument")
            arity = FUNCTIONS[func.id][1]
            if arity is not None and len(args) not in arity:
                raise EvalError(f"{func.id}() takes {arity[0]} argument(s), got {len(args)}", node.col_offset)
            for arg in args:
                _check_tree(arg, depth + 1)
        case _:
            what = _DESCRIBE.get(type(node))
            if what is None:
                what = f"the operator {type(node.op).__name__}" if isinstance(node, ast.BinOp | ast.UnaryOp) \
                    else f"{type(node).__name__} syntax"
            raise _reject(node, what)


class _Evaluator:
    def __init__(self, metrics: Mapping[str, object]) -> None:
        self.metrics = metrics

    def visit(self, node: ast.AST) -> Value:
        try:
            return self._visit(node)
        except EvalError:
            raise
        except ZeroDivisionError:
            raise EvalError("division by zero", getattr(node, "col_offset", None)) from None
        except (OverflowError, ValueError, TypeError, ArithmeticError, RecursionError) as exc:
            raise EvalError(f"cannot compute: {exc}", getattr(node, "col_offset", None)) from None

    def _visit(self, node: ast.AST) -> Value:
        match node:
            case ast.Constant(value=value):
                return value
            case ast.Name(id=name):
                return self._lookup(name, node)
            case ast.UnaryOp(op=op, operand=operand):
                value = self.visit(operand)
                if isinstance(op, ast.Not):
                    return not value
                number = _number(value, node)
                return -number if isinstance(op, ast.USub) else +number
            case ast.BinOp(op=op, left=left, right=right):
                a, b = _number(self.visit(left), left), _number(self.visit(right), right)
                if isinstance(op, ast.Pow):
                    _check_power(a, b, node)
                result = _BINOPS[type(op)](a, b)
                if isinstance(result, complex):
                    raise EvalError("result is a complex number", node.col_offset)
                if isinstance(result, float) and not math.isfinite(result) and _finite(a) and _finite(b):
                    raise EvalError("arithmetic overflows to a non-finite number", node.col_offset)
                if isinstance(result, int) and result.bit_length() > MAX_INT_BITS:
                    raise EvalError("integer result is too large", node.col_offset)
                return result
            case ast.BoolOp(op=op, values=values):
                # Short-circuit like Python, but always yield a bool, never an operand.
                if isinstance(op, ast.And):
                    return all(bool(self.visit(v)) for v in values)
                return any(bool(self.visit(v)) for v in values)
            case ast.Compare(left=left, ops=ops, comparators=comparators):
                current = _comparable(self.visit(left), left)
                for op, right in zip(ops, comparators, strict=True):
                    nxt = _comparable(self.visit(right), right)
                    if not _CMPOPS[type(op)](current, nxt):
                        return False
                    current = nxt
                return True
            case ast.Call(func=ast.Name(id=name), args=args):
                fn = FUNCTIONS[name][0]
                return fn(*(_number(self.visit(a), a) for a in args))
        raise EvalError(f"unsupported node {type(node).__name__}")  # unreachable after _check_tree

    def _lookup(self, name: str, node: ast.Name) -> Value:
        if name in self.metrics:
            value = self.metrics[name]
            if isinstance(value, bool | int | float):
                return value
            raise EvalError(f"metric {name!r} is {type(value).__name__}, not a number", node.col_offset)
        if name in _CONSTANTS:
            return _CONSTANTS[name]
        known = ", ".join(sorted(str(k) for k in self.metrics)) or "none"
        raise EvalError(f"unknown name {name!r}; the metrics define: {known}", node.col_offset)


def _number(value: Value, node: ast.AST) -> Value:
    if isinstance(value, bool | int | float):
        return value
    raise EvalError(f"expected a number, got {type(value).__name__}", getattr(node, "col_offset", None))


def _is_nan(value: Value) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _finite(value: Value) -> bool:
    return not isinstance(value, float) or math.isfinite(value)


def _comparable(value: Value, node: ast.AST) -> Value:
    number = _number(value, node)
    if _is_nan(number):
        shown = f"metric {node.id!r} is" if isinstance(node, ast.Name) else "the value is"
        raise EvalError(f"{shown} NaN, which has no order; guard it with isfinite()",
                        getattr(node, "col_offset", None))
    return number


def _check_power(base: Value, exponent: Value, node: ast.AST) -> None:
    if abs(exponent) > MAX_EXPONENT and abs(base) not in (0, 1) and not isinstance(base, float):
        raise EvalError(f"exponent {exponent!r} is larger than {MAX_EXPONENT}", node.col_offset)
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 \
            and base.bit_length() * exponent > MAX_INT_BITS:
        raise EvalError("integer power is too large", node.col_offset)
