"""Problem 1: the data generator, the polynomial fits, the two 100-dataset protocols, the bias-variance
decomposition and L2 regularisation.

Tolerances, measured on the reference solution:
- noise: with n = 20,000 the sample variance of y - f(x) has a standard error of 0.3 * sqrt(2/n) =
  0.003; the tolerance 0.02 is over 6 of them, while a standard deviation of 0.3 (variance 0.09)
  misses by 0.21.
- fits: on exact polynomials of degree up to 15 the reference's Chebyshev least squares reproduces
  the values to ~1e-12 of their scale; the tolerance is 1e-6. Normal equations in x^0 .. x^15 on
  [0, 10] (condition number ~1e38) miss by orders of magnitude.
- the decomposition: test_error - bias2 - variance equals the mean of eps^2 + 2 eps (f - g) exactly
  (eps = y_test - f(x_test)), so after subtracting the test labels' own noise what is left is a
  mean of zero-mean terms; it must be within 5 of its standard errors (plus 1.5% of the variance for
  a variance divided by D - 1). The noise is measured on the submission's own labels, so a wrong
  noise level costs p1.data and nothing here.
- the trend: on the reference (8 seeds) the squared bias of degrees 1-3 is at least 20 times that
  of degrees 9-11, and the variance of degrees 13-15 at least 6 times that of degrees 1-3; the
  checks ask for 5 and 3.
"""

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from grader.answers import check_answer
from grader.checks import expect_close, fail

from . import reference

DEGREES = list(range(1, 16))
N_DATASETS = 100


def as_array(got, what: str, shape: tuple) -> np.ndarray:
    """got as a float64 array of this shape (a list or a float32 array is accepted)."""
    try:
        array = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        fail(f"{what} is {type(got).__name__}; expected an array of numbers of shape {shape}")
    if array.shape != shape:
        fail(f"{what} has shape {array.shape}; expected {shape}")
    if not np.isfinite(array).all():
        fail(f"{what} holds {int((~np.isfinite(array)).sum())} values that are NaN or infinite")
    return array


def study(adapters, protocol: str, degrees: list[int], l2: float = 0.0, seed: int = 0) -> dict:
    what = f"bias_variance_study({protocol!r}, degrees={degrees if len(degrees) < 4 else '1..15'}, l2={l2}, n_datasets={N_DATASETS}, seed={seed})"
    got = adapters.bias_variance_study(protocol, degrees, l2, N_DATASETS, seed)
    if not isinstance(got, dict):
        fail(f"{what} returned {type(got).__name__}; expected a dict (see the adapter's docstring)")
    shapes = {"x_train": (N_DATASETS, 40), "y_train": (N_DATASETS, 40), "x_test": (N_DATASETS, 10), "y_test": (N_DATASETS, 10),
              "predictions": (len(degrees), N_DATASETS, 10), "bias2": (len(degrees),), "variance": (len(degrees),),
              "test_error": (len(degrees),)}
    missing = [k for k in shapes if k not in got]
    if missing:
        fail(f"{what} has no {', '.join(map(repr, missing))}")
    out = {k: as_array(got[k], f"{what}[{k!r}]", shape) for k, shape in shapes.items()}
    out["what"] = what
    return out


# 1.2: the data ----------------------------------------------------------------------------


def sample(adapters, n, seed, low=0.0, high=10.0):
    what = f"sample_dataset({n}, seed={seed}, x_low={low}, x_high={high})"
    got = adapters.sample_dataset(n, seed, low, high)
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        fail(f"{what} returned {type(got).__name__}; expected a tuple (x, y)")
    return as_array(got[0], f"{what}: x", (n,)), as_array(got[1], f"{what}: y", (n,)), what


@pytest.mark.rubric("p1.data", weight=2)
@pytest.mark.parametrize("seed", [0, 7])
def test_the_noise_has_variance_0_3(adapters, seed):
    x, y, what = sample(adapters, 20000, seed)
    variance = float(np.var(y - reference.f(x)))
    if abs(variance - reference.NOISE_VARIANCE) > 0.02:
        hint = " (a standard deviation of 0.3 gives 0.09: N(0, 0.3) has VARIANCE 0.3, standard deviation sqrt(0.3))" \
            if abs(variance - 0.09) < 0.02 else ""
        fail(f"{what}: y - f(x) has variance {variance:.4f}; expected 0.3 within 0.02{hint}")


@pytest.mark.rubric("p1.data")
def test_the_noise_has_mean_zero(adapters):
    x, y, what = sample(adapters, 20000, 3)
    expect_close(float(np.mean(y - reference.f(x))), 0.0, what=f"{what}: the mean of y - f(x)", atol=0.025, rtol=0)


@pytest.mark.rubric("p1.data")
def test_x_lies_in_the_range_asked_and_spreads_over_it(adapters):
    x, _, what = sample(adapters, 500, 1, 2.0, 7.0)
    if x.min() < 2.0 or x.max() > 7.0:
        fail(f"{what}: x ranges over [{x.min():.3g}, {x.max():.3g}]; it must stay within [2, 7]")
    if x.max() - x.min() < 4.0:
        fail(f"{what}: 500 values of x cover only [{x.min():.3g}, {x.max():.3g}]; they should spread over [2, 7]")


