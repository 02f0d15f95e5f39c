"""The grokking reference solution (solutions/grokking/) tested on its own: data, tokenizer, model,
loss, training loop, checkpoints, commands, and its adapters against specs/grokking/adapters.py."""

import importlib.util
import inspect
import json
import subprocess
import sys

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from solutions.grokking import adapters, data, tokenizer, train
from solutions.grokking.model import ModelConfig, Transformer

from .conftest import ROOT

PACKAGE = ROOT / "solutions" / "grokking"
TINY = dict(vocab_size=tokenizer.VOCAB_SIZE, n_layer=2, n_head=4, d_model=32, d_ff=64, max_len=16)


def tiny_model(seed=0, **overrides) -> Transformer:
    torch.manual_seed(seed)
    return Transformer(ModelConfig(**{**TINY, **overrides})).eval()


# ---------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("p", data.PRIMES)
@pytest.mark.parametrize("op", ["+", "-", "/"])
def test_equations_are_every_pair_once_with_the_right_answer(op, p):
    eqs = data.equations(op, p)
    assert len(eqs) == (p * p if op != "/" else p * (p - 1))
    assert len({(a, b) for a, b, _ in eqs}) == len(eqs)
    for a, b, c in eqs:
        assert 0 <= a < p and 0 <= b < p and 0 <= c < p
        if op == "+":
            assert (c - b) % p == a
        elif op == "-":
            assert (c + b) % p == a
        else:
            assert b != 0 and (c * b) % p == a


def test_division_is_multiplication_by_the_inverse():
    assert data.answer("/", 12, 5, 97) == 12 * 39 % 97  # 5 * 39 = 195 = 2 * 97 + 1
    assert data.answer("div", 1, 2, 113) == 57  # 2 * 57 = 114
    with pytest.raises(ZeroDivisionError):
        data.answer("/", 3, 0, 97)


@pytest.mark.parametrize("op,p", [("+", 97), ("/", 97), ("-", 113), ("/", 113)])
@pytest.mark.parametrize("fraction", [0.5, 0.3])
def test_splits_are_disjoint_cover_everything_and_repeat(op, p, fraction):
    parts = data.splits(op, p, seed=3, train_fraction=fraction)
    everything = data.equations(op, p)
    joined = parts["train"] + parts["val"] + parts["test"]
    assert sorted(joined) == sorted(everything)  # disjoint and complete
    assert len(parts["train"]) == int(fraction * len(everything))
    assert abs(len(parts["val"]) - len(parts["test"])) <= 1 and len(parts["test"]) >= len(parts["val"])
    assert parts == data.splits(op, p, seed=3, train_fraction=fraction)
    assert parts["train"] != data.splits(op, p, seed=4, train_fraction=fraction)["train"]


def test_the_committed_split_files_are_the_default_splits():
    """The files the data command wrote (and REPORT.md counts) regenerate exactly: the split does
    not depend on the process, its hash seed or the Python session."""
    for op in data.OPERATIONS:
        for p in data.PRIMES:
            parts = data.splits(op, p)
            for name, eqs in parts.items():
                assert data.read_split(data.split_path(data.DATA_DIR, op, p, name)) == eqs, (op, p, name)


