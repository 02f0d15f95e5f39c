"""Problems 3 and 4: the parameter server's update times under sync, K-sync, K-batch-sync, async,
K-async and K-batch-async SGD, and the staleness of asynchronous gradients.

Each problem-3 item has four checks: the number in answers.toml, the simulator on the handout's
learner times, the simulator on schedules hypothesis draws (against the grader's own simulator,
grader/bias_variance_sgd/reference.py), and one property of the algorithm. Where work is
cancelled, either convention (a cancelled mini-batch uses up its entry, or is redone) is
accepted, call by call. Random schedules have times drawn from a continuous range, so no two
events tie; the sums are compared within 1e-9.
"""

import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from grader.answers import check_answer
from grader.checks import fail

from . import reference

TOLERANCE = 1e-9
NAMES = {"sync": "sync", "k_sync": "K-sync", "k_batch_sync": "K-batch-sync", "async": "async",
         "k_async": "K-async", "k_batch_async": "K-batch-async"}


def call(adapters, algorithm, times, k, updates) -> tuple[list[float], str]:
    shown = "the handout's times" if times == reference.LEARNER_TIMES else f"times of {len(times)} learners"
    what = f"simulate({algorithm!r}, {shown}, k={k}, updates={updates})"
    got = adapters.simulate(algorithm, times, k, updates)
    if not isinstance(got, (list, tuple)) or len(got) != updates:
        fail(f"{what} returned {got!r}; expected a list of {updates} update times")
    if not all(type(t) in (int, float) or isinstance(t, np.floating) for t in got) or not all(math.isfinite(t) for t in got):
        fail(f"{what} returned {got!r}; expected {updates} finite numbers")
    return [float(t) for t in got], what


def matches(got, want) -> bool:
    return all(abs(a - b) <= TOLERANCE * max(1.0, abs(b)) for a, b in zip(got, want))


def expect_update_times(adapters, algorithm, times, k, updates, detail=""):
    got, what = call(adapters, algorithm, times, k, updates)
    accepted = {tuple(reference.update_times(algorithm, times, k, updates, redo)) for redo in (False, True)}
    if not any(matches(got, want) for want in accepted):
        shown = " or ".join(str([round(t, 6) for t in want]) for want in sorted(accepted))
        fail(f"{what} returned {[round(t, 6) for t in got]}; expected {shown}{detail}"
             + (f"\n(learner times: {[[round(t, 4) for t in row[:8]] for row in times]}, first 8 each)" if times != reference.LEARNER_TIMES else ""))


@st.composite
def schedules(draw, min_learners=1, max_learners=5):
    """(times, k, updates): enough mini-batch times for every algorithm to make `updates` updates."""
    learners = draw(st.integers(min_learners, max_learners))
    k = draw(st.integers(1, learners))
    updates = draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    times = rng.uniform(0.2, 3.0, (learners, 2 * k * updates + 4))
    return times.tolist(), k, updates


HANDOUT_CASES = {"sync": ("sync", 0), "k_sync": ("k_sync", 2), "k_batch_sync": ("k_batch_sync", 2),
                 "async": ("async", 0), "k_batch_async": ("k_batch_async", 2)}


# One case per item: each counts towards its own item.
ITEMS = [pytest.param(item, marks=pytest.mark.rubric(f"p3.{item}"), id=item) for item in HANDOUT_CASES]


@pytest.mark.parametrize("item", ITEMS)
def test_the_third_update_in_answers(submission, item):
    check_answer(submission, f"p3.{item}")


@pytest.mark.parametrize("item", ITEMS)
def test_the_simulator_on_the_handouts_times(adapters, item):
    algorithm, k = HANDOUT_CASES[item]
    expect_update_times(adapters, algorithm, reference.LEARNER_TIMES, k, 3)


@pytest.mark.rubric("p3.sync")
@settings(max_examples=5)
@given(schedule=schedules())
def test_sync_on_random_schedules(adapters, schedule):
    times, k, updates = schedule
    expect_update_times(adapters, "sync", times, k, updates)


@pytest.mark.rubric("p3.sync")
@settings(max_examples=4)
@given(schedule=schedules(max_learners=4), seed=st.integers(0, 2**16), slower=st.booleans())
def test_adding_a_learner_never_makes_sync_faster(adapters, schedule, seed, slower):
    times, k, updates = schedule
    rng = np.random.default_rng(seed)
    if slower:  # the handout's case: a learner slower than every other at every mini-batch
        extra = (np.max(times, axis=0) * rng.uniform(1.0, 1.5, len(times[0]))).tolist()
    else:  # any learner, fast or slow: sync still waits for everyone
        extra = rng.uniform(0.05, 3.0, len(times[0])).tolist()
    before, what = call(adapters, "sync", times, k, updates)
    after, _ = call(adapters, "sync", times + [extra], k, updates)
    if any(a < b - TOLERANCE for a, b in zip(after, before)):
        fail(f"{what}: with a learner added the updates come at {after}, earlier than {before} without it; "
             "sync waits for every learner, so another one can only delay it")


@pytest.mark.rubric("p3.k_sync")
@settings(max_examples=5)
@given(schedule=schedules())
@example(schedule=(reference.LEARNER_TIMES, 1, 4))
def test_k_sync_on_random_schedules(adapters, schedule):
    times, k, updates = schedule
    expect_update_times(adapters, "k_sync", times, k, updates,
                        " (K-sync cancels the learners still computing at each update; all start afresh)")


