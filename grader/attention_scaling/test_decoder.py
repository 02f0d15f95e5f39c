"""2.2: the decoder-only model's training tensors and its forward pass.

The forward pass is checked against a reference the grader composes from the student's own
parts: their weights (decoder_init), their positional encodings and their causal attention
(called through their adapters, layer by layer, on the grader's intermediate values). So this item
checks how the decoder puts the parts together (embedding + positions, the two residual
connections, the ReLU MLP, the output layer, the stacked weights); a bug inside attention or the
encodings costs those items, not this one. For the same reason the decoder's own causality check
(later tokens never change earlier logits) is skipped, saying why, when the student's causal
attention is itself not causal. The weight names and shapes of decoder_init are checked by every
forward check before it calls the decoder, and its weight matrices must be random (std >= 0.01,
common.MIN_INIT_STD): on zero weights the composition is itself constant, so a decoder that
returns zeros would match it. The causality check also asks that the logits at the changed
positions do change (a constant output never changes earlier logits either). Tolerance: the
reference decoder in float32 against this float64 composition differs by at most 2e-6 on these
sizes; a missing residual or ReLU changes logits by more than 1e-1.
"""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.checks import expect_close, expect_tensor, fail
from grader.sandbox import SubmissionError

from . import reference
from .common import as_state_dict, as_tuple

CONFIG = {"vocab_size": 13, "hidden_size": 16, "num_layers": 2}
ATOL, RTOL = 1e-4, 1e-4


# The training tensors ------------------------------------------------------------------------


@st.composite
def pairs(draw):
    """(src_EOP [B, S], tgt_EOS [B, T], start_token) with distinct-looking ids."""
    batch, s, t = draw(st.integers(1, 3)), draw(st.integers(1, 6)), draw(st.integers(1, 6))
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    return torch.randint(3, 30, (batch, s), generator=g), torch.randint(30, 60, (batch, t), generator=g), draw(st.integers(0, 2))


@pytest.mark.rubric("decoder.training_tensors", weight=2)
@settings(max_examples=5)
@given(case=pairs())
def test_training_inputs_are_the_targets_shifted_right_after_the_start_token(adapters, case):
    src, tgt, start = case
    what = f"generate_tensors_for_training_decoder(src_EOP {list(src.shape)}, tgt_EOS {list(tgt.shape)}, start_token={start})"
    inputs, _ = as_tuple(adapters.generate_tensors_for_training_decoder(src, tgt, start), 2, what, "(inputs, targets)")
    want, _ = reference.training_tensors(src, tgt, start)
    expect_tensor(inputs, what=f"{what}: inputs", shape=tuple(want.shape), dtype=torch.int64)
    expect_close(inputs, want, what=f"{what}: inputs = [start_token] + src_EOP + tgt_EOS[:, :-1]", atol=0, rtol=0)


@pytest.mark.rubric("decoder.training_tensors", weight=2)
@settings(max_examples=5)
@given(case=pairs())
def test_training_targets_are_the_source_then_the_translation(adapters, case):
    src, tgt, start = case
    what = f"generate_tensors_for_training_decoder(src_EOP {list(src.shape)}, tgt_EOS {list(tgt.shape)}, start_token={start})"
    _, targets = as_tuple(adapters.generate_tensors_for_training_decoder(src, tgt, start), 2, what, "(inputs, targets)")
    _, want = reference.training_tensors(src, tgt, start)
    expect_tensor(targets, what=f"{what}: targets", shape=tuple(want.shape), dtype=torch.int64)
    expect_close(targets, want, what=f"{what}: targets = src_EOP + tgt_EOS", atol=0, rtol=0)


# The forward pass ----------------------------------------------------------------------------


def own_weights(adapters, seed: int = 0) -> dict:
    return as_state_dict(adapters.decoder_init(CONFIG, seed), reference.decoder_names(CONFIG),
                         f"decoder_init({CONFIG}, seed={seed})", init=True)


def tokens(seed: int, batch: int, length: int):
    return torch.randint(0, CONFIG["vocab_size"], (batch, length), generator=torch.Generator().manual_seed(seed))


def call_forward(adapters, sd, x):
    what = f"decoder_forward({CONFIG}, weights, tokens {list(x.shape)})"
    logits, weights = as_tuple(adapters.decoder_forward(CONFIG, sd, x), 2, what, "(logits, attention_weights)")
    B, T = x.shape
    expect_tensor(logits, what=f"{what}: logits", shape=(B, T, CONFIG["vocab_size"]), dtype=torch.float32)
    expect_tensor(weights, what=f"{what}: attention_weights (stacked over layers first)",
                  shape=(CONFIG["num_layers"], B, T, T), dtype=torch.float32)
    return logits, weights, what


