"""The one tolerance helper: compare what a submission returned with what was expected.

Failures climb a ladder and stop at the first rung that fails, so the student reads the most
basic problem first: something came back → of the right type → of the right shape → of the
right dtype → finite → close enough. Each message says what was called, what came back, what
was expected, the largest error and where, and the tolerance used.

    expect_close(logits, reference, what="gpt2_forward(...) logits", atol=1e-4, rtol=1e-4)
    expect_close(score, 0.25, what="accuracy")

Both sides must already be plain values in the grader's process (the sandbox sees to that);
comparisons never call anything the submission defined.
"""

from __future__ import annotations

import math

import pytest

from grader.text import clean


def fail(message: str):
    pytest.fail(clean(message, 6000), pytrace=False)


def _type_name(x) -> str:
    cls = type(x)
    module = cls.__module__
    return cls.__name__ if module == "builtins" else f"{module}.{cls.__name__}"


def _is_tensor(x) -> bool:
    import sys

    torch = sys.modules.get("torch")
    return torch is not None and type(x) is torch.Tensor


def _is_ndarray(x) -> bool:
    import sys

    np = sys.modules.get("numpy")
    return np is not None and type(x) is np.ndarray


def _describe(x) -> str:
    if _is_tensor(x) or _is_ndarray(x):
        return f"{_type_name(x)} of shape {tuple(x.shape)} and dtype {x.dtype}"
    return f"{_type_name(x)} ({clean(repr(x), 80)})"


def expect_close(actual, expected, *, what: str, rtol: float = 1.3e-6, atol: float = 1e-5, check_dtype: bool = True):
    """Fail the test unless `actual` matches `expected` within atol + rtol * |expected|."""
    if actual is None and expected is not None:
        fail(f"{what} returned None; expected {_describe(expected)}")
    if _is_tensor(expected) or _is_ndarray(expected):
        _expect_array(actual, expected, what=what, rtol=rtol, atol=atol, check_dtype=check_dtype)
    elif isinstance(expected, (int, float)) and not isinstance(expected, bool):
        _expect_number(actual, expected, what=what, rtol=rtol, atol=atol)
    elif isinstance(expected, (list, tuple)):
        if type(actual) is not type(expected):
            fail(f"{what} is {_describe(actual)}; expected a {type(expected).__name__} of {len(expected)} items")
        if len(actual) != len(expected):
            fail(f"{what} has {len(actual)} items; expected {len(expected)}")
        for i, (a, e) in enumerate(zip(actual, expected)):
            expect_close(a, e, what=f"{what}[{i}]", rtol=rtol, atol=atol, check_dtype=check_dtype)
    elif isinstance(expected, dict):
        if type(actual) is not dict:
            fail(f"{what} is {_describe(actual)}; expected a dict with keys {sorted(map(str, expected))}")
        missing = [k for k in expected if k not in actual]
        if missing:
            fail(f"{what} is missing the keys {', '.join(map(repr, missing))}")
        for k in expected:
            expect_close(actual[k], expected[k], what=f"{what}[{k!r}]", rtol=rtol, atol=atol, check_dtype=check_dtype)
    else:
        if type(actual) is not type(expected) or actual != expected:
            fail(f"{what} is {_describe(actual)}; expected {_describe(expected)}")


def _expect_number(actual, expected, *, what, rtol, atol):
    import numpy as np

    if isinstance(actual, np.generic) and actual.dtype.kind in "iuf":
        actual = actual.item()  # a numpy scalar is a number too
    if type(actual) is bool or type(actual) not in (int, float):
        fail(f"{what} is {_describe(actual)}; expected a number")
    if not math.isfinite(actual):
        fail(f"{what} is {actual}; expected the finite number {expected:g}")
    if abs(actual - expected) > atol + rtol * abs(expected):
        fail(
            f"{what} is {actual:.6g}; expected {expected:.6g} "
            f"(error {abs(actual - expected):.3g}, tolerance atol={atol:g} + rtol={rtol:g}·|expected|)"
        )


def _expect_array(actual, expected, *, what, rtol, atol, check_dtype):
    import numpy as np

    want = "torch.Tensor" if _is_tensor(expected) else "numpy.ndarray"
    if not (_is_tensor(actual) if _is_tensor(expected) else _is_ndarray(actual)):
        fail(f"{what} is {_describe(actual)}; expected a {want} of shape {tuple(expected.shape)} and dtype {expected.dtype}")
    if tuple(actual.shape) != tuple(expected.shape):
        fail(f"{what} has shape {tuple(actual.shape)}; expected shape {tuple(expected.shape)}")
    if check_dtype and actual.dtype != expected.dtype:
        fail(f"{what} has dtype {actual.dtype}; expected dtype {expected.dtype}")
    a = _as_float64(actual)
    e = _as_float64(expected)
    bad_a = ~np.isfinite(a) & np.isfinite(e)
    if bad_a.any():
        index = tuple(int(i) for i in np.argwhere(bad_a)[0])
        fail(f"{what} contains {a[index]} at index {index} (expected {e[index]:.6g}); {int(bad_a.sum())} elements are not finite")
    same_special = (~np.isfinite(e)) & ((a == e) | (np.isnan(a) & np.isnan(e)))
    error = np.where(same_special, 0.0, np.abs(a - e))
    allowed = atol + rtol * np.abs(np.where(np.isfinite(e), e, 0.0))
    outside = (error > allowed) | (~np.isfinite(e) & ~same_special)
    if outside.any():
        worst = np.unravel_index(int(np.argmax(np.where(np.isfinite(error), error - allowed, np.inf))), error.shape)
        worst = tuple(int(i) for i in worst)
        fail(
            f"{what} differs from the expected values: largest error {error[worst]:.3g} at index {worst} "
            f"(got {a[worst]:.6g}, expected {e[worst]:.6g}); {int(outside.sum())} of {outside.size} elements "
            f"are outside the tolerance atol={atol:g} + rtol={rtol:g}·|expected|"
        )


def _as_float64(x):
    import numpy as np

    if _is_tensor(x):
        import torch

        x = x.detach().to(torch.float64 if not x.is_complex() else torch.complex128).numpy()
    return np.asarray(x, dtype=np.complex128 if np.iscomplexobj(x) else np.float64)


def expect_tensor(actual, *, what: str, shape: tuple | None = None, dtype=None):
    """The ladder's first rungs for a tensor result: it is a torch.Tensor, of this shape and dtype.

    `shape` may hold None for a dimension that can be anything. Returns the tensor.
    """
    import torch

    if actual is None:
        fail(f"{what} returned None; expected a torch.Tensor")
    if type(actual) is not torch.Tensor:
        fail(f"{what} is {_describe(actual)}; expected a torch.Tensor")
    if shape is not None:
        got = tuple(actual.shape)
        if len(got) != len(shape) or any(w is not None and g != w for g, w in zip(got, shape)):
            shown = tuple("*" if w is None else w for w in shape)
            fail(f"{what} has shape {got}; expected shape {shown}".replace("'*'", "*"))
    if dtype is not None and actual.dtype != dtype:
        fail(f"{what} has dtype {actual.dtype}; expected dtype {dtype}")
    return actual


def expect_equal(actual, expected, *, what: str):
    """Exact equality for plain values (strings, ints, lists of them), with the ladder's messages."""
    if type(actual) is not type(expected):
        fail(f"{what} is {_describe(actual)}; expected {_describe(expected)}")
    if actual != expected:
        fail(f"{what} is {clean(repr(actual), 200)}; expected {clean(repr(expected), 200)}")