@pytest.mark.rubric("p1.data")
def test_the_same_seed_gives_the_same_dataset(adapters):
    x1, y1, what = sample(adapters, 20, 5)
    x2, y2, _ = sample(adapters, 20, 5)
    expect_close(np.stack([x2, y2]), np.stack([x1, y1]), what=f"{what} called twice", atol=0, rtol=0)


# 1.3: the fits ----------------------------------------------------------------------------


def exact_polynomial(seed: int, degree: int, n_train: int):
    """(x_train, y_train, x_eval, y_eval) of a random polynomial of this degree on [0, 10], no noise."""
    rng = np.random.default_rng(seed)
    coefficients = rng.normal(0, 1, degree + 1) / np.arange(1, degree + 2)  # in the Chebyshev basis on [0, 10]
    x_train, x_eval = rng.uniform(0, 10, n_train), rng.uniform(0, 10, 50)
    x_train[:2] = 0.0, 10.0  # the ends of the range

    def p(x):
        return np.polynomial.chebyshev.chebval(x / 5 - 1, coefficients)

    return x_train, p(x_train), x_eval, p(x_eval)


def check_fit(adapters, seed, degree, fit_degree, n_train):
    x, y, x_eval, want = exact_polynomial(seed, degree, n_train)
    what = (f"fit_predict(x_train [{n_train}], y_train, degree={fit_degree}, l2=0, x_eval [50]) on a degree-{degree} "
            f"polynomial without noise (seed {seed})")
    got = as_array(adapters.fit_predict(x, y, fit_degree, 0.0, x_eval), what, (50,))
    scale = float(np.abs(want).max())
    expect_close(got, want, what=f"{what} (values up to {scale:.3g})", atol=1e-6 * scale, rtol=0)


@pytest.mark.rubric("p1.fit")
@pytest.mark.parametrize("degree", [1, 3])
def test_a_fit_reproduces_a_low_degree_polynomial(adapters, degree):
    check_fit(adapters, degree, degree, degree, 20)


@pytest.mark.rubric("p1.fit", weight=2)
@pytest.mark.parametrize("degree", [10, 15])
def test_a_high_degree_fit_stays_numerically_sound(adapters, degree):
    check_fit(adapters, 100 + degree, degree, degree, 40)


@pytest.mark.rubric("p1.fit", weight=2)
@settings(max_examples=4)
@given(seed=st.integers(0, 2**16), degree=st.integers(1, 15), extra=st.integers(0, 4))
@example(seed=3, degree=8, extra=4)
def test_any_polynomial_up_to_degree_15_is_reproduced(adapters, seed, degree, extra):
    check_fit(adapters, seed, degree, min(15, degree + extra), 40)


@pytest.mark.rubric("p1.fit_answers")
@pytest.mark.parametrize("key", ["p1.underfit", "p1.overfit"])
def test_which_model_under_and_overfits(submission, key):
    check_answer(submission, key)


# 1.4: the protocols --------------------------------------------------------------------------


def rows_equal(a: np.ndarray) -> bool:
    return bool(np.all(a == a[0]))


@pytest.mark.rubric("p1.protocols", weight=2)
@pytest.mark.parametrize("seed", [0, 1])
def test_no_test_point_is_in_any_training_set(adapters, seed):
    s = study(adapters, "fixed_test", [1], seed=seed)
    test_x = np.unique(s["x_test"])
    leaks = [(d, x) for d in range(N_DATASETS) for x in s["x_train"][d] if np.any(np.abs(test_x - x) <= 1e-12)]
    if leaks:
        d, x = leaks[0]
        fail(f"{s['what']}: {len(leaks)} training points are test points, e.g. x = {x:.6g} in dataset {d}; "
             f"with a fixed test set, no test point may appear in any of the {N_DATASETS} training sets")


@pytest.mark.rubric("p1.protocols")
def test_fixed_test_shares_one_test_set_and_draws_new_training_sets(adapters):
    s = study(adapters, "fixed_test", [1])
    if not (rows_equal(s["x_test"]) and rows_equal(s["y_test"])):
        fail(f"{s['what']}: the test points differ between datasets; every dataset must share one test set (x and y)")
    if rows_equal(s["x_train"]):
        fail(f"{s['what']}: every dataset has the same training x; each training set must be drawn afresh")


@pytest.mark.rubric("p1.protocols")
def test_fixed_x_keeps_x_and_draws_fresh_noise(adapters):
    s = study(adapters, "fixed_x", [1])
    if not (rows_equal(s["x_train"]) and rows_equal(s["x_test"])):
        fail(f"{s['what']}: x differs between datasets; with fixed x every dataset has the same 50 x values")
    if rows_equal(s["y_train"]) or rows_equal(s["y_test"]):
        fail(f"{s['what']}: y is the same in every dataset; its noise must be drawn afresh for each (train and test)")


# 1.4: the decomposition ----------------------------------------------------------------------