@pytest.mark.rubric("p3.k_sync")
@settings(max_examples=4)
@given(schedule=schedules())
def test_k_sync_with_k_equal_to_the_learners_is_sync(adapters, schedule):
    times, _, updates = schedule
    got, what = call(adapters, "k_sync", times, len(times), updates)
    want = reference.update_times("sync", times, 0, updates)
    if not matches(got, want):
        fail(f"{what} returned {got}; with k equal to the number of learners K-sync waits for all of them, "
             f"as sync does: {want}")


@pytest.mark.rubric("p3.k_batch_sync")
@settings(max_examples=5)
@given(schedule=schedules())
def test_k_batch_sync_on_random_schedules(adapters, schedule):
    times, k, updates = schedule
    expect_update_times(adapters, "k_batch_sync", times, k, updates,
                        " (K-batch-sync counts mini-batches from any learner, a learner may deliver several)")


@pytest.mark.rubric("p3.k_batch_sync")
@settings(max_examples=4)
@given(schedule=schedules())
def test_one_batch_sync_is_one_sync(adapters, schedule):
    times, _, updates = schedule
    got, what = call(adapters, "k_batch_sync", times, 1, updates)
    accepted = [reference.update_times("k_sync", times, 1, updates, redo) for redo in (False, True)]
    if not any(matches(got, want) for want in accepted):
        fail(f"{what} returned {got}; with k = 1 the first mini-batch to finish ends each round, as in 1-sync: "
             f"{' or '.join(map(str, accepted))}")


@pytest.mark.rubric("p3.async")
@settings(max_examples=5)
@given(schedule=schedules())
def test_async_updates_in_the_order_mini_batches_finish(adapters, schedule):
    times, k, updates = schedule
    expect_update_times(adapters, "async", times, k, updates,
                        " (every finished mini-batch is an update: the learners' finish times in time order)")


@pytest.mark.rubric("p3.async")
@settings(max_examples=5)
@given(schedule=schedules())
@example(schedule=(reference.LEARNER_TIMES, 2, 3))
def test_k_async_on_random_schedules(adapters, schedule):
    times, k, updates = schedule
    expect_update_times(adapters, "k_async", times, k, updates,
                        " (K-async: an update per k pushes; a learner that pushed waits for it, then starts again)")


@pytest.mark.rubric("p3.k_batch_async")
@settings(max_examples=5)
@given(schedule=schedules())
def test_k_batch_async_on_random_schedules(adapters, schedule):
    times, k, updates = schedule
    expect_update_times(adapters, "k_batch_async", times, k, updates,
                        " (K-batch-async: an update after every k mini-batches from any learners; nobody waits)")


@pytest.mark.rubric("p3.k_batch_async")
@settings(max_examples=4)
@given(schedule=schedules())
def test_one_batch_async_is_async(adapters, schedule):
    times, _, updates = schedule
    got, what = call(adapters, "k_batch_async", times, 1, updates)
    want = reference.update_times("async", times, 0, updates)
    if not matches(got, want):
        fail(f"{what} returned {got}; with k = 1 every mini-batch is an update, as in async: {want}")


# Problem 4: staleness ---------------------------------------------------------------------------


def call_staleness(adapters, finish_times) -> tuple[list[list[int]], str]:
    what = f"staleness({finish_times if finish_times == reference.PUSH_TIMES else [[round(t, 3) for t in r] for r in finish_times]})"
    got = adapters.staleness(finish_times)
    ok = isinstance(got, (list, tuple)) and len(got) == len(finish_times) and all(
        isinstance(row, (list, tuple)) and len(row) == len(want) for row, want in zip(got, finish_times))
    if not ok:
        fail(f"{what} returned {got!r}; expected one list per learner with one staleness per gradient")
    if not all(type(s) is int or (isinstance(s, (float, np.integer)) and float(s).is_integer()) for row in got for s in row):
        fail(f"{what} returned {got!r}; expected whole numbers")
    return [[int(s) for s in row] for row in got], what


@pytest.mark.rubric("p4.staleness")
@pytest.mark.parametrize("key", ["l1_g1", "l1_g2", "l1_g3", "l1_g4", "l2_g1", "l2_g2"])
def test_the_staleness_in_answers(submission, key):
    check_answer(submission, f"p4.{key}")


@pytest.mark.rubric("p4.staleness", weight=2)
def test_the_staleness_function_on_the_handouts_times(adapters):
    got, what = call_staleness(adapters, reference.PUSH_TIMES)
    if got != reference.STALENESS:
        fail(f"{what} returned {got}; expected {reference.STALENESS} (updates applied between a learner's read, "
             "right after its own previous update, and its gradient's update)")


@st.composite
def push_times(draw):
    learners = draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return [sorted(rng.uniform(0, 10, int(rng.integers(1, 6))).round(6).tolist()) for _ in range(learners)]


@pytest.mark.rubric("p4.staleness", weight=2)
@settings(max_examples=6)
@given(finish_times=push_times())
def test_the_staleness_function_on_random_pushes(adapters, finish_times):
    got, what = call_staleness(adapters, finish_times)
    want = reference.staleness(finish_times)
    if got != want:
        fail(f"{what} returned {got}; expected {want}")


@pytest.mark.rubric("p4.staleness")
@settings(max_examples=3)
@given(count=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_a_single_learner_is_never_stale(adapters, count, seed):
    pushes = [sorted(np.random.default_rng(seed).uniform(0, 10, count).round(6).tolist())]
    got, what = call_staleness(adapters, pushes)
    if got != [[0] * count]:
        fail(f"{what} returned {got}; one learner reads each update it makes, so every gradient has staleness 0")
