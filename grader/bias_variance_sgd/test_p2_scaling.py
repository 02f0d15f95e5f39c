"""Problem 2: per-epoch time, throughput, scaling efficiency, speedup and the cost question, read
from answers.toml and compared with specs/bias_variance_sgd/answer_key.toml (1% relative
tolerance). Each number is one check, so a partly right table earns part of its item."""

import pytest

from grader.answers import check_answer

SERVERS = [1, 2, 4, 8, 16, 32, 64, 128, 256]


@pytest.mark.rubric("p2.times")
@pytest.mark.parametrize("n", SERVERS)
def test_per_epoch_time(submission, n):
    check_answer(submission, f"p2.epoch_seconds.n{n}")


@pytest.mark.rubric("p2.throughput")
@pytest.mark.parametrize("n", SERVERS)
def test_throughput(submission, n):
    check_answer(submission, f"p2.throughput.n{n}")


@pytest.mark.rubric("p2.efficiency_speedup")
@pytest.mark.parametrize("quantity", ["efficiency", "speedup"])
@pytest.mark.parametrize("n", SERVERS)
def test_efficiency_and_speedup(submission, quantity, n):
    check_answer(submission, f"p2.{quantity}.n{n}")


@pytest.mark.rubric("p2.cost")
@pytest.mark.parametrize("key", ["servers", "hours", "dollars", "budget_increase"])
def test_the_most_cost_effective_configuration(submission, key):
    check_answer(submission, f"p2.cost.{key}")
