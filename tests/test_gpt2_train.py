"""The GPT-2 reference training loop (solutions/gpt2/train.py): single process, DDP and FSDP agree.

Two ranks run on the CPU with gloo, started once for the whole module (the distributed_results
fixture), and compare against one process that trains on the same global batch. The ranks get
different numbers of valid tokens, so a loss averaged per rank instead of over the global count
of valid tokens, or a missing world_size factor, fails. SGD, not Adam, for the step comparisons:
Adam's update is almost invariant to the scale of the gradient and would hide a factor of 2.
"""

import datetime
import gc
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.testing import assert_close

from solutions.gpt2 import train
from solutions.gpt2.train import (
    build_model,
    full_gradients,
    full_state_dict,
    load_checkpoint,
    load_single_process_state,
    masked_loss,
    save_checkpoint,
    shard_indices,
    train_step,
)

ROOT = Path(__file__).resolve().parent.parent
WORLD = 2
# vocab 65 is odd: FSDP must split the [65, 16] embedding (and the tied lm_head) unevenly.
CONFIG = {"vocab_size": 65, "block_size": 16, "n_layer": 2, "n_head": 2, "n_embd": 16}
SEQ, MICRO, STEPS = 12, 2, 3  # sequence length, sequences per micro-batch, optimizer steps
CLIP = 0.05  # small enough to clip (checked below), so clipping under FSDP is exercised
TOL = {"rtol": 1e-4, "atol": 1e-6}


def make_steps() -> list[list[list[tuple]]]:
    """steps[s][rank] = two micro-batches (tokens, targets, mask). Rank 0's sequences are mostly
    padding (1..5 valid targets), rank 1's mostly full (6..12), so their counts differ."""
    g = torch.Generator().manual_seed(0)
    steps = []
    for _ in range(STEPS):
        per_rank = []
        for rank in range(WORLD):
            micro = []
            for _ in range(2):
                seq = torch.randint(0, CONFIG["vocab_size"], (MICRO, SEQ + 1), generator=g)
                low, high = (1, 6) if rank == 0 else (6, SEQ + 1)
                lengths = torch.randint(low, high, (MICRO,), generator=g)
                mask = torch.arange(SEQ)[None, :] < lengths[:, None]
                micro.append((seq[:, :-1].masked_fill(~mask, 0), seq[:, 1:].masked_fill(~mask, 0), mask))
            per_rank.append(micro)
        steps.append(per_rank)
    return steps


def global_batch(step: list) -> list[tuple]:
    return [mb for per_rank in step for mb in per_rank]  # every rank's micro-batches, in one process


def make_hf_state() -> dict:
    """Weights with a larger scale than GPT-2's init (std 0.02), so gradients are far above atol."""
    model = build_model(CONFIG, None, "single", seed=0)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.2)
    return full_state_dict(model)


