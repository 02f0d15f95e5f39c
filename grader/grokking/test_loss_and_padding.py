"""Part 1: the masked loss, and attention masking of pad tokens.

The loss is checked on logits the grader makes, against its own float64 cross-entropy: the mean
over the masked-in positions, and its gradient (softmax - one_hot) / count there and exactly zero
elsewhere. Padding is checked on the submission's own model, built from a small config with a
seed: padded and unpadded versions of the same sequences must give the same logits at real
tokens, and so must the same padded batch with other ids at its pad positions.

Tolerances, measured on the reference solution: its float32 loss differs from the float64
reference by at most 2e-7 (relative) and its gradient by 2e-8 (50 random cases); ignoring the
mask or dividing by the number of all positions moves them by 1e-3 or more. A right-padded
sequence's logits differ from the same sequence alone by at most 6e-8 (other shapes, a masked
softmax); a position counted wrongly moves them by ~1. Changing only the pad ids keeps shapes and
mask the same, so a model that masks the pads gives identical logits (a masked key weighs exactly
0); attending to the pads moved the reference model's logits by only 1e-4 to 7e-4 (30 seeds,
weights at their init: small attention weights make nearly uniform attention over the pads). Hence
the tight tolerance of that check, and several pads in each of its sequences.
"""

import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from grader.checks import expect_close, expect_tensor, fail

from . import reference

LOSS_ATOL, LOSS_RTOL = 1e-6, 1e-5
LOGIT_ATOL, LOGIT_RTOL = 1e-5, 1e-5  # padded against unpadded: other shapes
PAD_IDS_ATOL = 1e-6  # the same batch with other pad ids: the same computation on the real tokens
CONFIG = reference.model_config(vocab_size=24, n_layer=2, n_head=2, d_model=16, d_ff=32, max_len=16)


@st.composite
def loss_inputs(draw):
    """(logits [B, T, V], targets [B, T], loss_mask [B, T]) with masked-in and masked-out positions."""
    batch, length, vocab = draw(st.integers(1, 3)), draw(st.integers(2, 8)), draw(st.integers(3, 20))
    seed = draw(st.integers(0, 2**16))
    g = torch.Generator().manual_seed(seed)
    logits = 3 * torch.randn(batch, length, vocab, generator=g)
    targets = torch.randint(0, vocab, (batch, length), generator=g)
    mask = torch.rand(batch, length, generator=g) < 0.5
    mask.view(-1)[seed % mask.numel()] = True  # at least one position in, one out
    mask.view(-1)[(seed + 1) % mask.numel()] = False
    return logits, targets, mask


def describe(logits, mask) -> str:
    return f"masked_loss(logits {list(logits.shape)}, targets, loss_mask with {int(mask.sum())} of {mask.numel()} positions in)"


def call_loss(adapters, logits, targets, mask):
    what = describe(logits, mask)
    got = adapters.masked_loss(logits, targets, mask)
    if not isinstance(got, tuple) or len(got) != 2:
        fail(f"{what} returned {type(got).__name__}; expected a tuple (loss as a float, gradient [B, T, V])")
    loss, grad = got
    if type(loss) is not float:
        fail(f"{what}: the loss is {type(loss).__name__} ({loss!r}); expected a float (loss.item())")
    expect_tensor(grad, what=f"{what}: the gradient", shape=tuple(logits.shape), dtype=torch.float32)
    return loss, grad, what


@pytest.mark.rubric("part1.loss_mask", weight=2)
@settings(max_examples=8)
@given(inputs=loss_inputs())
def test_the_loss_is_the_mean_cross_entropy_over_the_masked_in_positions(adapters, inputs):
    loss, _, what = call_loss(adapters, *inputs)
    want, _ = reference.masked_cross_entropy(*inputs)
    expect_close(loss, want, what=f"{what}: the loss (the sum over masked-in positions / their count)",
                 atol=LOSS_ATOL, rtol=LOSS_RTOL)


@pytest.mark.rubric("part1.loss_mask")
@settings(max_examples=6)
@given(inputs=loss_inputs())
def test_masked_out_positions_get_exactly_zero_gradient(adapters, inputs):
    _, grad, what = call_loss(adapters, *inputs)
    mask = inputs[2]
    leaked = grad[~mask].abs().amax(dim=-1)
    if (leaked != 0).any():
        b, t = (~mask).nonzero()[int((leaked != 0).nonzero()[0])].tolist()
        fail(f"{what}: the gradient at the masked-out position [{b}, {t}] is not zero (up to {leaked.max().item():.3g}); "
             f"{int((leaked != 0).sum())} of {int((~mask).sum())} masked-out positions get gradient. They must get exactly 0.")


