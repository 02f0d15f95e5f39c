"""Each check reads one answer from answers.toml and compares it with specs/ml_qa/answer_key.toml.

An item's 2 points are split evenly over its checks, so a partly right answer earns part of them.
"""

import pytest

from grader.answers import check_answer, check_ranking_pair


@pytest.mark.rubric("q1")
@pytest.mark.parametrize("key", ["q1.intercept", "q1.other_weight", "q1.copies_sum", "q1.copy_with_l2"])
def test_q1(submission, key):
    check_answer(submission, key)


@pytest.mark.rubric("q2")
@pytest.mark.parametrize("key", ["q2.choice", "q2.z_b", "q2.z_e"])
def test_q2(submission, key):
    check_answer(submission, key)


@pytest.mark.rubric("q3")
def test_q3(submission):
    check_answer(submission, "q3.complexity")


@pytest.mark.rubric("q4")
@pytest.mark.parametrize("first, second", [("a", "b"), ("a", "c"), ("b", "c")])
def test_q4_ranks_pair(submission, first, second):
    """Kendall-style partial credit: one check per pair of approaches."""
    check_ranking_pair(submission, "q4.ranking", first, second)


@pytest.mark.rubric("q5")
@pytest.mark.parametrize("key", ["q5.mle", "q5.posterior_mean", "q5.map"])
def test_q5(submission, key):
    check_answer(submission, key)
