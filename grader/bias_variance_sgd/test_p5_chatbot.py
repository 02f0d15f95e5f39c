"""Problem 5.1: Luong attention, the masked loss and greedy decoding (the sweep: test_p5_sweep.py).

Attention and the loss are checked on inputs and parameters the grader makes, against its own
float64 computation (grader/bias_variance_sgd/reference.py); the reference's float32 results
differ from it by under 1e-6. Greedy decoding is checked on the submission's own small model
(built from a config and a seed) against its own next-token scores, so no architecture is imposed.
"""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.checks import expect_close, expect_tensor, fail

from . import reference

METHODS = ["dot", "general", "concat"]


# Luong attention ---------------------------------------------------------------------------


def attention_inputs(method: str, seed: int, batch: int, length: int, hidden: int):
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(batch, hidden, generator=g)
    e = torch.randn(length, batch, hidden, generator=g)
    params = {}
    if method in ("general", "concat"):
        width = hidden if method == "general" else 2 * hidden
        params = {"W": torch.randn(hidden, width, generator=g) / math.sqrt(width), "b": 0.5 * torch.randn(hidden, generator=g)}
    if method == "concat":
        params["v"] = torch.randn(hidden, generator=g)
    return h, e, params


def call_attention(adapters, method, seed, batch, length, hidden):
    h, e, params = attention_inputs(method, seed, batch, length, hidden)
    what = f"luong_attention({method!r}, hidden [{batch}, {hidden}], encoder_outputs [{length}, {batch}, {hidden}], params)"
    got = adapters.luong_attention(method, h, e, params)
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        fail(f"{what} returned {type(got).__name__}; expected a tuple (scores [B, T], weights [B, T])")
    scores = expect_tensor(got[0], what=f"{what}: scores", shape=(batch, length))
    weights = expect_tensor(got[1], what=f"{what}: weights", shape=(batch, length))
    return scores, weights, reference.luong_scores(method, h, e, params), what


shapes = dict(seed=st.integers(0, 2**16), batch=st.integers(1, 4), length=st.integers(1, 7), hidden=st.integers(2, 12))


@pytest.mark.rubric("p5.attention", weight=2)
@pytest.mark.parametrize("method", METHODS)
@settings(max_examples=3)
@given(**shapes)
def test_each_score_is_luongs(adapters, method, seed, batch, length, hidden):
    scores, _, want, what = call_attention(adapters, method, seed, batch, length, hidden)
    rule = {"dot": "h_t . h_s", "general": "h_t . (W h_s + b)", "concat": "v . tanh(W [h_t; h_s] + b)"}[method]
    expect_close(scores.double(), torch.from_numpy(want), what=f"{what}: scores ({rule})", atol=1e-4, rtol=1e-4, check_dtype=False)


@pytest.mark.rubric("p5.attention")
@pytest.mark.parametrize("method", METHODS)
@settings(max_examples=2)
@given(**shapes)
def test_the_weights_are_the_softmax_of_the_scores_over_time(adapters, method, seed, batch, length, hidden):
    _, weights, want, what = call_attention(adapters, method, seed, batch, length, hidden)
    expect_close(weights.double().sum(dim=1), torch.ones(batch, dtype=torch.float64),
                 what=f"{what}: the weights summed over T", atol=1e-5, rtol=0, check_dtype=False)
    expect_close(weights.double(), torch.from_numpy(reference.softmax(want)),
                 what=f"{what}: weights (softmax of the scores over the encoder's T steps)", atol=1e-5, rtol=1e-4, check_dtype=False)


# The masked loss ---------------------------------------------------------------------------------


@st.composite
def loss_inputs(draw):
    """(logits [T, B, V], targets [T, B], mask [T, B]): each column real for its length, then padding."""
    length, batch, vocab = draw(st.integers(2, 8)), draw(st.integers(2, 4)), draw(st.integers(4, 12))
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    logits = 3 * torch.randn(length, batch, vocab, generator=g)
    targets = torch.randint(3, vocab, (length, batch), generator=g)
    lengths = torch.randint(1, length + 1, (batch,), generator=g)
    lengths[0] = max(1, length - 1)  # at least one padded position
    mask = torch.arange(length)[:, None] < lengths[None, :]
    targets[~mask] = reference.PAD
    return logits, targets, mask


