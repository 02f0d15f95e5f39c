"""Multi-process calls: the sandbox starts one process per rank in a torch.distributed group."""

import time

import pytest
import torch

from grader.sandbox import CallTimedOut, Limits, Sandbox, SubmissionExited, SubmissionRaised

pytestmark = pytest.mark.distributed

RANKS = Limits(call_timeout_s=60, memory_bytes=2 << 30, startup_timeout_s=60)

SOURCE = '''
import os
import torch
import torch.distributed as dist

def total(x):
    """Every rank adds its tensor; each returns the sum and what it knows of itself."""
    t = torch.as_tensor(x, dtype=torch.float32)
    dist.all_reduce(t)
    return {"rank": dist.get_rank(), "world": dist.get_world_size(), "sum": t, "env_rank": os.environ["RANK"]}

def rank_one_is_missing(x):
    if dist.get_rank() == 0:
        dist.all_reduce(torch.ones(1))  # rank 1 never joins: a deadlock
    return x

def rank_one_hangs(x):
    if dist.get_rank() == 1:
        import time
        time.sleep(3600)
    return x

def rank_one_raises(x):
    if dist.get_rank() == 1:
        raise ValueError("shapes differ on this rank")
    return x

def rank_one_exits(x):
    if dist.get_rank() == 1:
        os._exit(3)
    return x
'''


@pytest.fixture
def box(demo_package):
    with Sandbox(demo_package(SOURCE), "demo", RANKS) as sandbox:
        yield sandbox


def test_each_rank_gets_its_own_arguments_and_the_group_works(box):
    results = box.call_ranks("total", [((torch.tensor([1.0, 2.0]),), {}), ((torch.tensor([10.0, 20.0]),), {})])
    assert [r["rank"] for r in results] == [0, 1] and {r["world"] for r in results} == {2}
    assert [r["env_rank"] for r in results] == ["0", "1"]
    for r in results:
        assert torch.equal(r["sum"], torch.tensor([11.0, 22.0]))


def test_a_collective_that_one_rank_never_joins_fails_the_call(box):
    with pytest.raises(SubmissionRaised, match="on rank 0 of 2"):
        box.call_ranks("rank_one_is_missing", [((1,), {}), ((1,), {})], timeout=5)


def test_a_hanging_rank_fails_the_call_within_its_timeout(box):
    start = time.monotonic()
    with pytest.raises(CallTimedOut, match="on rank 1 of 2: did not finish within 5 s"):
        box.call_ranks("rank_one_hangs", [((1,), {}), ((1,), {})], timeout=5)
    assert time.monotonic() - start < 40
    box.begin_test()
    assert len(box.call_ranks("total", [(([1.0],), {})] * 3)) == 3  # the worker still serves


def test_an_exception_on_one_rank_names_the_rank(box):
    with pytest.raises(SubmissionRaised, match="on rank 1 of 2: shapes differ on this rank"):
        box.call_ranks("rank_one_raises", [((1,), {}), ((1,), {})])


def test_a_rank_that_exits_is_reported(box):
    with pytest.raises(SubmissionExited, match="rank 1 of 2"):
        box.call_ranks("rank_one_exits", [((1,), {}), ((1,), {})], timeout=10)
