"""Checkers for written answers in `answers.toml`.

Each answer key in specs/<id>/answer_key.toml names a type; the checker for that type reads the
student's value, explains every problem in student terms, and fails the test with pytest.fail.

Types:
  choice      one option out of several ("b")
  numeric     a number within a tolerance of an accepted value
  expression  a formula in named variables, equal to an accepted one as a function ("(k+1)/(n+2)")
  complexity  a big-O class ("O(m*k)" equals "O(k*m)" and "O(2*m*k)", not "O(m*n)")
  ranking     an order of options, checked pair by pair, so a partly right order earns partial credit

Expressions are parsed with Python's `ast` module into sympy objects node by node; nothing a
student writes is ever evaluated, so `__import__('os').system('id')` is only a refused call.
"""

from __future__ import annotations

import ast
import math
import re
import tomllib
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from pathlib import Path

import pytest

from grader.text import clean

MAX_ANSWERS_BYTES = 256 * 1024
MAX_EXPRESSION_CHARS = 300
MAX_EXPRESSION_DEPTH = 40
MAX_LITERAL = 10**15


class AnswerError(Exception):
    """A student's answer cannot be checked; the message says why."""


# ---------------------------------------------------------------------------------------
# Reading files
# ---------------------------------------------------------------------------------------


def read_answers(path: Path) -> dict:
    """Parse a student's answers.toml, or raise AnswerError with a message they can act on."""
    shown = f"{path.parent.name}/{path.name}"
    if path.is_symlink() or (path.parent.is_symlink() and path.exists()):
        # The grader reads this file itself, outside the sandbox: a link could point it at the answer key.
        raise AnswerError(f"{shown} is a symbolic link; submit the file itself")
    if not path.is_file():
        raise AnswerError(f"{shown} is missing: copy the template from specs/{path.parent.name}/answers.toml and fill it in")
    if path.stat().st_size > MAX_ANSWERS_BYTES:
        raise AnswerError(f"{shown} is larger than {MAX_ANSWERS_BYTES // 1024} KiB; answers should be short")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AnswerError(f"{shown} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AnswerError(f"{shown} is not valid TOML: {exc}. Check quotes, brackets and '=' signs on that line.") from None
    except (RecursionError, MemoryError):
        raise AnswerError(f"{shown} is nested too deeply to read") from None
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise AnswerError(f"{shown} could not be read: {exc}") from None


@cache
def read_answer_key(path: Path) -> dict:
    with open(path, "rb") as f:
        return tomllib.load(f)


def lookup(answers: dict, dotted: str):
    """answers['q1']['intercept'] for 'q1.intercept'; raises KeyError(dotted) when absent."""
    node = answers
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(dotted)
        node = node[part]
    return node


def describe_value(value) -> str:
    kind = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list", dict: "a table"}
    text = clean(repr(value), 120)
    return f"{kind.get(type(value), type(value).__name__)} ({text})"


# ---------------------------------------------------------------------------------------
# Safe expressions
# ---------------------------------------------------------------------------------------

_FUNCTIONS = ("log", "ln", "sqrt", "exp")


def parse_expression(text: str, variables: list[str]):
    """Turn a formula string into a sympy expression without evaluating any code."""
    import sympy

    if not isinstance(text, str):
        raise AnswerError(f"expected a formula as a string, got {describe_value(text)}")
    if len(text) > MAX_EXPRESSION_CHARS:
        raise AnswerError(f"the formula is {len(text)} characters long; the limit is {MAX_EXPRESSION_CHARS}")
    source = text.strip().replace("·", "*").replace("×", "*").replace("−", "-").replace("^", "**")
    if not source:
        raise AnswerError("the answer is empty")
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        raise AnswerError(
            f"could not read {clean(text, 80)!r} as a formula ({exc.msg}); write products with '*', e.g. 2*k"
        ) from None
    except (RecursionError, MemoryError, ValueError):
        raise AnswerError(f"could not read {clean(text, 80)!r} as a formula") from None
    symbols = {name: sympy.Symbol(name, positive=True) for name in variables}
    functions = {"log": sympy.log, "ln": sympy.log, "sqrt": sympy.sqrt, "exp": sympy.exp}
    allowed = f"numbers, the variables {', '.join(variables)}, + - * / ** and {', '.join(_FUNCTIONS)}"

    def convert(node, depth):
        if depth > MAX_EXPRESSION_DEPTH:
            raise AnswerError("the formula is nested too deeply")
        if isinstance(node, ast.Constant):
            value = node.value
            if type(value) is int:
                if abs(value) > MAX_LITERAL:
                    raise AnswerError(f"the number {clean(str(value), 40)} is too large")
                return sympy.Integer(value)
            if type(value) is float and math.isfinite(value) and abs(value) <= MAX_LITERAL:
                return sympy.Rational(Fraction(repr(value)))
            raise AnswerError(f"{clean(repr(value), 40)} is not allowed in a formula (only {allowed})")
        if isinstance(node, ast.Name):
            if node.id in symbols:
                return symbols[node.id]
            raise AnswerError(f"unknown name {node.id!r}; a formula may use only {allowed}")
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            operand = convert(node.operand, depth + 1)
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)):
            left = convert(node.left, depth + 1)
            right = convert(node.right, depth + 1)
            if isinstance(node.op, ast.Add):
                return left + right
            if isinstance(node.op, ast.Sub):
                return left - right
            if isinstance(node.op, ast.Mult):
                return left * right
            if isinstance(node.op, ast.Div):
                if right == 0:
                    raise AnswerError("the formula divides by zero")
                return left / right
            if right.is_number and (abs(right) > 64 or (left.is_number and abs(left) > 10**6)):
                raise AnswerError("the formula raises to too large a power")
            return left**right
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in functions:
            if len(node.args) != 1 or node.keywords:
                raise AnswerError(f"{node.func.id}() takes exactly one argument")
            return functions[node.func.id](convert(node.args[0], depth + 1))
        snippet = ast.get_source_segment(source, node) or type(node).__name__
        raise AnswerError(f"{clean(snippet, 60)!r} is not allowed in a formula (only {allowed})")

    return convert(tree.body, 0)


