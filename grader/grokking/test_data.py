"""2.1: the equations of +, - and / modulo 97 and 113, and the train / validation / test splits.

An equation is known by its left-hand side (a, b). The splits are checked against the
submission's own equations(), so that a wrong answer in the equations costs data.equations and
not data.splits as well.
"""

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from grader.checks import expect_equal, fail

from . import reference
from .common import as_equations, as_splits, show

CASES = [(op, p) for op in reference.OPERATIONS for p in reference.PRIMES]
NAMES = {"+": "add", "-": "sub", "/": "div"}
IDS = [f"{NAMES[op]}{p}" for op, p in CASES]
# "about train_fraction": an exact cut is within one equation; a coin flip per equation, as some
# students split, lands within ~0.5% (one standard deviation at 9,409 equations) almost always.
FRACTION_TOLERANCE = 0.02


@pytest.mark.rubric("data.equations")
@pytest.mark.parametrize("operation, p", CASES, ids=IDS)
def test_equations_hold_every_left_hand_side_once(adapters, operation, p):
    what = f"equations({operation!r}, {p})"
    got = as_equations(adapters.equations(operation, p), what)
    lhs = [(a, b) for a, b, _ in got]
    want = reference.left_hand_sides(operation, p)
    if operation == "/" and any(b == 0 for _, b in lhs):
        fail(f"{what} divides by zero: {show({e for e in got if e[1] == 0})}; b = 0 has no inverse and must be left out")
    outside = {x for x in lhs if x not in want}
    if outside:
        fail(f"{what} holds left-hand sides (a, b) outside 0 <= a, b < {p}: {show(outside)}")
    if len(set(lhs)) != len(lhs):
        fail(f"{what} holds {len(lhs)} equations but only {len(set(lhs))} different (a, b); each must appear once")
    missing = want - set(lhs)
    if missing:
        fail(f"{what} lacks {len(missing)} of the {len(want)} equations, for example (a, b) = {show(missing)}")
    expect_equal(len(lhs), len(want), what=f"the number of equations in {what}")


@pytest.mark.rubric("data.equations")
@pytest.mark.parametrize("operation, p", CASES, ids=IDS)
def test_every_answer_is_right(adapters, operation, p):
    what = f"equations({operation!r}, {p})"
    got = as_equations(adapters.equations(operation, p), what)
    valid = reference.left_hand_sides(operation, p)  # others cost the test above, not this one
    checked = [(a, b, c) for a, b, c in got if (a, b) in valid]
    wrong = [(a, b, c) for a, b, c in checked if c != reference.answer(operation, a, b, p)]
    if not checked:
        fail(f"{what} holds no equation with 0 <= a, b < {p}{' and b != 0' if operation == '/' else ''}")
    if wrong:
        examples = "; ".join(
            f"{reference.text(operation, a, b, c)} (right: {reference.answer(operation, a, b, p)})" for a, b, c in wrong[:3]
        )
        rule = "a times the inverse of b, a * b^(p-2) mod p" if operation == "/" else f"(a {operation} b) mod p"
        fail(f"{what}: {len(wrong)} of {len(checked)} answers are wrong ({examples}); c must be {rule}")


# Splits --------------------------------------------------------------------------------------

split_arguments = st.tuples(
    st.sampled_from(reference.OPERATIONS), st.sampled_from(reference.PRIMES),
    st.integers(0, 2**16), st.sampled_from([0.3, 0.5, 0.7]),
)


def get_splits(adapters, operation, p, seed, fraction):
    what = f"splits({operation!r}, {p}, seed={seed}, train_fraction={fraction})"
    return as_splits(adapters.splits(operation, p, seed, fraction), what), what


@pytest.mark.rubric("data.splits", weight=2)
@settings(max_examples=2)
@given(arguments=split_arguments)
@example(arguments=("-", 113, 3, 0.5))
@example(arguments=("/", 97, 11, 0.7))
def test_no_equation_is_in_two_splits(adapters, arguments):
    parts, what = get_splits(adapters, *arguments)
    names = list(parts)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            shared = {e[:2] for e in parts[first]} & {e[:2] for e in parts[second]}
            if shared:
                fail(f"{what}: {len(shared)} equations are in both {first!r} and {second!r}, for example (a, b) = "
                     f"{show(shared)}; the splits must be disjoint (a test equation seen in training measures nothing)")


@pytest.mark.rubric("data.splits")
@settings(max_examples=2)
@given(arguments=split_arguments)
@example(arguments=("-", 113, 3, 0.5))
@example(arguments=("/", 97, 11, 0.7))
def test_the_splits_together_are_the_equations(adapters, arguments):
    parts, what = get_splits(adapters, *arguments)
    operation, p = arguments[:2]
    own = set(as_equations(adapters.equations(operation, p), f"equations({operation!r}, {p})"))
    for name, part in parts.items():
        if len(set(part)) != len(part):
            fail(f"{what}[{name!r}] holds {len(part)} equations but only {len(set(part))} different ones; each must appear once")
    together = set().union(*map(set, parts.values()))
    missing, extra = own - together, together - own
    if missing:
        fail(f"{what}: {len(missing)} of your equations({operation!r}, {p}) are in no split, for example {show(missing)}")
    if extra:
        fail(f"{what} holds {len(extra)} equations that your equations({operation!r}, {p}) does not, for example {show(extra)}")
    if not parts["test"]:
        fail(f"{what}['test'] is empty; the test split must hold the held-out equations")


@pytest.mark.rubric("data.splits")
@settings(max_examples=2)
@given(arguments=split_arguments)
@example(arguments=("-", 113, 3, 0.5))
@example(arguments=("/", 97, 11, 0.7))
def test_train_holds_about_train_fraction(adapters, arguments):
    parts, what = get_splits(adapters, *arguments)
    total = sum(len(part) for part in parts.values())
    share = len(parts["train"]) / max(total, 1)
    fraction = arguments[3]
    if abs(share - fraction) > FRACTION_TOLERANCE:
        fail(f"{what}['train'] holds {len(parts['train'])} of {total} equations ({share:.1%}); "
             f"expected about {fraction:.0%} (within {FRACTION_TOLERANCE:.0%})")


@pytest.mark.rubric("data.splits")
@pytest.mark.parametrize("operation, p, seed", [("/", 97, 0), ("+", 113, 7)], ids=["div97", "add113"])
def test_the_same_seed_gives_the_same_split_in_a_new_process(submission, adapters, operation, p, seed):
    first, what = get_splits(adapters, operation, p, seed, 0.5)
    submission.sandbox.restart()  # a fresh worker process: nothing in memory carries over
    again, _ = get_splits(adapters, operation, p, seed, 0.5)
    for name in first:
        if sorted(again[name]) != sorted(first[name]):
            changed = set(first[name]) ^ set(again[name])
            fail(f"{what}[{name!r}] differs between two calls in two processes ({len(changed)} equations moved, "
                 f"for example {show(changed)}); the same seed must give the same split")
