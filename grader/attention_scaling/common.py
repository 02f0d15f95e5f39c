"""Checks shared by the attention_scaling tests: unpacking what an adapter returned."""

from __future__ import annotations

import torch

from grader.checks import expect_tensor, fail


def as_tuple(got, n: int, what: str, names: str) -> tuple:
    """got must be a tuple (or list) of n items, described by `names` in the message."""
    if not isinstance(got, (tuple, list)) or len(got) != n:
        shown = f"{type(got).__name__} of {len(got)} items" if isinstance(got, (tuple, list)) else type(got).__name__
        fail(f"{what} returned a {shown}; expected a tuple {names}")
    return tuple(got)


def as_state_dict(got, shapes: dict[str, tuple], what: str, exact: bool = True) -> dict[str, torch.Tensor]:
    """got must be a dict holding a float32 tensor of the given shape under every name
    (and, with exact, no other names)."""
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
    return {k: got[k] for k in shapes}


def attention_pair(got, what: str, batch: int, queries: int, keys: int, hidden: int):
    """(context [B, k, H], weights [B, k, S]) from an attention adapter's return value."""
    context, weights = as_tuple(got, 2, what, "(context, attention_weights)")
    expect_tensor(context, what=f"{what}: context", shape=(batch, queries, hidden), dtype=torch.float32)
    expect_tensor(weights, what=f"{what}: attention_weights", shape=(batch, queries, keys), dtype=torch.float32)
    return context, weights
