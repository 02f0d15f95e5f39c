"""Checks shared by the attention_scaling tests: unpacking what an adapter returned."""

from __future__ import annotations

import torch

from grader.checks import expect_tensor, fail

# The smallest standard deviation an initialisation may draw a weight matrix with. nn.Linear draws
# std 1/sqrt(3 fan_in) (0.1 at fan_in 32; 0.01 only at fan_in 3,333), nn.Embedding std 1. Zero or
# tiny weights make the grader's reference trivial (attention a plain average, logits constant),
# so a computation that ignores its inputs would match it.
MIN_INIT_STD = 0.01


def as_tuple(got, n: int, what: str, names: str) -> tuple:
    """got must be a tuple (or list) of n items, described by `names` in the message."""
    if not isinstance(got, (tuple, list)) or len(got) != n:
        shown = f"{type(got).__name__} of {len(got)} items" if isinstance(got, (tuple, list)) else type(got).__name__
        fail(f"{what} returned a {shown}; expected a tuple {names}")
    return tuple(got)


def as_state_dict(got, shapes: dict[str, tuple], what: str, exact: bool = True,
                  init: bool = False) -> dict[str, torch.Tensor]:
    """got must be a dict holding a float32 tensor of the given shape under every name
    (and, with exact, no other names); with init (what an initialisation returned), every weight
    matrix must also be drawn at random: a standard deviation of at least MIN_INIT_STD."""
    if not isinstance(got, dict):
        fail(f"{what} returned {type(got).__name__}; expected a dict of tensors (a state dict)")
    missing = [k for k in shapes if k not in got]
    if missing:
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        fail(f"{what} has no {', '.join(map(repr, missing[:5]))}{more}; the contract names its weights "
             f"{', '.join(map(repr, list(shapes)[:8]))}{' ...' if len(shapes) > 8 else ''}")
    extra = sorted(set(got) - set(shapes))
    if exact and extra:
        fail(f"{what} has names the contract does not list: {', '.join(map(repr, extra[:5]))}")
    for name, shape in shapes.items():
        expect_tensor(got[name], what=f"{what}[{name!r}]", shape=shape, dtype=torch.float32)
    matrices = [name for name, shape in shapes.items() if init and name.endswith("weight") and len(shape) == 2]
    for name in matrices:
        std = got[name].double().std().item()
        if not std >= MIN_INIT_STD:  # NaN too
            fail(f"{what}[{name!r}] has standard deviation {std:.3g}: an initialisation draws its weight matrices "
                 f"at random, as nn.Linear and nn.Embedding do (a standard deviation of at least {MIN_INIT_STD:g}). "
                 "With zero or tiny weights every output is nearly the same whatever the input, and the checks on "
                 "these weights could not tell your computation from one that ignores its inputs")
    return {k: got[k] for k in shapes}


def attention_pair(got, what: str, batch: int, queries: int, keys: int, hidden: int):
    """(context [B, k, H], weights [B, k, S]) from an attention adapter's return value."""
    context, weights = as_tuple(got, 2, what, "(context, attention_weights)")
    expect_tensor(context, what=f"{what}: context", shape=(batch, queries, hidden), dtype=torch.float32)
    expect_tensor(weights, what=f"{what}: attention_weights", shape=(batch, queries, keys), dtype=torch.float32)
    return context, weights
