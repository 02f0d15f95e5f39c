"""Task 3: one training loop for a single process, DDP and FSDP.

The single-device item is checked against a float64 reference on Hugging Face's GPT-2: the
gradient of the mean cross-entropy over the global batch's valid tokens, and plain SGD. Where the
submission's model itself disagrees with Hugging Face's (task 1 takes those points), the loop is
checked against the submission's own model instead: the batch's gradient must be the two halves'
gradients weighted by their valid-token counts, and three SGD steps must follow the submission's
own gradients. A model bug then costs task 1 and not task 3 as well. DDP and
FSDP run on two ranks (gloo on CPU) whose shares of the batch hold different numbers of valid
tokens, so a loss averaged per rank, or gradients summed instead of averaged, gives a different
result; they are checked against the submission's own single-process result on the same global
batch (the reference where that is unusable), so a model bug is not charged three times.

Tolerances, measured: the reference solution's float32 gradients differ from the float64
reference by at most ~1e-7 here (weights std 0.2, 2 layers); a per-rank loss average or a
missing 1/world_size moves them by 1e-3 or more. atol 1e-5 sits between.
"""

import pytest
import torch

from grader.checks import expect_equal, fail

from . import reference
from .common import expect_state_close, expect_state_like
from .reference import config_dict, hf_model, hf_state_dict

WORLD = 2


def _gpus() -> int:
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


# Each distributed check runs with gloo on CPU processes (the default suite) and with NCCL on
# one GPU per rank where the machine has them (tox -e gpu-distributed runs both).
BACKENDS = [
    pytest.param("gloo", marks=pytest.mark.distributed, id="gloo"),
    pytest.param("nccl", id="nccl", marks=[
        pytest.mark.distributed, pytest.mark.gpu, pytest.mark.multi_gpu,
        pytest.mark.skipif(_gpus() < WORLD, reason=f"NCCL checks need {WORLD} GPUs; this machine has {_gpus()}"),
    ]),
]
ATOL, RTOL = 1e-5, 1e-4
# vocab 65: wte [65, 16] has 1040 elements, which split evenly, but its 65 rows do not; the MLP
# bias of 64 does. n_positions 13 makes wpe [13, 16] with 13 rows: FSDP must pad its shards.
CONFIG = config_dict(vocab_size=65, n_positions=13, n_embd=16, n_layer=2, n_head=2)


def make_batch(seed: int, rows: int = 4, length: int = 12) -> dict:
    """A global batch whose first half (rank 0's share) has far fewer valid tokens than the second."""
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, CONFIG["vocab_size"], (rows, length + 1), generator=g)
    valid = torch.tensor([2, 3] + [length] * (rows - 2))[:, None]  # rows 0-1: 2-3 valid tokens
    mask = torch.arange(length)[None, :] < valid
    return {"tokens": tokens[:, :-1], "targets": tokens[:, 1:], "mask": mask}


def share(batch: dict, rank: int) -> dict:
    rows = batch["tokens"].size(0) // WORLD
    return {k: v[rank * rows : (rank + 1) * rows] for k, v in batch.items()}


@pytest.fixture(scope="module")
def weights():
    return hf_state_dict(hf_model(CONFIG, seed=3, std=0.2))


def on_ranks(submission, function, per_rank, backend):
    """Call function on WORLD ranks; per_rank(rank) gives (args, kwargs)."""
    return submission.call_ranks(function, [per_rank(rank) for rank in range(WORLD)], backend=backend)


def expect_same_on_every_rank(results, what):
    for rank in range(1, len(results)):
        for name, tensor in results[0].items():
            if not torch.equal(torch.as_tensor(results[rank].get(name)), torch.as_tensor(tensor)):
                fail(f"{what}: rank {rank}'s {name!r} differs from rank 0's; every rank must start from rank 0's weights")


# Single process ---------------------------------------------------------------------------


def model_matches_hf(adapters, weights) -> bool:
    """Whether the submission's logits on CONFIG equal Hugging Face's (task 1 grades the model)."""
    tokens = make_batch(0)["tokens"]
    want = reference.hf_from_state(CONFIG, weights)(tokens).logits.detach()
    try:
        got = adapters.logits(CONFIG, weights, tokens)
    except Exception:
        return False
    return isinstance(got, torch.Tensor) and got.shape == want.shape and torch.allclose(got.double(), want, atol=ATOL, rtol=RTOL)


