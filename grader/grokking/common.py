"""Checks shared by the grokking tests: the shape of what equations() and splits() return."""

from __future__ import annotations

from grader.checks import fail


def as_equations(got, what: str, limit: int | None = None) -> list[tuple[int, int, int]]:
    """got must be a list of (a, b, c) triples of ints (tuples or lists); returns them as tuples."""
    if not isinstance(got, list):
        fail(f"{what} is {type(got).__name__}; expected a list of (a, b, c) tuples of ints")
    out = []
    for i, e in enumerate(got):
        if not isinstance(e, (tuple, list)) or len(e) != 3 or not all(type(x) is int for x in e):
            fail(f"{what}[{i}] is {e!r}; expected an (a, b, c) tuple of three ints")
        out.append(tuple(e))
    return out


def as_splits(got, what: str) -> dict[str, list[tuple[int, int, int]]]:
    """got must be {"train": [...], "val": [...], "test": [...]} of (a, b, c) triples."""
    if not isinstance(got, dict):
        fail(f"{what} is {type(got).__name__}; expected a dict with the keys 'train', 'val' and 'test'")
    missing = [k for k in ("train", "val", "test") if k not in got]
    if missing:
        fail(f"{what} has no {', '.join(map(repr, missing))}; expected the keys 'train', 'val' and 'test' (val may be empty)")
    return {k: as_equations(got[k], f"{what}[{k!r}]") for k in ("train", "val", "test")}


def show(items, n: int = 5) -> str:
    """A few elements of a collection, sorted, for a message."""
    items = sorted(items)
    more = f" and {len(items) - n} more" if len(items) > n else ""
    return ", ".join(map(str, items[:n])) + more