def their_parts(adapters, length: int):
    """(encodings, attend): the student's positional encodings and causal attention, or the
    grader's own where theirs fail to run, so this item is not charged for those parts."""
    try:
        encodings = adapters.positional_encodings(length, CONFIG["hidden_size"])
        assert type(encodings) is torch.Tensor and tuple(encodings.shape) == (length, CONFIG["hidden_size"])
    except (SubmissionError, AssertionError):
        encodings = reference.positional_encodings(length, CONFIG["hidden_size"])

    def attend(layer_weights, x):
        x32 = x.float()
        try:
            got = adapters.causal_scaled_dot_attention(layer_weights, x32, x32, x32)
            context, weights = got
            assert type(context) is torch.Tensor and context.shape == x.shape
            assert type(weights) is torch.Tensor and weights.shape == (*x.shape[:2], x.size(1))
            return context, weights
        except (SubmissionError, AssertionError, TypeError, ValueError):
            return reference.attention(layer_weights, x, x, x, causal=True)

    return encodings, attend


@pytest.mark.rubric("decoder.forward", weight=2)
@pytest.mark.parametrize("batch, length", [(1, 5), (3, 9)])
def test_decoder_equals_the_composition_of_your_parts(adapters, batch, length):
    sd = own_weights(adapters, seed=length)
    x = tokens(length, batch, length)
    logits, weights, what = call_forward(adapters, sd, x)
    encodings, attend = their_parts(adapters, length)
    want_logits, want_weights = reference.decoder(CONFIG, sd, x, encodings, attend)
    expect_close(weights.double(), want_weights, atol=ATOL, rtol=RTOL, check_dtype=False,
                 what=f"{what}: attention_weights, against each layer's causal attention on its input")
    expect_close(logits.double(), want_logits, atol=ATOL, rtol=RTOL, check_dtype=False,
                 what=f"{what}: logits, against embedding + positions, then per layer x + attention(x), "
                      "x + relu(mlp(x)), then the output layer")


def their_attention_leaks(adapters) -> bool:
    """Whether the student's causal attention runs and lets earlier outputs change with later
    inputs. (One that fails to run is not known to leak: the decoder may not use it.)"""
    sd = reference.random_attention_weights(CONFIG["hidden_size"], seed=0, scale=0.5)
    x = torch.randn(1, 10, CONFIG["hidden_size"], generator=torch.Generator().manual_seed(0))
    later = x.clone()
    later[:, 6:] += 1
    try:
        first = adapters.causal_scaled_dot_attention(sd, x, x, x)[0]
        second = adapters.causal_scaled_dot_attention(sd, later, later, later)[0]
        return not torch.allclose(first[:, :6], second[:, :6], atol=1e-6, rtol=1e-6)
    except (SubmissionError, TypeError, IndexError, RuntimeError):
        return False


@pytest.mark.rubric("decoder.forward")
def test_later_tokens_never_change_earlier_logits(adapters):
    if their_attention_leaks(adapters):
        pytest.skip("your causal_scaled_dot_attention lets earlier positions see later ones, which attention.causal "
                    "already charges; the decoder's causality is not checked again")
    sd = own_weights(adapters, seed=1)
    x = tokens(1, 2, 10)
    changed = x.clone()
    changed[:, 6:] = (changed[:, 6:] + 1 + tokens(2, 2, 4)) % CONFIG["vocab_size"]
    first, _, what = call_forward(adapters, sd, x)
    second, _, _ = call_forward(adapters, sd, changed)
    expect_close(second[:, :6], first[:, :6], atol=1e-6, rtol=1e-6,
                 what=f"{what}: logits at positions 0..5 after changing the tokens at positions 6..9")
    if (second[:, 6:] - first[:, 6:]).abs().max() <= 1e-6:  # a constant output passes the check above
        fail(f"{what}: the logits at positions 6..9 stay the same after the tokens there change; each position's "
             "logits depend on its own token (embedding + position, through the layers, to the output layer)")


@pytest.mark.rubric("decoder.forward")
def test_with_silent_layers_the_residual_stream_carries_the_embeddings(adapters):
    # With zero value projections attention adds nothing, and with a zero MLP neither does the
    # MLP: the residual stream must carry embedding + position to the output layer untouched.
    sd = own_weights(adapters, seed=2)
    silent = dict(sd)
    for name in sd:
        if ".attention.value." in name or ".mlp." in name:
            silent[name] = torch.zeros_like(sd[name])
    x = tokens(2, 2, 7)
    logits, _, what = call_forward(adapters, silent, x)
    encodings, _ = their_parts(adapters, 7)
    stream = sd["embedding.weight"].double()[x] + encodings.double()
    want = stream @ sd["out.weight"].double().T + sd["out.bias"].double()
    expect_close(logits.double(), want, atol=ATOL, rtol=RTOL, check_dtype=False,
                 what=f"{what} with zero value projections and zero MLPs: logits (expected out(embedding + positions))")