def single_gradients(adapters, state, batch, what) -> dict:
    grads = adapters.train_gradients(CONFIG, state, batch["tokens"], batch["targets"], batch["mask"], "single")
    expect_state_like(grads, state, what)
    return grads


@pytest.mark.rubric("task3.single", weight=2)
def test_single_process_gradients_are_those_of_the_masked_mean_loss(adapters, weights):
    batch = make_batch(0)
    got = single_gradients(adapters, weights, batch, 'train_gradients(..., strategy="single")')
    if model_matches_hf(adapters, weights):
        want, against = reference.masked_loss_gradients(CONFIG, weights, **batch), "the reference"
    else:  # the halves of the batch, weighted by their valid tokens, through the submission's own model
        halves = [share(batch, half) for half in range(2)]
        counts = [h["mask"].sum().item() for h in halves]
        parts = [single_gradients(adapters, weights, h, f'train_gradients(half {i} of the batch, strategy="single")') for i, h in enumerate(halves)]
        want = {k: (counts[0] * parts[0][k].double() + counts[1] * parts[1][k].double()) / sum(counts) for k in weights}
        against = f"your gradients of its two halves weighted by their {counts[0]} and {counts[1]} valid tokens"
    expect_state_close(got, want, f'train_gradients(..., strategy="single") against {against}', atol=ATOL, rtol=RTOL)


@pytest.mark.rubric("task3.single")
def test_single_process_sgd_steps_follow_the_gradients(adapters, weights):
    batches = [make_batch(seed) for seed in (1, 2, 3)]
    got = adapters.train_steps(CONFIG, weights, batches, "single", 0.5)
    if model_matches_hf(adapters, weights):
        want, against = reference.sgd_steps(CONFIG, weights, batches, lr=0.5), "the reference"
    else:  # w <- w - lr * (the submission's own gradient at w), three times
        want, against = weights, "three steps along your own train_gradients"
        for i, batch in enumerate(batches):
            grads = single_gradients(adapters, want, batch, f'train_gradients(batch {i}, strategy="single")')
            want = {k: want[k] - 0.5 * grads[k] for k in want}
    expect_state_close(got, want, f'train_steps(3 batches, strategy="single", lr=0.5) against {against}', atol=ATOL, rtol=RTOL)


# DDP and FSDP: the same checks, two ranks -------------------------------------------------


def single_process(submission, function, args, want):
    """The submission's own single-process result, when it has the right names and shapes.

    DDP and FSDP are checked against it, so that a bug in the model or in the single-process loss
    costs task 3's single-device item (and task 1) but not the distributed ones as well. Where the
    single-process call fails or returns something unusable, the float64 reference stands in.
    """
    try:
        got = submission.call(function, *args)
    except Exception:
        return want, "the reference"
    ok = isinstance(got, dict) and set(got) == set(want)
    ok = ok and all(isinstance(got[k], torch.Tensor) and got[k].shape == want[k].shape and bool(got[k].isfinite().all()) for k in want)
    return (got, "your single-process result") if ok else (want, "the reference")


def check_gradients(submission, weights, strategy, backend):
    batch = make_batch(0)
    want = reference.masked_loss_gradients(CONFIG, weights, **batch)
    want, against = single_process(submission, "train_gradients", (CONFIG, weights, *batch.values(), "single"), want)
    results = on_ranks(submission, "train_gradients", lambda r: ((CONFIG, weights, *share(batch, r).values(), strategy), {}), backend)
    for rank, grads in enumerate(results):
        what = f'train_gradients(strategy="{strategy}", 2 ranks with 5 and 24 valid tokens) on rank {rank}, against {against}'
        expect_state_close(grads, want, what, atol=ATOL, rtol=RTOL)


def check_steps(submission, weights, strategy, backend):
    batches = [make_batch(seed) for seed in (1, 2, 3)]
    want = reference.sgd_steps(CONFIG, weights, batches, lr=0.5)
    want, against = single_process(submission, "train_steps", (CONFIG, weights, batches, "single", 0.5), want)
    results = on_ranks(submission, "train_steps", lambda r: ((CONFIG, weights, [share(b, r) for b in batches], strategy, 0.5), {}), backend)
    for rank, got in enumerate(results):
        what = f'train_steps(3 batches, strategy="{strategy}", lr=0.5) on rank {rank}, against {against}'
        expect_state_close(got, want, what, atol=ATOL, rtol=RTOL)


