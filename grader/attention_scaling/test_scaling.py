"""2.3: the scaling-law fits, on synthetic data with a known answer.

find_optimal_params is given exact parabolas in log10(N) (its coefficients and vertex are known in
closed form) and noisy ones (compared with numpy.polyfit). Where the vertex lies outside the
sampled range, the handout accepts the vertex itself, the sampled N with the lowest loss, or the
vertex clamped to the nearer end; the far end is wrong. Sizes are those of the sweep (16h^2 + 46h
+ 30 for h in 16..128), so log10(N) spans about 3.7 to 5.4. Tolerance: relative 1e-6 on the
optimum and the coefficients (float64 least squares agree to ~1e-10; float32 ones to ~1e-6).
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.checks import expect_close, fail

from . import reference
from .common import as_tuple

SIZES = [16 * h * h + 46 * h + 30 for h in (16, 32, 48, 64, 96, 128)]
LOG_SIZES = np.log10(SIZES)
RTOL = 1e-6


def as_numbers(values, n: int, what: str) -> list[float]:
    if hasattr(values, "tolist"):
        values = values.tolist()  # a numpy array or a tensor
    if not isinstance(values, (list, tuple)) or len(values) != n or not all(type(v) in (int, float) for v in values):
        fail(f"{what} is {values!r}; expected {n} floats")
    return [float(v) for v in values]


def call_optimal(adapters, y):
    what = f"find_optimal_params(x={SIZES}, y=[{', '.join(f'{v:.4g}' for v in y)}])"
    coefficients, optimal = as_tuple(adapters.find_optimal_params(list(SIZES), [float(v) for v in y]), 2, what,
                                     "(coefficients, optimal_params)")
    optimal = as_numbers([optimal.item() if hasattr(optimal, "item") else optimal], 1, f"{what}: optimal_params")[0]
    return as_numbers(coefficients, 3, f"{what}: coefficients [a, b, c]"), optimal, what


def parabola(a: float, vertex: float, floor: float):
    """Losses a·(u - vertex)² + floor at the sweep's sizes, and the coefficients [a, b, c]."""
    y = a * (LOG_SIZES - vertex) ** 2 + floor
    return y, [a, -2 * a * vertex, a * vertex**2 + floor]


inside = st.tuples(st.floats(0.05, 2.0), st.floats(float(LOG_SIZES[0]) + 0.05, float(LOG_SIZES[-1]) - 0.05), st.floats(0.5, 3.0))


@pytest.mark.rubric("scaling.find_optimal")
@settings(max_examples=4)
@given(case=inside)
def test_the_coefficients_of_an_exact_parabola(adapters, case):
    y, want = parabola(*case)
    coefficients, _, what = call_optimal(adapters, y)
    scale = max(abs(v) for v in want)
    expect_close(coefficients, want, what=f"{what}: coefficients [a, b, c] of y = a·u² + b·u + c, u = log10(x)",
                 atol=RTOL * scale, rtol=RTOL)


@pytest.mark.rubric("scaling.find_optimal", weight=2)
@settings(max_examples=4)
@given(case=inside)
def test_the_optimum_is_ten_to_the_vertex(adapters, case):
    y, _ = parabola(*case)
    _, optimal, what = call_optimal(adapters, y)
    expect_close(optimal, 10 ** case[1], what=f"{what}: optimal_params (10 ** vertex)", atol=0, rtol=RTOL)


@pytest.mark.rubric("scaling.find_optimal")
@pytest.mark.parametrize("seed", [0, 1])
def test_noisy_losses_are_fitted_by_least_squares(adapters, seed):
    rng = np.random.default_rng(seed)
    y = 0.4 * (LOG_SIZES - 4.6) ** 2 + 1.5 + 0.03 * rng.standard_normal(len(SIZES))
    coefficients, _, what = call_optimal(adapters, y)
    want = reference.quadratic_fit(SIZES, y).tolist()
    expect_close(coefficients, want, what=f"{what}: coefficients, against numpy.polyfit(log10(x), y, 2)",
                 atol=RTOL * max(map(abs, want)), rtol=RTOL)


@pytest.mark.rubric("scaling.find_optimal", weight=2)
@pytest.mark.parametrize("vertex", [3.0, 6.2], ids=["below", "above"])
def test_an_optimum_outside_the_sampled_range(adapters, vertex):
    y, _ = parabola(0.5, vertex, 1.0)
    _, optimal, what = call_optimal(adapters, y)
    nearer = SIZES[0] if vertex < LOG_SIZES[0] else SIZES[-1]  # also the sampled size with the lowest loss
    accepted = {"10 ** vertex": 10**vertex, "the nearer end of the range (the lowest sampled loss)": nearer}
    if not any(math.isclose(optimal, v, rel_tol=RTOL) for v in accepted.values()):
        fail(f"{what}: the vertex log10(N) = {vertex} lies outside the sampled range "
             f"[{LOG_SIZES[0]:.3f}, {LOG_SIZES[-1]:.3f}]; optimal_params is {optimal:.6g}, but the accepted answers are "
             + "; ".join(f"{k}: {v:.6g}" for k, v in accepted.items()))


def call_linear(adapters, x, y):
    what = f"fit_linear_log(x=[{', '.join(f'{v:.3g}' for v in x)}], y=[{', '.join(f'{v:.4g}' for v in y)}])"
    got = as_tuple(adapters.fit_linear_log(list(map(float, x)), list(map(float, y))), 2, what, "(m, c)")
    return as_numbers(list(got), 2, what), what


BUDGETS = [8e10, 1.6e11, 3.2e11, 6.4e11, 1.28e12]


@pytest.mark.rubric("scaling.fit_linear_log", weight=2)
@settings(max_examples=4)
@given(m=st.floats(-1.0, 1.5), c=st.floats(-8.0, 4.0))
def test_an_exact_power_law(adapters, m, c):
    y = [10 ** (m * math.log10(b) + c) for b in BUDGETS]
    got, what = call_linear(adapters, BUDGETS, y)
    expect_close(got, [m, c], what=f"{what}: (m, c) of log10(y) = m·log10(x) + c", atol=1e-6, rtol=RTOL)


@pytest.mark.rubric("scaling.fit_linear_log")
def test_noisy_points_are_fitted_by_least_squares_in_log_log(adapters):
    rng = np.random.default_rng(3)
    y = [10 ** (0.6 * math.log10(b) - 2.5 + 0.1 * rng.standard_normal()) for b in BUDGETS]
    got, what = call_linear(adapters, BUDGETS, y)
    expect_close(got, reference.linear_log_fit(BUDGETS, y).tolist(), what=f"{what}: (m, c), against "
                 "numpy.polyfit(log10(x), log10(y), 1)", atol=1e-6, rtol=RTOL)
