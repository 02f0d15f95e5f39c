"""Task 2: grouped-query attention. Query head h reads key/value head h // (n_head / n_kv_head)."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.checks import expect_equal, expect_tensor

from . import reference
from .common import expect_matches_a_pairing
from .reference import config_dict, parameter_count, random_state_dict
from .strategies import describe, random_hidden, random_tokens


def check_attention(adapters, config, seed, length):
    weights = reference.attention_weights(config, seed)
    x = random_hidden(config, 2, length, seed)
    got = adapters.attention(config, weights, x)
    expect_matches_a_pairing(got, config, weights, x, f"attention({describe(config)}, x {list(x.shape)})", last_only=True)


@pytest.mark.rubric("gqa")
@settings(max_examples=6)
@given(n_head=st.sampled_from([1, 2, 4]), seed=st.integers(0, 2**16), length=st.integers(1, 10))
def test_as_many_kv_heads_as_heads_is_multi_head_attention(adapters, n_head, seed, length):
    check_attention(adapters, config_dict(vocab_size=50, n_positions=32, n_embd=8 * n_head, n_layer=1, n_head=n_head), seed, length)


@pytest.mark.rubric("gqa")
@settings(max_examples=6)
@given(n_head=st.sampled_from([2, 4, 8]), seed=st.integers(0, 2**16), length=st.integers(1, 10))
def test_one_kv_head_is_multi_query_attention(adapters, n_head, seed, length):
    config = config_dict(vocab_size=50, n_positions=32, n_embd=4 * n_head, n_layer=1, n_head=n_head, n_kv_head=1)
    check_attention(adapters, config, seed, length)


@pytest.mark.rubric("gqa", weight=4)
@settings(max_examples=8)
@given(heads=st.sampled_from([(4, 2), (6, 2), (6, 3), (8, 2), (8, 4)]), seed=st.integers(0, 2**16), length=st.integers(1, 10))
def test_query_heads_share_kv_heads_in_consecutive_groups(adapters, heads, seed, length):
    n_head, n_kv_head = heads
    config = config_dict(vocab_size=50, n_positions=32, n_embd=4 * n_head, n_layer=1, n_head=n_head, n_kv_head=n_kv_head)
    check_attention(adapters, config, seed, length)


@pytest.mark.rubric("gqa")
@pytest.mark.parametrize("n_kv_head", [1, 4, 12])
def test_key_value_projections_have_n_kv_head_heads(adapters, n_kv_head):
    config = config_dict(n_kv_head=n_kv_head)
    expect_equal(adapters.count_parameters(config), parameter_count(config), what=f"count_parameters(GPT-2 small with n_kv_head={n_kv_head})")


@pytest.mark.rubric("gqa")
@pytest.mark.parametrize("n_kv_head", [1, 2, 8])
def test_the_kv_cache_shrinks_by_n_head_over_n_kv_head(adapters, n_kv_head):
    config = config_dict(vocab_size=64, n_positions=32, n_embd=32, n_layer=2, n_head=8, n_kv_head=n_kv_head)
    tokens = random_tokens(config, 2, 6, 0)
    cache = adapters.kv_cache(config, random_state_dict(config, 0), tokens)
    what = f"kv_cache({describe(config)}, tokens [2, 6])"
    if not isinstance(cache, list) or len(cache) != 2:
        expect_equal(type(cache).__name__ + f" of {len(cache) if isinstance(cache, list) else '?'} layers", "list of 2 layers", what=what)
    for layer, entry in enumerate(cache):
        for name, tensor in zip(("keys", "values"), entry):
            expect_tensor(tensor, what=f"{what}[{layer}] {name}", shape=(2, n_kv_head, 6, 4))