@pytest.mark.rubric("part1.loss_mask")
@settings(max_examples=6)
@given(inputs=loss_inputs())
def test_the_gradient_is_that_of_the_mean_over_the_masked_in_positions(adapters, inputs):
    _, grad, what = call_loss(adapters, *inputs)
    _, want = reference.masked_cross_entropy(*inputs)
    expect_close(grad.double(), want, what=f"{what}: the gradient", atol=LOSS_ATOL, rtol=LOSS_RTOL, check_dtype=False)


@pytest.mark.rubric("part1.loss_mask")
@settings(max_examples=6)
@given(inputs=loss_inputs(), seed=st.integers(0, 2**16))
def test_logits_and_targets_at_masked_out_positions_change_nothing(adapters, inputs, seed):
    logits, targets, mask = inputs
    g = torch.Generator().manual_seed(seed)
    other_logits = torch.where(mask[..., None], logits, 10 * torch.randn(logits.shape, generator=g))
    other_targets = torch.where(mask, targets, torch.randint(0, logits.size(-1), targets.shape, generator=g))
    loss, _, what = call_loss(adapters, logits, targets, mask)
    changed, _, _ = call_loss(adapters, other_logits, other_targets, mask)
    expect_close(changed, loss, what=f"{what}: the loss after changing the logits and targets at the masked-out positions",
                 atol=LOSS_ATOL, rtol=LOSS_RTOL)


# Padding ---------------------------------------------------------------------------------------


def fixed_sequences(seed: int, lengths: list[int]):
    """(seed, token sequences of these lengths): the inputs sequences() draws."""
    g = torch.Generator().manual_seed(seed)
    return seed, [torch.randint(0, CONFIG["vocab_size"], (n,), generator=g) for n in lengths]


@st.composite
def sequences(draw, max_count=3):
    """A seed and 1-3 token sequences of lengths 1..10."""
    return fixed_sequences(draw(st.integers(0, 2**16)), draw(st.lists(st.integers(1, 10), min_size=1, max_size=max_count)))


def pad(seqs, length, side, seed):
    """(tokens [B, length], attention_mask [B, length]) with random pad ids on `side`."""
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, CONFIG["vocab_size"], (len(seqs), length), generator=g)
    mask = torch.zeros(len(seqs), length, dtype=torch.bool)
    for i, s in enumerate(seqs):
        where = slice(0, len(s)) if side == "right" else slice(length - len(s), length)
        tokens[i, where], mask[i, where] = s, True
    return tokens, mask


def call_forward(adapters, seed, tokens, mask, what):
    got = adapters.forward(CONFIG, seed, tokens, mask)
    return expect_tensor(got, what=what, shape=(*tokens.shape, CONFIG["vocab_size"]), dtype=torch.float32)


@pytest.mark.rubric("part1.padding")
@settings(max_examples=6)
@given(inputs=sequences(), extra=st.integers(0, 4))
@example(inputs=fixed_sequences(3, [3, 7, 5]), extra=2)
def test_right_padded_sequences_give_their_unpadded_logits(adapters, inputs, extra):
    seed, seqs = inputs
    length = max(len(s) for s in seqs) + extra
    tokens, mask = pad(seqs, length, "right", seed + 1)
    what = f"forward({reference.describe(CONFIG)}, seed {seed}, {len(seqs)} sequences right-padded to {length})"
    padded = call_forward(adapters, seed, tokens, mask, what)
    for i, s in enumerate(seqs):
        alone = call_forward(adapters, seed, s[None], torch.ones(1, len(s), dtype=torch.bool), f"forward(sequence {i} alone)")
        expect_close(padded[i, : len(s)], alone[0], atol=LOGIT_ATOL, rtol=LOGIT_RTOL,
                     what=f"{what}: sequence {i}'s logits at its {len(s)} real tokens, against the sequence alone without padding")


@pytest.mark.rubric("part1.padding", weight=2)
@settings(max_examples=6)
@given(inputs=sequences(), extra=st.integers(2, 6))
@example(inputs=fixed_sequences(3, [1, 4, 10]), extra=6)
def test_left_pad_tokens_are_not_attended_to(adapters, inputs, extra):
    # Right padding cannot show this: causal attention already hides later positions. With
    # padding on the left, real tokens attend to the pads unless the attention mask stops them.
    seed, seqs = inputs
    length = max(len(s) for s in seqs) + extra
    tokens, mask = pad(seqs, length, "left", seed + 1)
    shift = torch.randint(1, CONFIG["vocab_size"], tokens.shape, generator=torch.Generator().manual_seed(seed + 2))
    other = torch.where(mask, tokens, (tokens + shift) % CONFIG["vocab_size"])  # every pad id changed
    what = f"forward({reference.describe(CONFIG)}, seed {seed}, {len(seqs)} sequences left-padded to {length})"
    first = call_forward(adapters, seed, tokens, mask, what)
    second = call_forward(adapters, seed, other, mask, what)
    expect_close(second[mask], first[mask], what=f"{what}: logits at real tokens after changing the ids at the pad positions",
                 atol=PAD_IDS_ATOL, rtol=0)