def equivalent(a, b, variables: list[str]) -> bool:
    """True when two sympy expressions are the same function of the (positive) variables."""
    import sympy

    try:
        if sympy.simplify(a - b) == 0:
            return True
    except Exception:  # simplify can give up on odd inputs; fall back to numbers
        pass
    symbols = sorted((a.free_symbols | b.free_symbols), key=str)
    points = [[1.37 + 0.73 * ((i * 7 + j * 3) % 11) for j in range(len(symbols))] for i in range(8)]
    for point in points:
        subs = dict(zip(symbols, point))
        try:
            x, y = complex(a.evalf(subs=subs)), complex(b.evalf(subs=subs))
        except (TypeError, ValueError, ZeroDivisionError):
            return False
        if not (math.isfinite(abs(x)) and math.isfinite(abs(y))) or abs(x - y) > 1e-9 * max(1.0, abs(x), abs(y)):
            return False
    return True


def complexity_class(text: str, variables: list[str]) -> frozenset:
    """The set of dominant terms of a big-O expression, constants dropped: O(2mk + m) -> {m*k}."""
    import sympy

    if not isinstance(text, str):
        raise AnswerError(f"expected a big-O class as a string such as \"O(n*m)\", got {describe_value(text)}")
    match = re.fullmatch(r"\s*O\s*\((.*)\)\s*", text, flags=re.DOTALL)
    if not match:
        raise AnswerError(f"write the answer as a big-O class such as \"O(n*m)\", not {clean(text, 60)!r}")
    expr = sympy.expand(parse_expression(match.group(1), variables))
    terms = []
    for term in sympy.Add.make_args(expr):
        coeff, rest = term.as_coeff_Mul()
        if coeff <= 0:
            raise AnswerError("a big-O class has no negative or zero terms")
        terms.append(rest)

    def powers(term):
        return {} if term == 1 else dict(term.as_powers_dict())

    def dominated(small, large):
        ps, pl = powers(small), powers(large)
        return ps != pl and all(pl.get(base, 0) >= exp for base, exp in ps.items())

    return frozenset(t for t in terms if not any(dominated(t, other) for other in terms))


# ---------------------------------------------------------------------------------------
# Checking one answer against its key
# ---------------------------------------------------------------------------------------


@dataclass
class Check:
    """One answer key entry and the student's value for it."""

    key: str
    spec: dict
    value: object

    @property
    def shown(self) -> str:
        return f"{self.key} = {clean(repr(self.value), 100)}"