def _worker(rank, store, out_dir, hf_state, steps, single_ckpt):
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"file://{store}", rank=rank, world_size=WORLD, timeout=datetime.timedelta(seconds=60)
    )
    results = {}
    for strategy in ("ddp", "fsdp"):
        # Ranks seeded differently: rank 0's initial weights must reach both.
        results[f"init_{strategy}"] = full_state_dict(build_model(CONFIG, None, strategy, seed=100 + rank))

        model = build_model(CONFIG, hf_state, strategy, seed=rank)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
        losses = [train_step(model, optimizer, steps[0][rank], clip=None)]
        results[f"grads_{strategy}"] = full_gradients(model)
        losses += [train_step(model, optimizer, steps[s][rank], clip=CLIP) for s in range(1, STEPS)]
        results[f"losses_{strategy}"] = losses
        results[f"params_{strategy}"] = full_state_dict(model)

        # Resharding 1 -> 2: a single-process checkpoint (weights and Adam state) resumes here.
        model = build_model(CONFIG, None, strategy, seed=50 + rank)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
        step = load_checkpoint(model, optimizer, single_ckpt)
        train_step(model, optimizer, steps[1][rank], clip=CLIP)
        results[f"from_single_{strategy}"] = (step, full_state_dict(model))

    # Resharding 2 -> 1: an FSDP checkpoint, then one more step for the parent to reproduce.
    model = build_model(CONFIG, hf_state, "fsdp", seed=rank)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    train_step(model, optimizer, steps[0][rank], clip=CLIP)
    save_checkpoint(model, optimizer, 1, str(Path(out_dir) / "fsdp_ckpt"))
    results["fsdp_ckpt_params"] = full_state_dict(model)
    train_step(model, optimizer, steps[1][rank], clip=CLIP)
    results["fsdp_after_params"] = full_state_dict(model)

    torch.save(results, Path(out_dir) / f"rank{rank}.pt")
    del model, optimizer
    gc.collect()  # free DDP's reducer before the group (see train.main)
    dist.barrier()
    dist.destroy_process_group()


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gpt2_train")
    hf_state, steps = make_hf_state(), make_steps()

    # The single-process checkpoint the ranks resume from, and what one more step gives.
    model = build_model(CONFIG, hf_state, "single", seed=0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    train_step(model, optimizer, global_batch(steps[0]), clip=CLIP)
    save_checkpoint(model, optimizer, 1, str(folder / "single_ckpt"))
    train_step(model, optimizer, global_batch(steps[1]), clip=CLIP)
    single_resumed = full_state_dict(model)
    return folder, hf_state, steps, single_resumed


@pytest.fixture(scope="module")
def ranks(setup):
    folder, hf_state, steps, _ = setup
    mp.spawn(
        _worker,
        args=(str(folder / "store"), str(folder), hf_state, steps, str(folder / "single_ckpt")),
        nprocs=WORLD,
        join=True,
    )
    return [torch.load(folder / f"rank{r}.pt", weights_only=True) for r in range(WORLD)]


def single_process_run(hf_state, steps, clip_after_first=CLIP):
    model = build_model(CONFIG, hf_state, "single", seed=0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    stats = [train.optimizer_step(model, optimizer, global_batch(steps[0]), clip=None)]
    grads = full_gradients(model)
    stats += [
        train.optimizer_step(model, optimizer, global_batch(steps[s]), clip=clip_after_first) for s in range(1, STEPS)
    ]
    return stats, grads, full_state_dict(model)


def assert_state_close(actual: dict, expected: dict, what: str) -> None:
    assert actual.keys() == expected.keys(), what
    for name, tensor in expected.items():
        assert_close(actual[name], tensor, **TOL, msg=lambda m, n=name: f"{what}, {n}: {m}")


# ---------------------------------------------------------------------------------------
# Without processes
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("num_examples,world_size", [(10, 2), (11, 2), (17, 3), (5, 1), (3, 4)])
def test_shard_indices_are_disjoint_equal_and_cover_all_but_the_remainder(num_examples, world_size):
    shards = [shard_indices(num_examples, r, world_size, seed=7, epoch=3) for r in range(world_size)]
    assert len({len(s) for s in shards}) == 1, "every rank gets the same count"
    union = [i for s in shards for i in s]
    assert len(union) == len(set(union)), "no example on two ranks"
    assert len(union) == num_examples - num_examples % world_size
    assert set(union) <= set(range(num_examples))
    assert shards == [shard_indices(num_examples, r, world_size, seed=7, epoch=3) for r in range(world_size)]
    other_epoch = [shard_indices(num_examples, r, world_size, seed=7, epoch=4) for r in range(world_size)]
    assert num_examples < 4 or other_epoch != shards, "a new epoch reshuffles"


def test_shard_indices_cover_everything_over_epochs():
    seen = {i for epoch in range(20) for r in range(2) for i in shard_indices(11, r, 2, seed=1, epoch=epoch)}
    assert seen == set(range(11))


def test_masked_loss_sums_valid_tokens_over_the_global_count_and_masked_positions_get_no_gradient():
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 7, requires_grad=True)
    targets = torch.randint(0, 7, (2, 5))
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 0, 0, 0, 0]], dtype=torch.bool)
    loss = masked_loss(logits, targets, mask, 10)
    per_token = torch.nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="none")
    assert_close(loss, per_token[mask.flatten()].sum() / 10)
    loss.backward()
    assert torch.count_nonzero(logits.grad[~mask]) == 0


def test_train_step_with_micro_batches_equals_one_big_batch():
    hf_state, steps = make_hf_state(), make_steps()
    grads = []
    for micro_batches in (global_batch(steps[0]), [tuple(torch.cat(t) for t in zip(*global_batch(steps[0])))]):
        model = build_model(CONFIG, hf_state, "single", seed=0)
        train_step(model, torch.optim.SGD(model.parameters(), lr=0.1), micro_batches, clip=None)
        grads.append(full_gradients(model))
    assert_state_close(grads[0], grads[1], "4 micro-batches vs 1 batch")


def test_fsdp_without_a_process_group_is_a_clear_error():
    with pytest.raises(RuntimeError, match="process group"):
        build_model(CONFIG, None, "fsdp", seed=0)


def test_config_file_then_command_line_overrides():
    cfg = train.load_config(
        [
            "--config",
            str(ROOT / "solutions/gpt2/configs/tiny.toml"),
            "--max_steps=7",
            "--strategy",
            "fsdp",
            "--window",
            "none",
            "--resume",
        ]
    )
    assert (cfg.vocab_size, cfg.max_steps, cfg.strategy, cfg.window, cfg.resume) == (65, 7, "fsdp", None, True)
    with pytest.raises(SystemExit, match="unknown option"):
        train.load_config(["--no_such_key=1"])


# ---------------------------------------------------------------------------------------
# Two ranks against one process
# ---------------------------------------------------------------------------------------


@pytest.mark.distributed
@pytest.mark.parametrize("strategy", ["ddp", "fsdp"])
def test_every_rank_starts_from_rank_0s_weights(ranks, strategy):
    expected = full_state_dict(build_model(CONFIG, None, "single", seed=100))  # rank 0's seed
    assert not torch.equal(
        expected["transformer.wte.weight"],
        full_state_dict(build_model(CONFIG, None, "single", seed=101))["transformer.wte.weight"],
    )
    for rank in range(WORLD):
        assert_state_close(ranks[rank][f"init_{strategy}"], expected, f"{strategy} rank {rank} initial weights")


