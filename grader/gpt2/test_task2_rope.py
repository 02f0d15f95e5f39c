"""Task 2: rotary position embeddings. Either pairing of dimensions is accepted (DESIGN.md)."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.checks import expect_close, expect_equal, expect_tensor, fail

from . import reference
from .common import expect_matches_a_pairing
from .reference import config_dict, parameter_count
from .strategies import describe, random_hidden, small_configs


def random_heads(seed: int, batch=2, heads=3, length=5, dim=8) -> torch.Tensor:
    return torch.randn(batch, heads, length, dim, generator=torch.Generator().manual_seed(seed))


def call_rotary(adapters, x, positions):
    what = f"rotary(x {list(x.shape)}, positions {positions.tolist()})"
    return expect_tensor(adapters.rotary(x, positions), what=what, shape=tuple(x.shape), dtype=x.dtype), what


@pytest.mark.rubric("rope")
@settings(max_examples=8)
@given(seed=st.integers(0, 2**16), dim=st.sampled_from([2, 4, 8, 16, 64]), start=st.integers(0, 500))
def test_rotation_preserves_each_vectors_norm(adapters, seed, dim, start):
    x = random_heads(seed, dim=dim)
    y, what = call_rotary(adapters, x, torch.arange(start, start + x.size(2)))
    expect_close(y.norm(dim=-1), x.norm(dim=-1), what=f"the norms of {what}", atol=1e-4, rtol=1e-4)


@pytest.mark.rubric("rope")
def test_position_zero_is_the_identity(adapters):
    x = random_heads(1, length=4, dim=16)
    y, what = call_rotary(adapters, x, torch.zeros(4, dtype=torch.int64))
    expect_close(y, x, what=what, atol=1e-6, rtol=0)


@pytest.mark.rubric("rope", weight=3)
@settings(max_examples=12)
@given(
    seed=st.integers(0, 2**16), dim=st.sampled_from([4, 8, 32]),
    m=st.integers(0, 300), n=st.integers(0, 300), shift=st.integers(-300, 300),
)
def test_scores_depend_only_on_relative_position(adapters, seed, dim, m, n, shift):
    q, k = random_heads(seed, batch=1, heads=1, length=2, dim=dim).unbind(2)
    shift = max(shift, -min(m, n))  # keep positions non-negative
    x = torch.stack([q, k, q, k], dim=2)  # [1, 1, 4, D]: q at m, k at n, then both moved by shift
    y, what = call_rotary(adapters, x, torch.tensor([m, n, m + shift, n + shift]))
    before = (y[..., 0, :] * y[..., 1, :]).sum().item()
    after = (y[..., 2, :] * y[..., 3, :]).sum().item()
    if abs(before - after) > 1e-3 * max(1.0, abs(before)):
        fail(
            f"rotated q·k is {before:.6g} for positions ({m}, {n}) but {after:.6g} for ({m + shift}, {n + shift}): "
            f"with rotary embeddings a score depends only on the distance {n - m}"
        )


@pytest.mark.rubric("rope", weight=2)
def test_frequencies_use_base_10000(adapters):
    x = random_heads(3, batch=1, heads=2, length=12, dim=16)
    positions = torch.arange(12) * 37  # far-apart positions magnify any error in the frequencies
    y, what = call_rotary(adapters, x, positions)
    errors = {p: (y.double() - reference.rotary(x, positions, 10000.0, p)).abs().max().item() for p in reference.PAIRINGS}
    if min(errors.values()) > 1e-3:
        fail(
            f"{what} matches neither accepted rotation with base 10000: largest error "
            + ", ".join(f"{e:.3g} against the {p} pairing" for p, e in errors.items())
            + ". Pair i should turn by position * 10000^(-2i/D)."
        )


@pytest.mark.rubric("rope", weight=2)
@settings(max_examples=10)
@given(config=small_configs(rope=True, n_layer=(1, 1)), seed=st.integers(0, 2**16), length=st.integers(1, 12))
def test_attention_rotates_queries_and_keys_only(adapters, config, seed, length):
    weights = reference.attention_weights(config, seed)
    x = random_hidden(config, 2, length, seed)
    got = adapters.attention(config, weights, x)
    expect_matches_a_pairing(got, config, weights, x, f"attention({describe(config)}, x {list(x.shape)})", last_only=True)


@pytest.mark.rubric("rope")
def test_no_learned_position_table_is_left(adapters):
    config = config_dict(rope=True)
    want = parameter_count(config)  # GPT-2 small without wpe's 1024 x 768 weights
    expect_equal(adapters.count_parameters(config), want, what="count_parameters(GPT-2 small with rope=True)")