def check_answer(submission, key: str) -> None:
    """Fail the current test unless the submission's answer for `key` is accepted."""
    check = _prepare(submission, key)
    kind = check.spec["type"]
    try:
        if kind == "choice":
            _check_choice(check)
        elif kind == "numeric":
            _check_numeric(check)
        elif kind == "expression":
            _check_expression(check)
        elif kind == "complexity":
            _check_complexity(check)
        else:
            raise ValueError(f"answer key {key} has unknown type {kind!r}")
    except AnswerError as exc:
        pytest.fail(f"{key}: {exc}", pytrace=False)


def check_ranking_pair(submission, key: str, first: str, second: str) -> None:
    """Fail unless the student's ranking puts `first` above `second`, as the key does."""
    check = _prepare(submission, key)
    try:
        order = _ranking(check)
    except AnswerError as exc:
        pytest.fail(f"{key}: {exc}", pytrace=False)
    if order.index(first) > order.index(second):
        pytest.fail(f"{check.shown}: {first} and {second} are in the wrong order", pytrace=False)


def _prepare(submission, key: str) -> Check:
    spec = submission.answer_key[key]
    try:
        answers = submission.answers
    except AnswerError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        value = lookup(answers, key)
    except KeyError:
        pytest.fail(f"answers.toml has no value for {key} (expected {spec.get('expects', spec['type'])})", pytrace=False)
    if value == "" or value == []:
        pytest.fail(f"{key} is empty: the question is not answered", pytrace=False)
    return Check(key, spec, value)


def _option(value, options: list[str], what: str) -> str:
    if not isinstance(value, str):
        raise AnswerError(f"{what} should be a string naming one of {', '.join(options)}, but it is {describe_value(value)}")
    match = re.fullmatch(r"\s*\(?\s*([A-Za-z0-9_]+)\s*[).]?\s*", value)
    option = match.group(1).lower() if match else None
    if option not in options:
        raise AnswerError(f"{clean(value, 40)!r} is not one of the options {', '.join(options)}")
    return option


def _check_choice(check: Check) -> None:
    option = _option(check.value, check.spec["options"], "the answer")
    if option not in check.spec["accept"]:
        raise AnswerError(f"{option!r} is not the correct option")


def _check_numeric(check: Check) -> None:
    value = check.value
    if type(value) is str:
        try:
            value = float(value.strip())
        except ValueError:
            raise AnswerError(f"should be a number, but it is {describe_value(check.value)}") from None
    if type(value) not in (int, float):
        raise AnswerError(f"should be a number, but it is {describe_value(value)}")
    try:
        value = float(value)
    except OverflowError:
        raise AnswerError("is too large to be a plausible answer") from None
    if not math.isfinite(value):
        raise AnswerError(f"is {value}, not a finite number")
    abs_tol = float(check.spec.get("abs_tol", 0.0))
    rel_tol = float(check.spec.get("rel_tol", 1e-9))
    if not any(math.isclose(value, float(a), rel_tol=rel_tol, abs_tol=abs_tol) for a in check.spec["accept"]):
        tol = f"±{abs_tol:g}" if abs_tol else f"a relative {rel_tol:g}"
        raise AnswerError(f"{value:g} is not correct (values within {tol} of the expected one are accepted)")


def _check_expression(check: Check) -> None:
    variables = check.spec["variables"]
    given = parse_expression(check.value, variables)
    for accepted in check.spec["accept"]:
        if equivalent(given, parse_expression(accepted, variables), variables):
            return
    raise AnswerError(f"{clean(check.value, 80)!r} is not correct")


def _check_complexity(check: Check) -> None:
    variables = check.spec["variables"]
    given = complexity_class(check.value, variables)
    if any(given == complexity_class(a, variables) for a in check.spec["accept"]):
        return
    raise AnswerError(f"{clean(check.value, 80)!r} is not the right complexity class")


def _ranking(check: Check) -> list[str]:
    options = check.spec["options"]
    value = check.value
    if not isinstance(value, list):
        raise AnswerError(f"should be a list such as {options!r}, but it is {describe_value(value)}")
    order = [_option(v, options, "each entry") for v in value]
    if sorted(order) != sorted(options):
        raise AnswerError(f"should list each of {', '.join(options)} exactly once, but it is {clean(repr(value), 80)}")
    return order
