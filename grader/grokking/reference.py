"""The grader's own computations for the grokking assignment: the equations and their answers,
the masked cross-entropy and its gradient in float64, and the inputs the padding checks use.
Nothing here comes from the reference solution it checks.
"""

from __future__ import annotations

import torch

OPERATIONS = ("+", "-", "/")
PRIMES = (97, 113)
SANITY_TEXT = "I love machine learning"


def answer(operation: str, a: int, b: int, p: int) -> int:
    """c for a `operation` b modulo p; division multiplies by the inverse b^(p-2) (Fermat)."""
    if operation == "+":
        return (a + b) % p
    if operation == "-":
        return (a - b) % p
    if operation == "/":
        if b % p == 0:
            raise ZeroDivisionError(f"{a}/{b} mod {p}")
        return a * pow(b, p - 2, p) % p
    raise ValueError(f"unknown operation {operation!r}")


def left_hand_sides(operation: str, p: int) -> set[tuple[int, int]]:
    """Every (a, b) of the operation: all residue pairs, b = 0 excluded for division."""
    return {(a, b) for a in range(p) for b in range(p) if operation != "/" or b != 0}


def equations(operation: str, p: int) -> set[tuple[int, int, int]]:
    return {(a, b, answer(operation, a, b, p)) for a, b in left_hand_sides(operation, p)}


def text(operation: str, a: int, b: int, c: int) -> str:
    return f"{a}{operation}{b}={c}"


def masked_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, loss_mask: torch.Tensor) -> tuple[float, torch.Tensor]:
    """(the mean cross-entropy over the positions where loss_mask is True, its gradient with
    respect to the logits), in float64: (softmax - one_hot) / count at those positions, 0 elsewhere."""
    logits = logits.double()
    log_probs = torch.log_softmax(logits, dim=-1)
    count = int(loss_mask.sum())
    picked = log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    loss = -(picked * loss_mask).sum().item() / count
    grad = log_probs.exp() - torch.nn.functional.one_hot(targets, logits.size(-1)).double()
    grad = grad * loss_mask.unsqueeze(-1) / count
    return loss, grad


def model_config(vocab_size=24, n_layer=2, n_head=2, d_model=16, d_ff=32, max_len=16) -> dict:
    """A config in the adapter contract's format."""
    return {"vocab_size": vocab_size, "n_layer": n_layer, "n_head": n_head, "d_model": d_model, "d_ff": d_ff, "max_len": max_len}


def describe(config: dict) -> str:
    return "config(" + ", ".join(f"{k}={v}" for k, v in config.items()) + ")"
