"""The written analysis of the GPT-2 variants (solutions/gpt2/analysis.py): its formulas agree with
the model, its measurements run, and its quick mode writes every output."""

import json
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from solutions.gpt2 import analysis
from solutions.gpt2.model import GPT, GPTConfig

SMALL = GPTConfig(vocab_size=97, block_size=32, n_layer=2, n_head=4, n_embd=32)


@pytest.fixture
def one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def test_gpt2_small_parameter_counts():
    rows = analysis.parameter_table(analysis.gpt2_small_variants(256))
    assert rows["baseline"]["parameters"] == 124_439_808
    assert rows["rope"]["delta_vs_baseline"] == -1024 * 768  # no learned position table
    assert rows["window256"]["delta_vs_baseline"] == 0  # a mask has no parameters
    # GQA shrinks c_attn from 3 * 768 outputs to (12 + 2K) * 64, weights and biases, in 12 layers
    for name, K in (("gqa4", 4), ("mqa", 1)):
        assert rows[name]["delta_vs_baseline"] == -12 * (768 + 1) * (24 - 2 * K) * 64
    for row in rows.values():
        assert row["parameters"] == row["formula"]


@pytest.mark.parametrize(
    "config",
    [SMALL, replace(SMALL, rope=True), replace(SMALL, n_kv_head=2), replace(SMALL, n_kv_head=1), replace(SMALL, window=5)],
    ids=["baseline", "rope", "gqa", "mqa", "window"],
)
def test_parameter_formula_matches_an_instantiated_model(config):
    assert analysis.parameter_formula(config) == GPT(config).num_parameters() == analysis.count_parameters(config)


def test_kv_bytes_per_token():
    variants = analysis.gpt2_small_variants(256)
    assert analysis.kv_bytes_per_token(variants["baseline"], 4) == 2 * 12 * 12 * 64 * 4 == 73_728
    assert analysis.kv_bytes_per_token(variants["baseline"], 2) == 36_864
    assert analysis.kv_bytes_per_token(variants["gqa4"], 4) == 24_576
    assert analysis.kv_bytes_per_token(variants["mqa"], 2) == 3_072
    assert analysis.kv_cache_bytes(variants["window256"], 1000) == 256 * 73_728
    assert analysis.kv_cache_bytes(variants["window256"], 100) == 100 * 73_728


def test_measured_cache_holds_the_formula_and_a_window_caps_it(one_thread):
    configs = {"full": replace(SMALL, n_kv_head=2), "window": replace(SMALL, n_kv_head=2, window=8)}
    measured = analysis.measure_kv_cache(configs, prompt_len=3, total_len=30, every=4)
    for name, rows in measured.items():
        assert rows["tokens"][0] == 3 and rows["tokens"][-1] == 30
        expected = [analysis.kv_cache_bytes(configs[name], n) for n in rows["tokens"]]
        assert rows["formula_bytes"] == expected
        assert all(live >= e for live, e in zip(rows["live_bytes"], expected))
        assert all(a >= live for a, live in zip(rows["allocated_bytes"], rows["live_bytes"]))
    window = measured["window"]
    capped = [b for n, b in zip(window["tokens"], window["live_bytes"]) if n >= 16]
    assert len(set(capped)) == 1, "a windowed cache must stop growing"
    assert measured["full"]["live_bytes"][-1] > capped[0]


def test_attention_flops_formula_counts_the_mask():
    for T, W in [(1, 1), (7, 3), (16, 16), (40, 9)]:
        pairs = int(analysis.window_mask(T, W).sum())
        assert analysis.attention_score_flops(T, 8, window=W) == 4 * 8 * pairs
        assert analysis.attention_score_flops(T, 8) == 4 * 8 * int(analysis.window_mask(T, None).sum())
    assert analysis.attention_score_flops(10, 8, dense=True) == 4 * 8 * 100


@pytest.mark.parametrize("T, W", [(1, 4), (13, 4), (32, 8), (33, 1), (20, 64)])
def test_banded_attention_equals_the_dense_masked_one(T, W):
    g = torch.Generator().manual_seed(T * 100 + W)
    q, k, v = (torch.randn(2, 3, T, 8, generator=g) for _ in range(3))
    dense = F.scaled_dot_product_attention(q, k, v, attn_mask=analysis.window_mask(T, W))
    torch.testing.assert_close(analysis.banded_attention(q, k, v, W), dense)


def test_small_bpe_round_trips_and_keeps_gpt2_ids():
    enc = analysis.small_bpe(512)
    text = 'def f(x):\n    """Return the answer."""  # ünïcode'
    ids = enc.encode_ordinary(text)
    assert enc.decode(ids) == text and max(ids) < 512
    from solutions.gpt2.tokenizer import decode

    assert decode(ids) == text  # the ids are GPT-2's own


@pytest.mark.slow
def test_quick_mode_writes_every_output(tmp_path, one_thread):
    results = analysis.run_all(tmp_path, quick=True, steps=4, log=lambda *a: None)
    names = {"results.json", "kv_cache.png", "attention_cost.png", "decode_time.png", "training_loss.png", "loss_by_position.png"}
    assert names <= {p.name for p in tmp_path.iterdir()}
    for name in names - {"results.json"}:
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["parameters"]["baseline"]["parameters"] == 124_439_808
    runs = saved["training"]["runs"]
    assert set(runs) == {"baseline", "rope", "gqa1", "window8"}
    for run in runs.values():
        assert len(run["history"]["train_loss"]) == 4 and run["final_val_loss"] > 0
        assert len(run["val_loss_by_position"]) == 32
    assert "extrapolation" in runs["rope"] and "extrapolation" not in runs["baseline"]
    kernel = saved["attention"]["kernel"]
    assert max(kernel["max_abs_diff_banded_vs_mask"]) < 1e-5
    assert all(t > 0 for t in saved["decode"]["full"])
    assert results["timings_s"]["total"] > 0