def test_the_data_command_prints_the_counts(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "solutions.grokking.data", "--out_dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert "9312   4656   2328   2328" in run.stdout
    assert len(list(tmp_path.glob("*.txt"))) == 18


# ---------------------------------------------------------------------------------------
# Tokenizer
# ---------------------------------------------------------------------------------------


@given(st.text(max_size=40))
def test_any_text_round_trips(text):
    assert tokenizer.decode(tokenizer.encode(text)) == text


@given(st.sampled_from(["+", "-", "/"]), st.integers(0, 112), st.integers(0, 112), st.integers(0, 112))
def test_an_equation_is_five_tokens_with_a_one_token_answer(op, a, b, c):
    ids = tokenizer.encode(f"{a}{op}{b}={c}")
    assert len(ids) == 5 and ids[-1] == tokenizer.number_id(c)
    assert tokenizer.decode(ids) == f"{a}{op}{b}={c}"


def test_digit_runs_that_are_not_numbers_round_trip():
    for text in ["007", "113", "500/3=1000", "1.5e10"]:
        assert tokenizer.decode(tokenizer.encode(text)) == text
    assert len(tokenizer.encode("I love machine learning")) == 23
    assert all(0 < i < tokenizer.VOCAB_SIZE for i in tokenizer.encode("héllo 12 ∑"))


# ---------------------------------------------------------------------------------------
# Model: padding, the answer-only forward
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("side", ["left", "right"])
def test_padding_changes_nothing_at_real_positions(side):
    model = tiny_model(seed=1)
    g = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, tokenizer.VOCAB_SIZE, (3, 7), generator=g)
    plain = model(tokens)
    for n_pad in (1, 5):
        junk = torch.randint(0, tokenizer.VOCAB_SIZE, (3, n_pad), generator=g)  # pad ids are arbitrary
        real = torch.ones(3, 7, dtype=torch.bool)
        pad = torch.zeros(3, n_pad, dtype=torch.bool)
        if side == "left":
            padded = model(torch.cat([junk, tokens], 1), torch.cat([pad, real], 1))
            at_real = padded[:, n_pad:]
        else:
            padded = model(torch.cat([tokens, junk], 1), torch.cat([real, pad], 1))
            at_real = padded[:, :7]
        assert torch.isfinite(padded).all()  # pad rows too: no empty softmax
        torch.testing.assert_close(at_real, plain, atol=1e-5, rtol=1e-5)


def test_sequences_of_different_lengths_in_one_batch_equal_each_alone():
    model = tiny_model(seed=2)
    seqs = [[5, 6, 7, 8, 9], [10, 11], [12, 13, 14]]
    for left in (False, True):
        batch = train.make_examples(seqs, [[True] * (len(s) - 1) for s in seqs], left_pad=left)
        logits = model(batch.tokens, batch.attention_mask)
        for i, s in enumerate(seqs):
            alone = model(torch.tensor([s[:-1]]))[0]
            got = logits[i][batch.attention_mask[i]]
            torch.testing.assert_close(got, alone, atol=1e-5, rtol=1e-5)


def test_the_answer_only_forward_equals_the_full_forwards_last_position():
    model = tiny_model(seed=3)
    tokens = torch.randint(0, tokenizer.VOCAB_SIZE, (4, 4))
    torch.testing.assert_close(model(tokens, last_only=True), model(tokens)[:, -1:], atol=1e-5, rtol=1e-5)


def test_the_model_is_causal():
    model = tiny_model(seed=4)
    tokens = torch.randint(0, tokenizer.VOCAB_SIZE, (2, 6))
    changed = tokens.clone()
    changed[:, 4:] = (changed[:, 4:] + 1) % tokenizer.VOCAB_SIZE
    torch.testing.assert_close(model(tokens)[:, :4], model(changed)[:, :4])


# ---------------------------------------------------------------------------------------
# The loss mask
# ---------------------------------------------------------------------------------------


def test_the_masked_loss_is_the_mean_over_masked_in_positions_with_zero_gradient_elsewhere():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 5, 11, generator=g)
    targets = torch.randint(0, 11, (3, 5), generator=g)
    mask = torch.rand(3, 5, generator=g) < 0.5
    mask[0, 0] = True
    loss, grad = adapters.masked_loss(logits, targets, mask)
    per_position = torch.nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="none")
    assert loss == pytest.approx(per_position[mask.flatten()].mean().item(), rel=1e-6)
    assert (grad[~mask] == 0).all() and (grad[mask].abs().sum(-1) > 0).all()
    other_targets = torch.where(mask, targets, (targets + 3) % 11)  # masked targets can be anything
    assert adapters.masked_loss(logits, other_targets, mask)[0] == loss


def test_equations_are_trained_on_their_answer_only():
    batch = train.equation_examples("/", data.splits("/", 97)["train"][:8])
    assert batch.loss_mask[:, -1].all() and not batch.loss_mask[:, :-1].any() and batch.answer_only
    model = tiny_model(seed=5)
    fast, _, _ = train.predictions_loss(model, batch)
    full = train.masked_loss(model(batch.tokens), batch.targets, batch.loss_mask)
    torch.testing.assert_close(fast, full)