@pytest.mark.rubric("p1.decomposition")
@pytest.mark.parametrize("protocol", ["fixed_x", "fixed_test"])
def test_bias_variance_and_error_follow_from_the_predictions(adapters, protocol):
    s = study(adapters, protocol, DEGREES)
    g, f_test = s["predictions"], reference.f(s["x_test"])
    want = {
        "bias2": ((g.mean(axis=1) - f_test[0]) ** 2).mean(axis=1),
        "variance": g.var(axis=1).mean(axis=1),
        "test_error": ((s["y_test"][None] - g) ** 2).mean(axis=(1, 2)),
    }
    for name, value in want.items():  # rtol: a variance divided by D - 1 instead of D is 1% larger
        expect_close(s[name], value, what=f"{s['what']}[{name!r}] (from its own 'predictions', degrees 1..15)",
                     atol=1e-9, rtol=0.015)


@pytest.mark.rubric("p1.decomposition")
@pytest.mark.parametrize("protocol", ["fixed_x", "fixed_test"])
def test_the_test_error_is_bias2_plus_variance_plus_noise(adapters, protocol):
    s = study(adapters, protocol, DEGREES)
    g, eps = s["predictions"], s["y_test"] - reference.f(s["x_test"])
    noise = float(np.mean(eps**2))  # the noise in these test labels (0.3 in expectation)
    # What is left is the mean of 2 eps (f - g): zero mean; independent draws are the distinct labels.
    cross = 2 * eps[None] * (reference.f(s["x_test"])[None] - g)  # [degrees, D, 10]
    independent = 10 if rows_equal(s["y_test"]) else N_DATASETS * 10
    terms = cross.mean(axis=1) if independent == 10 else cross.reshape(len(DEGREES), -1)
    standard_error = terms.std(axis=1) / np.sqrt(independent)
    gap = s["test_error"] - s["bias2"] - s["variance"] - noise
    allowed = 5 * standard_error + 0.015 * s["variance"] + 1e-9
    bad = np.flatnonzero(np.abs(gap) > allowed)
    if bad.size:
        i = int(bad[0])
        fail(f"{s['what']}: at degree {DEGREES[i]} test_error = {s['test_error'][i]:.4g} but bias2 + variance + noise = "
             f"{s['bias2'][i]:.4g} + {s['variance'][i]:.4g} + {noise:.4g} = {s['bias2'][i] + s['variance'][i] + noise:.4g} "
             f"(noise: the mean squared noise of your test labels); the gap {gap[i]:.3g} is over 5 standard errors of its "
             f"Monte-Carlo error ({allowed[i]:.3g}). {bad.size} of {len(DEGREES)} degrees disagree.")


@pytest.mark.rubric("p1.decomposition")
def test_bias_falls_and_variance_rises_with_the_degree(adapters):
    s = study(adapters, "fixed_x", DEGREES, seed=2)
    bias_low, bias_high = s["bias2"][0:3].min(), s["bias2"][8:11].max()
    var_low, var_high = s["variance"][0:3].mean(), s["variance"][12:15].mean()
    if not bias_low > 5 * bias_high:
        fail(f"{s['what']}: bias2 of degrees 1-3 (smallest {bias_low:.4g}) is not well above that of degrees 9-11 "
             f"(largest {bias_high:.4g}); a degree-10 polynomial follows sin(1.5x) far better than a cubic")
    if not var_high > 3 * var_low:
        fail(f"{s['what']}: the variance of degrees 13-15 (mean {var_high:.4g}) is not well above that of degrees 1-3 "
             f"(mean {var_low:.4g}); flexible models should vary more between datasets")


# 1.5: regularisation ----------------------------------------------------------------------------


def rate(adapters) -> float:
    got = adapters.regularization_rate()
    if type(got) not in (int, float) or not np.isfinite(got) or got <= 0:
        fail(f"regularization_rate() returned {got!r}; expected a positive number (your l2 for degree 10)")
    return float(got)


@pytest.mark.rubric("p1.regularization")
def test_the_regularization_rate_is_positive(adapters):
    rate(adapters)


@pytest.mark.rubric("p1.regularization", weight=2)
@pytest.mark.parametrize("seed", [0, 1])
def test_l2_raises_the_bias_and_lowers_the_variance_of_degree_10(adapters, seed):
    l2 = rate(adapters)
    plain = study(adapters, "fixed_x", [10], 0.0, seed)
    regularised = study(adapters, "fixed_x", [10], l2, seed)
    if not regularised["bias2"][0] > plain["bias2"][0]:
        fail(f"{regularised['what']}: bias2 {regularised['bias2'][0]:.4g} is not above the unregularised "
             f"{plain['bias2'][0]:.4g} (same datasets, l2 = 0); an L2 penalty shrinks the fit away from f")
    if not regularised["variance"][0] < plain["variance"][0]:
        fail(f"{regularised['what']}: variance {regularised['variance'][0]:.4g} is not below the unregularised "
             f"{plain['variance'][0]:.4g} (same datasets, l2 = 0); an L2 penalty makes the fit vary less")
