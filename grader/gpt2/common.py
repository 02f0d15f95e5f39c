"""Checks shared by the GPT-2 tests."""

import torch

from grader.checks import expect_tensor, fail

from . import reference


def expect_matches_a_pairing(got, config, weights, x, what: str, last_only: bool, atol: float = 1e-4) -> None:
    """Attention output must equal the reference for one of the accepted rotary pairings.

    last_only compares just the last query position, which attends to every key whether or not
    a causal mask is applied: these checks then do not depend on task 1's masking.
    """
    expect_tensor(got, what=what, shape=tuple(x.shape), dtype=x.dtype)
    pairings = reference.PAIRINGS if config["rope"] else reference.PAIRINGS[:1]
    errors = {}
    for pairing in pairings:
        want = reference.attention(config, weights, x, pairing)
        a, b = (got[:, -1:], want[:, -1:]) if last_only else (got, want)
        if not torch.isfinite(a).all():
            fail(f"{what} contains NaN or infinity")
        errors[pairing] = (a.double() - b).abs().max().item()
        if errors[pairing] <= atol:
            return
    where = "at the last position " if last_only else ""
    detail = ", ".join(f"{e:.3g} against the {p} rotary pairing" for p, e in errors.items()) if config["rope"] else f"{errors[pairings[0]]:.3g}"
    fail(f"{what} differs from the reference {where}by up to {detail} (tolerance {atol:g})")


def expect_state_like(got, want: dict, what: str) -> None:
    """A dict of tensors (weights or gradients) must hold want's names, with want's shapes."""
    if not isinstance(got, dict):
        fail(f"{what} is {type(got).__name__}; expected a dict of tensors named as in the state_dict")
    missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want))
    if missing or extra:
        fail(f"{what} has the wrong names: missing {missing[:5]}{' ...' if len(missing) > 5 else ''}, "
             f"unexpected {extra[:5]}{' ...' if len(extra) > 5 else ''}")
    for name in want:
        expect_tensor(got[name], what=f"{what}[{name!r}]", shape=tuple(want[name].shape))


def expect_state_close(got, want: dict, what: str, atol: float, rtol: float) -> None:
    """As expect_state_like, and each tensor close to want's."""
    from grader.checks import expect_close

    expect_state_like(got, want, what)
    for name in want:
        expect_close(got[name].double(), want[name].double(), what=f"{what}[{name!r}]", atol=atol, rtol=rtol, check_dtype=False)
