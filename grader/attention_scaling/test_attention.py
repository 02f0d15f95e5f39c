"""2.1.1-2.1.3: scaled dot-product attention, its causal variant, and positional encodings.

Attention is compared with the grader's float64 computation on the same weights: the student's
own initial weights (attention_init) and, to make every term count, weights the grader draws with
a larger scale. The causal checks also perturb future keys and values and demand that earlier
outputs stay as they were, at any sequence length.

Tolerances, measured on the reference over 300 random cases: with its own initial weights its
float32 attention stays within 2% of the tolerance (atol 1e-5 + rtol 1e-5); with the grader's
std-0.6 weights the context reaches values near 10 and float32 rounding errors of 1.2e-5, hence
atol = rtol = 1e-4 there (12% of it used). The bugs these checks target move the weights far more:
scaling the scores by sqrt(hidden_size) instead of 1/sqrt(hidden_size) by 0.5 to 0.7, a softmax
over the queries by 0.2 to 1. A masked key gets exactly zero weight (exp(-1e7 - max) underflows),
so the perturbation checks allow only float rounding of the rows that do not change. Sinusoids
computed in float32 at positions up to 1000 differ from float64 by up to 6e-5 (the angle's
rounding), inside the 5e-4 allowed; a wrong frequency (i/d for 2i/d) moves them by up to 2.

The property checks (weights sum to one, zero above the diagonal, later keys change nothing) would
also hold for an attention that ignores its inputs (uniform weights, a constant context), so they
also ask that the weights are not uniform and that the last output moves with the keys and values
it sees. attention_init's weight matrices must be random (std >= 0.01, common.MIN_INIT_STD): on
zero or tiny weights the reference itself is that trivial answer.
"""

import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from grader.checks import expect_close, expect_tensor, fail
from grader.sandbox import SubmissionError

from . import reference
from .common import as_state_dict, attention_pair

ATOL, RTOL = 1e-5, 1e-5
LARGE_ATOL, LARGE_RTOL = 1e-4, 1e-4  # the grader's std-0.6 weights: values of ~10, float32 rounding ~1e-5
PE_ATOL = 5e-4


def inputs(seed: int, batch: int, queries: int, keys: int, hidden: int, two_d: bool = False):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn((batch, hidden) if two_d else (batch, queries, hidden), generator=g)
    return q, torch.randn(batch, keys, hidden, generator=g), torch.randn(batch, keys, hidden, generator=g)


def own_weights(adapters, hidden: int, seed: int):
    shapes = {name: (hidden, hidden) if name.endswith("weight") else (hidden,) for name in reference.attention_names()}
    return as_state_dict(adapters.attention_init(hidden, seed), shapes, f"attention_init({hidden}, seed={seed})",
                         init=True)


def causal_weights(adapters, hidden: int, seed: int):
    """The student's own initial weights when attention_init works; otherwise weights drawn like
    nn.Linear's init, so that a broken attention_init costs attention.scaled_dot only."""
    try:
        return own_weights(adapters, hidden, seed)
    except (SubmissionError, pytest.fail.Exception):
        g = torch.Generator().manual_seed(seed)
        bound = hidden**-0.5
        return {name: (torch.rand(w.shape, generator=g) * 2 - 1) * bound
                for name, w in reference.random_attention_weights(hidden, seed, 1.0).items()}


def call(adapters, causal, sd, q, k, v):
    name = "causal_scaled_dot_attention" if causal else "scaled_dot_attention"
    what = f"{name}(weights, queries {list(q.shape)}, keys {list(k.shape)}, values {list(v.shape)})"
    got = getattr(adapters, name)(sd, q, k, v)
    n_queries = 1 if q.dim() == 2 else q.size(1)
    return (*attention_pair(got, what, q.size(0), n_queries, k.size(1), q.size(-1)), what)


def expect_weights_use_the_scores(weights, what: str, causal: bool) -> None:
    """Fail when every query weights the keys it sees alike: uniform weights sum to one (and stay
    causal) without any scores computed. The grader's weights give rows far from uniform."""
    seen = torch.ones(weights.shape[-2:], dtype=torch.float64)
    seen = seen.tril() if causal else seen
    if (weights.double() - seen / seen.sum(-1, keepdim=True)).abs().max() <= 1e-6:
        fail(f"{what}: every query gives the same weight to each key it sees (1 / their number): the attention_weights "
             "ignore the scores; they must be the softmax of the scores q·k / sqrt(H)")


# 2.1.1: ScaledDotAttention ------------------------------------------------------------------