def call_loss(adapters, logits, targets, mask) -> tuple[float, str]:
    what = f"masked_loss(logits {list(logits.shape)}, targets, mask with {int(mask.sum())} of {mask.numel()} real tokens)"
    got = adapters.masked_loss(logits, targets, mask)
    if type(got) is not float:
        fail(f"{what} returned {type(got).__name__} ({got!r}); expected a float (loss.item())")
    return got, what


@pytest.mark.rubric("p5.masked_loss", weight=2)
@settings(max_examples=5)
@given(inputs=loss_inputs())
def test_the_loss_is_the_mean_over_real_tokens(adapters, inputs):
    loss, what = call_loss(adapters, *inputs)
    expect_close(loss, reference.masked_cross_entropy(*inputs), what=f"{what}: the loss (sum over real tokens / their count)",
                 atol=1e-5, rtol=1e-5)


@pytest.mark.rubric("p5.masked_loss")
@settings(max_examples=3)
@given(inputs=loss_inputs(), seed=st.integers(0, 2**16))
def test_padding_changes_nothing(adapters, inputs, seed):
    logits, targets, mask = inputs
    g = torch.Generator().manual_seed(seed)
    other = torch.where(mask[..., None], logits, 10 * torch.randn(logits.shape, generator=g))
    loss, what = call_loss(adapters, logits, targets, mask)
    changed, _ = call_loss(adapters, other, targets, mask)
    expect_close(changed, loss, what=f"{what}: the loss after changing the logits at the padding", atol=1e-6, rtol=1e-6)


# Greedy decoding -----------------------------------------------------------------------------------

QUERY = [3, 4, 5, reference.EOS]


def tiny_config(method: str) -> dict:
    return {"vocab_size": 6, "hidden_size": 8, "encoder_n_layers": 1, "decoder_n_layers": 1, "attn_model": method}


def decode(adapters, method, seed, max_length) -> tuple[list[int], str]:
    what = f"greedy_decode({tiny_config(method)}, seed={seed}, input_ids={QUERY}, max_length={max_length})"
    got = adapters.greedy_decode(tiny_config(method), seed, QUERY, max_length)
    if not isinstance(got, list) or not all(type(t) is int for t in got):
        fail(f"{what} returned {got!r}; expected a list of token ids (ints)")
    if not 1 <= len(got) <= max_length:
        fail(f"{what} returned {len(got)} tokens; expected 1 to {max_length}")
    return got, what


@pytest.mark.rubric("p5.greedy", weight=2)
@pytest.mark.parametrize("method", METHODS)
def test_each_token_is_the_argmax_of_the_decoders_scores(adapters, method):
    tokens, what = decode(adapters, method, 11, 5)
    for i, token in enumerate(tokens):
        scores = expect_tensor(adapters.next_token_scores(tiny_config(method), 11, QUERY, tokens[:i]),
                               what=f"next_token_scores(..., prefix={tokens[:i]})", shape=(6,))
        best = int(scores.argmax())
        if best != token:
            fail(f"{what} returned {tokens}: token {i} is {token}, but next_token_scores after {tokens[:i]} is largest "
                 f"at {best} ({scores.tolist()}); greedy search takes the argmax at every step")


@pytest.mark.rubric("p5.greedy")
@pytest.mark.parametrize("method", METHODS)
def test_decoding_stops_at_eos(adapters, method):
    for seed in range(8):
        tokens, what = decode(adapters, method, seed, 8)
        if reference.EOS in tokens[:-1]:
            fail(f"{what} returned {tokens}: it goes on after EOS (id {reference.EOS}); the reply ends at EOS")
        if len(tokens) < 8 and tokens[-1] != reference.EOS:
            fail(f"{what} returned {tokens}: it stopped before max_length without EOS")


@pytest.mark.rubric("p5.greedy")
def test_decoding_is_deterministic(adapters):
    for seed in (5, 6, 7):
        first, what = decode(adapters, "general", seed, 8)
        again, _ = decode(adapters, "general", seed, 8)
        if first != again:
            fail(f"{what} returned {first}, then {again}; the same model and query must give the same reply "
                 "(greedy search takes the argmax: no sampling, no dropout)")