@pytest.mark.distributed
@pytest.mark.parametrize("strategy", ["ddp", "fsdp"])
def test_gradients_equal_single_process_gradients_on_the_global_batch(setup, ranks, strategy):
    _, hf_state, steps, _ = setup
    counts = [sum(int(m.sum()) for _, _, m in steps[0][r]) for r in range(WORLD)]
    assert counts[0] != counts[1], "the test needs ranks with different numbers of valid tokens"
    _, grads, _ = single_process_run(hf_state, steps)
    assert "transformer.h.0.attn.c_attn.weight" in grads and grads["transformer.h.0.attn.c_attn.weight"].shape == (
        16,
        48,
    )
    for rank in range(WORLD):
        assert_state_close(ranks[rank][f"grads_{strategy}"], grads, f"{strategy} rank {rank} gradients")


@pytest.mark.distributed
@pytest.mark.parametrize("strategy", ["ddp", "fsdp"])
def test_parameters_and_losses_equal_single_process_after_three_sgd_steps(setup, ranks, strategy):
    _, hf_state, steps, _ = setup
    stats, _, params = single_process_run(hf_state, steps)
    assert all(s["grad_norm"] > CLIP for s in stats[1:]), "clipping must be active for the test to cover it"
    for rank in range(WORLD):
        assert_close(torch.tensor(ranks[rank][f"losses_{strategy}"]), torch.tensor([s["loss"] for s in stats]), **TOL)
        assert_state_close(ranks[rank][f"params_{strategy}"], params, f"{strategy} rank {rank} after {STEPS} steps")


@pytest.mark.distributed
def test_an_fsdp_checkpoint_from_two_ranks_loads_in_one_process(setup, ranks):
    folder, _, steps, _ = setup
    expected = ranks[0]["fsdp_ckpt_params"]
    assert_state_close(ranks[1]["fsdp_ckpt_params"], expected, "the ranks disagree")
    assert_state_close(load_single_process_state(str(folder / "fsdp_ckpt")), expected, "load_single_process_state")

    # load_checkpoint into a differently initialised single model, weights and Adam state both:
    # one more step must then land where the two ranks' next step did.
    model = build_model(CONFIG, None, "single", seed=999)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    assert load_checkpoint(model, optimizer, str(folder / "fsdp_ckpt")) == 1
    assert_state_close(full_state_dict(model), expected, "load_checkpoint into one process")
    train_step(model, optimizer, global_batch(steps[1]), clip=CLIP)
    assert_state_close(full_state_dict(model), ranks[0]["fsdp_after_params"], "the step after resuming")


@pytest.mark.distributed
@pytest.mark.parametrize("strategy", ["ddp", "fsdp"])
def test_a_single_process_checkpoint_resumes_on_two_ranks(setup, ranks, strategy):
    *_, single_resumed = setup
    for rank in range(WORLD):
        step, params = ranks[rank][f"from_single_{strategy}"]
        assert step == 1
        assert_state_close(params, single_resumed, f"{strategy} rank {rank} after resuming")


# ---------------------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------------------

TINY = [
    "--config",
    "solutions/gpt2/configs/tiny.toml",
    "--max_steps=6",
    "--eval_interval=3",
    "--ckpt_interval=3",
    "--log_interval=2",
]


def run_command(args: list[str]) -> str:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def read_log(out_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (out_dir / "log.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_the_command_trains_logs_and_checkpoints_on_one_process(tmp_path):
    out = run_command(["-m", "solutions.gpt2.train", *TINY, f"--out_dir={tmp_path}"])
    assert "step 6/6" in out and "tok/s" in out
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["max_steps"] == 6 and config["strategy"] == "single" and config["world_size"] == 1
    log = read_log(tmp_path)
    steps = [e for e in log if "loss" in e]
    assert [e["step"] for e in steps] == list(range(1, 7))
    assert all(e["tokens_per_s"] > 0 and e["valid_tokens"] > 0 for e in steps)
    assert [e["step"] for e in log if "val_loss" in e] == [0, 3, 6]
    assert (tmp_path / "checkpoints/step_000003/.metadata").exists() and (
        tmp_path / "checkpoints/step_000006/.metadata"
    ).exists()


@pytest.mark.slow
@pytest.mark.distributed
def test_torchrun_fsdp_on_two_ranks_then_resume_on_one(tmp_path):
    out = run_command(
        [
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            "-m",
            "solutions.gpt2.train",
            *TINY,
            "--strategy=fsdp",
            f"--out_dir={tmp_path}",
        ]
    )
    assert "world size 2" in out and "step 6/6" in out
    final = read_log(tmp_path)[-1]
    assert final["final"] and len(final["memory_per_rank"]) == 2

    out = run_command(["-m", "solutions.gpt2.train", *TINY, "--max_steps=8", "--resume", f"--out_dir={tmp_path}"])
    assert "resumed from" in out and "step_000006 at step 6" in out and "step 8/8" in out
    resumed = [e["step"] for e in read_log(tmp_path) if "loss" in e]
    assert resumed == list(range(1, 7)) + [7, 8]