shapes = st.tuples(st.integers(1, 3), st.integers(1, 6), st.integers(1, 7), st.sampled_from([4, 8, 16]))


@pytest.mark.rubric("attention.scaled_dot", weight=2)
@settings(max_examples=4)
@given(shape=shapes, seed=st.integers(0, 2**16))
@example(shape=(2, 5, 7, 16), seed=0)
def test_attention_equals_the_reference_on_your_own_weights(adapters, shape, seed):
    batch, n_queries, n_keys, hidden = shape
    sd = own_weights(adapters, hidden, seed)
    q, k, v = inputs(seed, batch, n_queries, n_keys, hidden)
    context, weights, what = call(adapters, False, sd, q, k, v)
    want_context, want_weights = reference.attention(sd, q, k, v)
    expect_close(weights.double(), want_weights, what=f"{what}: attention_weights (softmax over keys of scores / sqrt(H))",
                 atol=ATOL, rtol=RTOL, check_dtype=False)
    expect_close(context.double(), want_context, what=f"{what}: context", atol=ATOL, rtol=RTOL, check_dtype=False)


@pytest.mark.rubric("attention.scaled_dot", weight=2)
@pytest.mark.parametrize("hidden", [8, 32])
def test_attention_equals_the_reference_on_large_weights(adapters, hidden):
    sd = reference.random_attention_weights(hidden, seed=hidden, scale=0.6)
    q, k, v = inputs(1, 2, 4, 6, hidden)
    context, weights, what = call(adapters, False, sd, q, k, v)
    want_context, want_weights = reference.attention(sd, q, k, v)
    expect_close(weights.double(), want_weights, what=f"{what} with the grader's weights (std 0.6): attention_weights",
                 atol=LARGE_ATOL, rtol=LARGE_RTOL, check_dtype=False)
    expect_close(context.double(), want_context, what=f"{what} with the grader's weights: context",
                 atol=LARGE_ATOL, rtol=LARGE_RTOL, check_dtype=False)


@pytest.mark.rubric("attention.scaled_dot")
def test_attention_weights_sum_to_one_over_the_keys(adapters):
    sd = reference.random_attention_weights(16, seed=3, scale=0.5)
    q, k, v = inputs(3, 3, 5, 9, 16)
    _, weights, what = call(adapters, False, sd, q, k, v)
    if (weights < 0).any():
        fail(f"{what}: attention_weights has negative entries (down to {weights.min().item():.3g}); they are probabilities")
    expect_close(weights.sum(-1).double(), torch.ones(3, 5, dtype=torch.float64),
                 what=f"{what}: attention_weights summed over the keys (last dimension)", atol=ATOL, rtol=0, check_dtype=False)
    expect_weights_use_the_scores(weights, what, causal=False)


@pytest.mark.rubric("attention.scaled_dot")
def test_two_dimensional_queries_are_one_query_each(adapters):
    sd = own_weights(adapters, 8, seed=5)
    q, k, v = inputs(5, 3, 1, 6, 8, two_d=True)
    context, weights, what = call(adapters, False, sd, q, k, v)  # shapes [3, 1, 8] and [3, 1, 6]
    want_context, want_weights = reference.attention(sd, q, k, v)
    expect_close(weights.double(), want_weights, what=f"{what}: attention_weights", atol=ATOL, rtol=RTOL, check_dtype=False)
    expect_close(context.double(), want_context, what=f"{what}: context", atol=ATOL, rtol=RTOL, check_dtype=False)


# 2.1.2: CausalScaledDotAttention ------------------------------------------------------------


@pytest.mark.rubric("attention.causal", weight=2)
@settings(max_examples=4)
@given(length=st.integers(1, 48), batch=st.integers(1, 2), seed=st.integers(0, 2**16))
@example(length=40, batch=2, seed=0)
def test_causal_attention_equals_the_reference_at_any_length(adapters, length, batch, seed):
    sd = causal_weights(adapters, 8, seed)
    q, k, v = inputs(seed, batch, length, length, 8)
    context, weights, what = call(adapters, True, sd, q, k, v)
    want_context, want_weights = reference.attention(sd, q, k, v, causal=True)
    expect_close(weights.double(), want_weights, what=f"{what}: attention_weights (query i sees keys j <= i)",
                 atol=ATOL, rtol=RTOL, check_dtype=False)
    expect_close(context.double(), want_context, what=f"{what}: context", atol=ATOL, rtol=RTOL, check_dtype=False)