def test_grokfast_adds_lambda_times_the_gradients_moving_average():
    p = torch.nn.Parameter(torch.zeros(3))
    f = train.GrokfastEMA([p], alpha=0.5, lamb=2.0)
    p.grad = torch.tensor([1.0, 2.0, 3.0])
    f.filter()  # average = 0.5 * 0 + 0.5 * g = g / 2; g + 2 * g / 2 = 2 g
    torch.testing.assert_close(p.grad, torch.tensor([2.0, 4.0, 6.0]))
    p.grad = torch.tensor([1.0, 2.0, 3.0])
    f.filter()  # average = 0.5 * g/2 + 0.5 * g = 3g/4; g + 1.5 g
    torch.testing.assert_close(p.grad, torch.tensor([2.5, 5.0, 7.5]))


def test_muon_takes_the_blocks_matrices_and_adamw_everything_else_once():
    model = tiny_model(seed=5)
    cfg = train.TrainConfig(optimizer="muon", lr=1e-3, muon_lr=0.02, weight_decay=1.0)
    adamw, muon = train.configure_optimizer(model, cfg).optimizers
    names = {id(p): n for n, p in model.named_parameters()}
    in_muon = [names[id(p)] for g in muon.param_groups for p in g["params"]]
    in_adamw = [names[id(p)] for g in adamw.param_groups for p in g["params"]]
    assert sorted(in_muon + in_adamw) == sorted(names.values())  # each parameter exactly once
    assert in_muon and all(n.startswith("blocks.") and n.endswith("weight") and "ln_" not in n for n in in_muon)
    assert "token_embedding.weight" in in_adamw and "lm_head.weight" in in_adamw
    # lr_at sets every group; Muon's groups keep their ratio to the AdamW lr
    assert all(g["lr_scale"] == pytest.approx(20.0) for g in muon.param_groups)


def test_a_muon_run_learns_and_saves_its_optimizer_state(tmp_path):
    cfg = train.TrainConfig(
        optimizer="muon", n_layer=1, d_model=32, d_ff=64, n_head=2, max_len=4, operation="+", p=7,
        batch_size=16, max_steps=40, lr=3e-3, threads=1, eval_interval=20, ckpt_interval=20, out_dir=str(tmp_path),
    )
    result = train.train_run(cfg, quiet=True)
    assert result["losses"][-1] < result["losses"][0]
    state = torch.load(tmp_path / "ckpt_step20.pt", weights_only=True)
    assert len(state["optimizer"]) == 2  # AdamW's state and Muon's


def test_the_weight_norm_stays_at_its_radius():
    model = tiny_model(seed=6)
    constraint = train.WeightNorm(model.parameters(), factor=0.5)
    before = constraint.norm()
    constraint.project()
    assert constraint.norm() == pytest.approx(0.5 * before, rel=1e-5)


# ---------------------------------------------------------------------------------------
# Training: sanity, reproducibility, checkpoints, commands
# ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_one_layer_model_memorises_the_string_and_not_its_masked_prefix():
    full = adapters.memorize("I love machine learning", 0, 300, seed=0)
    assert len(full["losses"]) <= 300 and full["losses"][-1] < 0.01
    assert full["sample"] == "I love machine learning"
    assert max(full["position_losses"]) < 0.01
    masked = adapters.memorize("I love machine learning", 3, 300, seed=0)
    assert max(masked["position_losses"][3:]) < 0.01
    assert min(masked["position_losses"][:3]) > 1.0  # never trained: still wrong
    assert masked["sample"] != "I love machine learning"


def test_seeded_runs_repeat_exactly_and_seeds_differ():
    first = adapters.first_losses("/", 97, seed=0, steps=3)
    assert len(first) == 3
    assert adapters.first_losses("/", 97, seed=0, steps=3) == first
    assert adapters.first_losses("/", 97, seed=1, steps=3) != first