def check_initial_state(submission, strategy, backend):
    results = on_ranks(submission, "initial_state", lambda r: ((CONFIG, 100 + r, strategy), {}), backend)
    for rank, state in enumerate(results):
        if not isinstance(state, dict) or not state:
            fail(f'initial_state(strategy="{strategy}") on rank {rank} returned {type(state).__name__}; expected a dict of tensors')
    expect_same_on_every_rank(results, f'initial_state(seed=100 + rank, strategy="{strategy}")')


@pytest.mark.rubric("task3.ddp", weight=2)
@pytest.mark.parametrize("backend", BACKENDS)
def test_ddp_gradients_equal_the_single_process_gradients(submission, weights, backend):
    check_gradients(submission, weights, "ddp", backend)


@pytest.mark.rubric("task3.ddp")
@pytest.mark.parametrize("backend", BACKENDS)
def test_ddp_parameters_after_three_sgd_steps_equal_single_process(submission, weights, backend):
    check_steps(submission, weights, "ddp", backend)


@pytest.mark.rubric("task3.ddp")
@pytest.mark.parametrize("backend", BACKENDS)
def test_ddp_ranks_start_from_rank_0s_weights(submission, backend):
    check_initial_state(submission, "ddp", backend)


@pytest.mark.rubric("task3.ddp")
@pytest.mark.parametrize("num_examples", [8, 11])
def test_the_distributed_sampler_splits_the_data_between_ranks(adapters, num_examples):
    shards = [adapters.shard_indices(num_examples, rank, WORLD, 0, 0) for rank in range(WORLD)]
    what = f"shard_indices({num_examples} examples, world_size 2, seed 0, epoch 0)"
    for rank, shard in enumerate(shards):
        if not isinstance(shard, list) or not all(type(i) is int for i in shard):
            fail(f"{what} for rank {rank} returned {type(shard).__name__}; expected a list of ints")
        if not all(0 <= i < num_examples for i in shard):
            fail(f"{what} for rank {rank} holds indices outside 0..{num_examples - 1}: {shard}")
    expect_equal(len(shards[1]), len(shards[0]), what=f"{what}: rank 1's count against rank 0's")
    count, covered = len(shards[0]), set(shards[0]) | set(shards[1])
    if count not in (num_examples // WORLD, -(-num_examples // WORLD)):
        fail(f"{what}: each rank reads {count} examples; with 2 ranks each should read about half of {num_examples}")
    # Padding (DistributedSampler's default) repeats a few examples; drop_last leaves a few out.
    if len(covered) != min(count * WORLD, num_examples):
        fail(f"{what}: the ranks read {count} examples each but only {len(covered)} different ones "
             f"({sorted(set(shards[0]) & set(shards[1]))} on both); ranks must read different examples")
    expect_equal(adapters.shard_indices(num_examples, 0, WORLD, 0, 0), shards[0], what=f"{what} asked twice")


@pytest.mark.rubric("task3.fsdp", weight=2)
@pytest.mark.parametrize("backend", BACKENDS)
def test_fsdp_gradients_equal_the_single_process_gradients(submission, weights, backend):
    check_gradients(submission, weights, "fsdp", backend)


@pytest.mark.rubric("task3.fsdp", weight=2)
@pytest.mark.parametrize("backend", BACKENDS)
def test_fsdp_parameters_after_three_sgd_steps_equal_single_process(submission, weights, backend):
    check_steps(submission, weights, "fsdp", backend)


@pytest.mark.rubric("task3.fsdp")
@pytest.mark.parametrize("backend", BACKENDS)
def test_fsdp_ranks_start_from_rank_0s_weights(submission, backend):
    check_initial_state(submission, "fsdp", backend)


@pytest.mark.rubric("task3.fsdp", weight=2)
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_checkpoint_saved_under_fsdp_loads_into_a_single_process(submission, adapters, weights, backend):
    folder = submission.sandbox.scratch("fsdp-checkpoint")
    on_ranks(submission, "save_checkpoint", lambda r: ((CONFIG, weights, folder, "fsdp"), {}), backend)
    got = adapters.load_checkpoint(CONFIG, folder)
    expect_state_close(got, weights, "load_checkpoint(a checkpoint saved under FSDP on 2 ranks)", atol=0, rtol=0)
