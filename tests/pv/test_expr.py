"""The check: expression language computes what contracts need and refuses everything else."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pv.expr import FUNCTIONS, EvalError, evaluate, parse

METRICS = {"step_0_loss": 3.1, "vocab_size": 151936, "val_loss": 2.5, "nan_loss": math.nan, "flag": True}


@pytest.mark.parametrize(("source", "expected"), [
    ("step_0_loss <= 0.7 * ln(vocab_size)", True),  # 0.7 * ln(151936) ~= 8.34
    ("step_0_loss <= 0.2 * ln(vocab_size)", False),
    ("isfinite(val_loss) and val_loss < 9.38", True),
    ("isfinite(nan_loss) and nan_loss < 9.38", False),  # NaN never passes a guarded check
    ("not isfinite(nan_loss)", True),
    ("0 < val_loss < step_0_loss <= 4", True),  # chained comparison
    ("0 < val_loss > step_0_loss", False),
    ("min(val_loss, step_0_loss) == 2.5 and max(1, 2, 3) == 3", True),
    ("abs(-2) ** 3 % 5 == 3", True),
    ("sqrt(16) + exp(0) - log(1) == 5", True),
    ("-val_loss < +val_loss or flag", True),
    ("7 // 2 == 3 and 7 / 2 == 3.5", True),
    ("step_0_loss * 2", 6.2),
])
def test_evaluates_the_documented_language(source: str, expected: object) -> None:
    assert evaluate(source, METRICS) == expected


@pytest.mark.parametrize(("source", "fragment"), [
    ("__import__('os')", "calling '__import__'"),
    ("__import__('os').system('true')", "calling a method"),
    ("val_loss.real", "attribute access"),
    ("().__class__", "attribute access"),
    ("x[0]", "subscripting"),
    ("open('f')", "calling 'open'"),
    ("eval('1')", "calling 'eval'"),
    ("(lambda: 1)()", "calling an expression"),
    ("[v for v in range(3)]", "a comprehension"),
    ("'a' < 'b'", "a string"),
    ("1 if flag else 2", "a conditional expression"),
    ("(y := 3)", "assignment"),
    ("max(*[1, 2])", "unpacking"),
    ("min(1, key=abs)", "a keyword argument"),
    ("val_loss in (1, 2)", "the operator In"),
    ("val_loss is None", "the operator Is"),
    ("_secret < 1", "may not start with _"),
    ("1 << 2", "the operator LShift"),
    ("2 ** 2 ** 64", "exponent"),
    ("99999 ** 1000", "too large"),
    ("ln(1, 2)", "takes 1 argument"),
    ("val_loss <", "not a valid expression"),
    ("import os", "not a valid expression"),
    ("", "empty"),
    ("1" * 2000, "limit"),
    ("f'{val_loss}'", "f-string"),
    ("1j < 2", "literal"),
])
def test_rejects_unsafe_or_unsupported_input(source: str, fragment: str) -> None:
    with pytest.raises(EvalError) as info:
        parse(source).evaluate(METRICS)
    assert fragment in str(info.value)


@pytest.mark.parametrize(("source", "fragment"), [
    ("missing_metric < 1", "unknown name 'missing_metric'; the metrics define: flag, nan_loss"),
    ("1 / 0 < 2", "division by zero"),
    ("ln(0) < 1", "ln(0) is undefined"),
    ("sqrt(-1) < 1", "sqrt(-1) is undefined"),
    ("exp(10000) > 1", "overflows"),
    ("(-8) ** 0.5 > 0", "complex"),
    ("10.0 ** 400 > 1", "cannot compute"),
])
def test_runtime_problems_are_eval_errors_naming_the_cause(source: str, fragment: str) -> None:
    with pytest.raises(EvalError, match=None) as info:
        evaluate(source, METRICS)
    assert fragment in str(info.value)


def test_non_numeric_metric_is_refused() -> None:
    with pytest.raises(EvalError, match="'name' is str, not a number"):
        evaluate("name < 1", {"name": "abc"})


def test_names_lists_metrics_not_functions_or_constants() -> None:
    assert parse("a < ln(b) and max(c, e) > 0 and pi > 0").names == {"a", "b", "c"}


# -- item 7 of issue 16: a non-finite bound switches a guard off, so it is refused --------------------------

@pytest.mark.parametrize(("source", "fragment"), [
    ("val_loss < inf", "'inf' is not a finite number"),  # passes for every finite loss: no bound at all
    ("not (val_loss >= nan)", "'nan' is not a finite number"),  # always true
    ("val_loss < 1e999", "overflows to infinity"),  # the literal itself is inf
    ("val_loss < INF", "'INF' is not a finite number"),
])
def test_a_non_finite_bound_is_refused_at_parse_time(source: str, fragment: str) -> None:
    with pytest.raises(EvalError) as info:
        parse(source)
    assert fragment in str(info.value)


@pytest.mark.parametrize("source", [
    "nan_loss < 9.38",
    "not (nan_loss >= 9.38)",  # was True: `not` turned NaN's silent False into a pass
    "nan_loss != 1",  # was True
    "max(1, nan_loss) < 5",  # was True: max(1, nan) is 1
    "min(nan_loss, 1) < 5",
    "val_loss < 1e308 * 10",  # a bound computed to infinity
])
def test_nan_or_an_overflowed_bound_never_decides_a_check(source: str) -> None:
    with pytest.raises(EvalError, match=r"NaN|non-finite"):
        evaluate(source, METRICS)


def test_infinite_metrics_still_compare_and_isfinite_still_asks() -> None:
    diverged = {"val_loss": math.inf, "nan_loss": math.nan}
    assert evaluate("val_loss < 5", diverged) is False  # a diverged run fails its bound
    assert evaluate("isfinite(val_loss) and val_loss < 5", diverged) is False
    assert evaluate("not isfinite(nan_loss)", diverged) is True


def test_errors_carry_a_column() -> None:
    with pytest.raises(EvalError) as info:
        parse("val_loss < 1 and os.system")
    assert info.value.col == 17
    assert "(at column 18)" in str(info.value)


# -- hypothesis: nothing escapes ---------------------------------------------------------------------------

_TOKENS = st.sampled_from([
    "val_loss", "vocab_size", "flag", "__class__", "__import__", "os", "x", "ln", "exp", "sqrt", "isfinite",
    "abs", "min", "max", "open", "lambda", "for", "in", "if", "else", "not", "and", "or", "is", "import",
    "0", "1", "2.5", "1e308", "-1", "9" * 50, "(", ")", "[", "]", "{", "}", ",", ".", ":", "=", ":=", "+",
    "-", "*", "**", "/", "//", "%", "<", "<=", ">", ">=", "==", "!=", "<<", "@", "'s'", '"t"', "f'{x}'",
    "*", "...", "None", "True", " ", "\n", "\\", "#", ";",
])


def _assert_contained(source: str) -> None:
    try:
        value = evaluate(source, METRICS)
    except EvalError:
        return
    assert isinstance(value, bool | int | float), f"{source!r} gave {type(value).__name__}"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_TOKENS, max_size=14).map(" ".join))
def test_token_soup_never_escapes(source: str) -> None:
    _assert_contained(source)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_arbitrary_text_never_escapes(source: str) -> None:
    _assert_contained(source)


def _grammar() -> st.SearchStrategy[str]:
    atoms = st.one_of(
        st.sampled_from(["val_loss", "vocab_size", "step_0_loss", "nan_loss", "flag", "inf", "nan"]),
        st.integers(-10**6, 10**6).map(str),
        st.floats(allow_nan=False, allow_infinity=False, width=32).map(repr),
    )

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        binop = st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "//", "%", "**", "<", "<=", "==", "!=",
                                                  "and", "or"]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})")
        unary = st.tuples(st.sampled_from(["-", "+", "not "]), inner).map(lambda t: f"({t[0]}{t[1]})")
        call = st.tuples(st.sampled_from(sorted(FUNCTIONS)), st.lists(inner, min_size=1, max_size=3)).map(
            lambda t: f"{t[0]}({', '.join(t[1])})")
        return st.one_of(binop, unary, call)

    return st.recursive(atoms, extend, max_leaves=12)


@settings(max_examples=400, deadline=None)
@given(_grammar())
def test_well_formed_expressions_yield_a_number_a_bool_or_an_eval_error(source: str) -> None:
    _assert_contained(source)