def test_a_checkpoint_loads_to_the_same_logits(tmp_path):
    tokens = torch.randint(0, 50, (2, 6))
    config = dict(vocab_size=50, n_layer=1, n_head=2, d_model=16, d_ff=32, max_len=8)
    trained, loaded = adapters.checkpoint_round_trip(config, 0, str(tmp_path), tokens)
    assert torch.equal(trained, loaded)
    assert not torch.equal(trained, adapters.forward(config, 0, tokens, torch.ones_like(tokens, dtype=torch.bool)))
    state = torch.load(tmp_path / "model.pt", weights_only=True)
    assert set(state) == {"config", "model", "step"}  # no optimizer state in a final checkpoint


@pytest.mark.slow
def test_the_train_command_writes_config_log_and_checkpoints_and_inference_reads_them(tmp_path):
    out = tmp_path / "run"
    run = subprocess.run(
        [sys.executable, "-m", "solutions.grokking.train", "--config", str(PACKAGE / "configs" / "sanity.toml"),
         f"--out_dir={out}", "--max_steps=4", "--eval_interval=2", "--ckpt_interval=2", "--d_model", "32"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stderr
    config = json.loads((out / "config.json").read_text())
    assert config["d_model"] == 32 and config["n_layer"] == 1 and config["max_steps"] == 4
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [0, 2, 4]
    assert {"train_loss", "train_acc", "val_loss", "val_acc", "seconds"} <= set(records[-1])
    assert sorted(p.name for p in out.glob("*.pt")) == ["ckpt_step2.pt", "ckpt_step4.pt", "model.pt"]
    assert "optimizer" in torch.load(out / "ckpt_step2.pt", weights_only=True)
    run = subprocess.run(
        [sys.executable, "-m", "solutions.grokking.inference", "--checkpoint", str(out), "--prompt", "I"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("I")  # an untrained model continues with anything


def test_config_overrides_follow_the_file():
    cfg = train.load_config(["--config", str(PACKAGE / "configs" / "sanity.toml"), "--lr=0.5", "--eval_train", "false"])
    assert cfg.lr == 0.5 and cfg.eval_train is False and cfg.n_layer == 1
    with pytest.raises(SystemExit):
        train.load_config(["--no_such_key=1"])


# ---------------------------------------------------------------------------------------
# The adapters against the spec, and the committed checkpoints
# ---------------------------------------------------------------------------------------


def _spec():
    spec = importlib.util.spec_from_file_location("grokking_spec", ROOT / "specs" / "grokking" / "adapters.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_adapter_of_the_spec_is_implemented_with_its_signature():
    spec = _spec()
    names = [n for n, f in vars(spec).items() if inspect.isfunction(f) and f.__module__ == spec.__name__]
    assert names
    for name in names:
        mine = getattr(adapters, name)
        assert inspect.signature(mine) == inspect.signature(getattr(spec, name)), name


def test_the_package_imports_only_itself():
    for path in PACKAGE.glob("*.py"):
        source = path.read_text()
        assert "solutions." not in source.replace("solutions.grokking.", "") and "import grader" not in source, path
        assert "from solutions" not in source and "from grader" not in source, path


@pytest.mark.parametrize("deliverable", ["warmup", "grokking"])
def test_the_committed_checkpoints_answer_99_percent_of_their_test_split(deliverable):
    entry = adapters.trained_checkpoints()[deliverable]
    assert (PACKAGE / entry["path"]).stat().st_size < 4 * 2**20
    parts = adapters.splits(entry["operation"], entry["p"], entry["seed"], entry["train_fraction"])
    seen = {(a, b) for a, b, _ in parts["train"]}
    test = [(a, b, c) for a, b, c in parts["test"] if (a, b) not in seen]
    got = adapters.predict(entry["path"], entry["operation"], entry["p"], [(a, b) for a, b, _ in test])
    accuracy = sum(g == c for g, (_, _, c) in zip(got, test)) / len(test)
    assert accuracy >= 0.99, f"{deliverable}: {accuracy:.4f}"
    assert json.dumps(got)  # plain ints


def test_inference_answers_an_equation_from_the_command_line():
    path = PACKAGE / adapters.trained_checkpoints()["grokking"]["path"]
    run = subprocess.run(
        [sys.executable, "-m", "solutions.grokking.inference", "--checkpoint", str(path), "--prompt", "12/5="],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == f"12/5={data.answer('/', 12, 5, 97)}"