@pytest.mark.rubric("attention.causal", weight=2)
@settings(max_examples=4)
@given(length=st.integers(2, 40), pick=st.integers(0, 2**16))
@example(length=33, pick=20)
def test_later_keys_and_values_never_change_earlier_outputs(adapters, length, pick):
    position = pick % (length - 1)  # 0 .. length - 2: some position has later ones
    sd = reference.random_attention_weights(8, seed=length, scale=0.5)
    x = inputs(length, 1, length, length, 8)[0]
    noise = 5 * torch.randn(1, length, 8, generator=torch.Generator().manual_seed(position))
    later = x.clone()
    later[:, position + 1 :] += noise[:, position + 1 :]
    first, first_weights, what = call(adapters, True, sd, x, x, x)
    # Only the keys and values change: the queries stay those of the original sequence.
    second, second_weights, _ = call(adapters, True, sd, x, later, later)
    expect_close(second[:, : position + 1], first[:, : position + 1], atol=1e-6, rtol=1e-6,
                 what=f"{what}: outputs at positions 0..{position} after changing the keys and values after position {position}")
    expect_close(second_weights[:, : position + 1], first_weights[:, : position + 1], atol=1e-6, rtol=1e-6,
                 what=f"{what}: attention_weights of queries 0..{position} after changing later keys")
    if (second[:, -1] - first[:, -1]).abs().max() <= 1e-6:  # a constant output passes the checks above
        fail(f"{what}: the output at the last position, {length - 1}, stays the same after the keys and values "
             f"after position {position} change; it attends to them, so its context (the weighted sum of the "
             "values) must change")


@pytest.mark.rubric("attention.causal")
def test_causal_weights_are_zero_above_the_diagonal_and_sum_to_one(adapters):
    sd = reference.random_attention_weights(16, seed=7, scale=0.5)
    q, k, v = inputs(7, 2, 12, 12, 16)
    _, weights, what = call(adapters, True, sd, q, q, q)
    above = torch.ones(12, 12, dtype=torch.bool).triu(1).expand(2, 12, 12)
    if (weights[above] != 0).any():
        i, j = above.nonzero()[int((weights[above] != 0).nonzero()[0])].tolist()[1:]
        fail(f"{what}: query {i} gives weight {weights[0, i, j].item():.3g} to the later key {j}; "
             "keys after the query's position must get exactly 0")
    expect_close(weights.sum(-1).double(), torch.ones(2, 12, dtype=torch.float64),
                 what=f"{what}: attention_weights summed over the keys", atol=ATOL, rtol=0, check_dtype=False)
    expect_weights_use_the_scores(weights, what, causal=True)


# 2.1.3: positional encodings ----------------------------------------------------------------


def call_encodings(adapters, n: int, hidden: int):
    what = f"positional_encodings({n}, {hidden})"
    return expect_tensor(adapters.positional_encodings(n, hidden), what=what, shape=(n, hidden), dtype=torch.float32), what


@pytest.mark.rubric("attention.positional", weight=2)
@pytest.mark.parametrize("hidden", [16, 64])
def test_positional_encodings_equal_the_sinusoids(adapters, hidden):
    got, what = call_encodings(adapters, 1000, hidden)
    expect_close(got.double(), reference.positional_encodings(1000, hidden), what=what, atol=PE_ATOL, rtol=0, check_dtype=False)


@pytest.mark.rubric("attention.positional")
@pytest.mark.parametrize("n, hidden", [(1, 8), (7, 32)])
def test_positional_encodings_have_one_row_per_position(adapters, n, hidden):
    got, what = call_encodings(adapters, n, hidden)
    expect_close(got.double(), reference.positional_encodings(n, hidden), what=what, atol=PE_ATOL, rtol=0, check_dtype=False)


@pytest.mark.rubric("attention.positional")
def test_sines_in_even_columns_and_cosines_in_odd_ones(adapters):
    got, what = call_encodings(adapters, 50, 12)
    got = got.double()
    # Column 0 has frequency 1: sin(pos); column 1 is cos(pos). Each (2i, 2i+1) pair is a point on the unit circle.
    positions = torch.arange(50, dtype=torch.float64)
    expect_close(got[:, 0], positions.sin(), what=f"{what}[:, 0] (sin(pos))", atol=1e-5, rtol=0, check_dtype=False)
    expect_close(got[:, 1], positions.cos(), what=f"{what}[:, 1] (cos(pos))", atol=1e-5, rtol=0, check_dtype=False)
    expect_close(got[:, 0::2] ** 2 + got[:, 1::2] ** 2, torch.ones(50, 6, dtype=torch.float64), atol=1e-5, rtol=0,
                 what=f"{what}: sin^2 + cos^2 of each (even, odd) column pair", check_dtype=False)
