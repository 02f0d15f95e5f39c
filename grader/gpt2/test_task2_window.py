"""Task 2: causal sliding window. Query i sees keys j with i - W < j <= i (W keys, itself included).

These checks use ordinary multi-head attention with learned positions, so that a bug in the
rotary or grouped-query code costs the points of its own item, not these.
"""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.checks import expect_equal, expect_tensor, fail

from . import reference
from .common import expect_matches_a_pairing
from .reference import config_dict, random_state_dict
from .strategies import describe, random_hidden, random_tokens


def layer_config(n_head=2, window=None):
    return config_dict(vocab_size=50, n_positions=32, n_embd=8 * n_head, n_layer=1, n_head=n_head, window=window)


@pytest.mark.rubric("window")
@settings(max_examples=8)
@given(length=st.integers(1, 12), extra=st.integers(0, 5), seed=st.integers(0, 2**16))
def test_a_window_covering_the_sequence_is_full_causal_attention(adapters, length, extra, seed):
    config = layer_config(window=length + extra)
    weights = reference.attention_weights(config, seed)
    x = random_hidden(config, 2, length, seed)
    got = adapters.attention(config, weights, x)
    expect_matches_a_pairing(got, {**config, "window": None}, weights, x, f"attention({describe(config)}, x {list(x.shape)})", last_only=False)


@pytest.mark.rubric("window", weight=2)
@settings(max_examples=12)
@given(length=st.integers(2, 14), data=st.data(), n_head=st.sampled_from([1, 2, 4]), seed=st.integers(0, 2**16))
def test_windowed_attention_equals_the_reference(adapters, length, data, n_head, seed):
    window = data.draw(st.integers(1, length - 1), label="window")
    config = layer_config(n_head=n_head, window=window)
    weights = reference.attention_weights(config, seed)
    x = random_hidden(config, 2, length, seed)
    got = adapters.attention(config, weights, x)
    expect_matches_a_pairing(got, config, weights, x, f"attention({describe(config)}, x {list(x.shape)})", last_only=False)


@pytest.mark.rubric("window", weight=2)
@settings(max_examples=10)
@given(length=st.integers(2, 14), data=st.data(), seed=st.integers(0, 2**16))
def test_a_token_reaches_exactly_the_positions_whose_window_holds_it(adapters, length, data, seed):
    window = data.draw(st.integers(1, length), label="window")
    j = data.draw(st.integers(0, length - 1), label="changed position")
    config = {**layer_config(window=window), "n_layer": 1}
    state = random_state_dict(config, seed, std=0.3)
    tokens = random_tokens(config, 1, length, seed)
    changed = tokens.clone()
    changed[0, j] = (tokens[0, j] + 1) % config["vocab_size"]
    what = f"logits({describe(config)}, tokens [1, {length}])"
    before = expect_tensor(adapters.logits(config, state, tokens), what=what, shape=(1, length, 50))
    after = expect_tensor(adapters.logits(config, state, changed), what=what, shape=(1, length, 50))
    moved = ((after - before).abs().amax(dim=-1) > 1e-5)[0].tolist()
    got = [i for i, m in enumerate(moved) if m]
    want = [i for i in range(length) if i - window < j <= i]
    if got != want:
        fail(
            f"in a one-layer model with window {window}, changing token {j} changed the logits at positions {got}; "
            f"it should change exactly positions {want} (those i with i - {window} < {j} <= i)"
        )


@pytest.mark.rubric("window")
@pytest.mark.parametrize("window", [1, 4])
def test_cached_generation_equals_uncached_generation(adapters, window):
    config = config_dict(vocab_size=60, n_positions=64, n_embd=16, n_layer=2, n_head=4, window=window)
    state = random_state_dict(config, 5, std=0.4)
    prompt = random_tokens(config, 2, 6, 5)
    what = f"generate({describe(config)}, prompt [2, 6], 20)"
    cached = expect_tensor(adapters.generate(config, state, prompt, 20, use_cache=True), what=what, shape=(2, 26), dtype=torch.int64)
    uncached = expect_tensor(adapters.generate(config, state, prompt, 20, use_cache=False), what=what, shape=(2, 26), dtype=torch.int64)
    expect_equal(cached.tolist(), uncached.tolist(), what=f"{what} with the KV cache, against without it")


@pytest.mark.rubric("window")
@pytest.mark.parametrize("length, window", [(12, 5), (3, 5), (8, 1)])
def test_the_kv_cache_keeps_only_the_last_window_positions(adapters, length, window):
    config = config_dict(vocab_size=60, n_positions=32, n_embd=16, n_layer=2, n_head=2, window=window)
    cache = adapters.kv_cache(config, random_state_dict(config, 1), random_tokens(config, 1, length, 1))
    what = f"kv_cache({describe(config)}, tokens [1, {length}])"
    if not isinstance(cache, list) or len(cache) != 2:
        fail(f"{what} should be a list of 2 [keys, values] pairs, one per layer")
    for layer, entry in enumerate(cache):
        for name, tensor in zip(("keys", "values"), entry):
            expect_tensor(tensor, what=f"{what}[{layer}] {name}", shape=(1, 2, min(length, window), 8))
