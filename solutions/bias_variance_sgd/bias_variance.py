"""Problem 1: the bias-variance trade-off of polynomial fits, and L2 regularisation.

    python -m solutions.bias_variance_sgd.bias_variance            # figures and tables into results/

y(x) = f(x) + eps with f(x) = x + sin(1.5 x) and eps ~ N(0, 0.3) (variance 0.3). Polynomials of
degree up to 15 on x in [0, 10] are fitted in the Chebyshev basis on x mapped to [-1, 1]: the
monomial Vandermonde matrix x^0 .. x^15 on [0, 10] has a condition number near 1e19, beyond float64,
while the Chebyshev one stays below 1e4 and spans the same polynomials.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.polynomial import chebyshev

NOISE_VARIANCE = 0.3
X_LOW, X_HIGH = 0.0, 10.0
N_TRAIN, N_TEST = 40, 10  # 80/20 of a dataset of 50
GRID_STEP = 0.01  # "fixed_test" draws x from the grid 0.00, 0.01, ..., 10.00 (see draw_datasets)
DEGREES = list(range(1, 16))
L2 = 0.3  # part 5's penalty for the degree-10 model (see fit_predict for its scale)
RESULTS = Path(__file__).parent / "results"


def f(x: np.ndarray) -> np.ndarray:
    """The true function."""
    return x + np.sin(1.5 * x)


def noise(rng: np.random.Generator, shape) -> np.ndarray:
    return rng.normal(0.0, np.sqrt(NOISE_VARIANCE), shape)  # normal() takes the standard deviation


def sample_dataset(n: int, seed: int, x_low: float = X_LOW, x_high: float = X_HIGH) -> tuple[np.ndarray, np.ndarray]:
    """n points (x uniform in [x_low, x_high], y = f(x) + eps)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(x_low, x_high, n)
    return x, f(x) + noise(rng, n)


# ---------------------------------------------------------------------------------------
# Polynomial fits
# ---------------------------------------------------------------------------------------


def _to_unit(x: np.ndarray, low: float, high: float) -> np.ndarray:
    return (2 * x - (low + high)) / (high - low)


def fit_predict(x_train, y_train, degree: int, l2: float, x_eval) -> np.ndarray:
    """Least squares (+ l2 * sum of squared Chebyshev coefficients but the constant one) on x mapped
    from the problem's range [0, 10] (widened to hold every x_train) to [-1, 1]; returns the fit at x_eval.

    The map is fixed rather than each training set's own [min, max]: the penalty then means the
    same thing for every dataset, which matters when datasets with different x are compared.

    The penalty is on the coefficients of T_1 .. T_degree, not the intercept: shrinking the mean
    towards 0 would add a bias that has nothing to do with the model's flexibility.
    """
    x_train, y_train, x_eval = (np.asarray(a, dtype=np.float64) for a in (x_train, y_train, x_eval))
    low, high = min(X_LOW, x_train.min()), max(X_HIGH, x_train.max())
    design = chebyshev.chebvander(_to_unit(x_train, low, high), degree)
    targets = y_train
    if l2 > 0:  # ridge as least squares on rows sqrt(l2) * e_j appended (j >= 1): one lstsq, no normal equations
        penalty = np.sqrt(l2) * np.eye(degree + 1)[1:]
        design = np.vstack([design, penalty])
        targets = np.concatenate([y_train, np.zeros(degree)])
    coefficients, *_ = np.linalg.lstsq(design, targets, rcond=None)
    return chebyshev.chebval(_to_unit(x_eval, low, high), coefficients)


# ---------------------------------------------------------------------------------------
# The 100-dataset study
# ---------------------------------------------------------------------------------------


@dataclass
class Datasets:
    x_train: np.ndarray  # [D, 40]
    y_train: np.ndarray
    x_test: np.ndarray  # [D, 10]
    y_test: np.ndarray


def draw_datasets(protocol: str, n_datasets: int, seed: int) -> Datasets:
    """The handout's two ways to make 100 datasets of 50 points (40 train, 10 test).

    fixed_x: 50 x values drawn once, shared by every dataset; only the noise is fresh.
    fixed_test: 10 test points drawn first and shared; each training set is 40 other x values.
    In fixed_test, x comes from a grid with step 0.01 (x "measured to two decimals"), so that
    "no test point in any training set" means something: training x are drawn without
    replacement from the grid with the test x removed.
    """
    rng = np.random.default_rng(seed)
    if protocol == "fixed_x":
        x = rng.uniform(X_LOW, X_HIGH, N_TRAIN + N_TEST)
        x_train = np.tile(x[:N_TRAIN], (n_datasets, 1))
        x_test = np.tile(x[N_TRAIN:], (n_datasets, 1))
        return Datasets(x_train, f(x_train) + noise(rng, x_train.shape), x_test, f(x_test) + noise(rng, x_test.shape))
    if protocol == "fixed_test":
        grid = np.round(np.arange(X_LOW, X_HIGH + GRID_STEP / 2, GRID_STEP), 2)
        test_index = rng.choice(len(grid), N_TEST, replace=False)
        x_test = grid[test_index]
        y_test = f(x_test) + noise(rng, N_TEST)
        pool = np.delete(grid, test_index)  # the training sets never see a test x
        x_train = np.stack([rng.choice(pool, N_TRAIN, replace=False) for _ in range(n_datasets)])
        y_train = f(x_train) + noise(rng, x_train.shape)
        return Datasets(x_train, y_train, np.tile(x_test, (n_datasets, 1)), np.tile(y_test, (n_datasets, 1)))
    raise ValueError(f"unknown protocol {protocol!r}; expected 'fixed_x' or 'fixed_test'")


def decompose(predictions: np.ndarray, x_test: np.ndarray, y_test: np.ndarray) -> dict[str, float]:
    """Squared bias, variance and test error of one model from its predictions [D, 10] at the
    test points (the same x in every row)."""
    mean_prediction = predictions.mean(axis=0)  # E_D[g(x_i)], estimated over the datasets
    return {
        "bias2": float(np.mean((mean_prediction - f(x_test[0])) ** 2)),
        "variance": float(np.mean(predictions.var(axis=0))),
        "test_error": float(np.mean((y_test - predictions) ** 2)),
    }


def bias_variance_study(protocol: str, degrees: list[int], l2: float, n_datasets: int = 100, seed: int = 0) -> dict:
    data = draw_datasets(protocol, n_datasets, seed)
    predictions = np.stack([
        np.stack([fit_predict(data.x_train[d], data.y_train[d], degree, l2, data.x_test[d]) for d in range(n_datasets)])
        for degree in degrees
    ])
    parts = [decompose(p, data.x_test, data.y_test) for p in predictions]
    return {
        "x_train": data.x_train, "y_train": data.y_train, "x_test": data.x_test, "y_test": data.y_test,
        "predictions": predictions,
        **{name: np.array([p[name] for p in parts]) for name in ("bias2", "variance", "test_error")},
    }


# ---------------------------------------------------------------------------------------
# Figures and tables (parts 2 to 5)
# ---------------------------------------------------------------------------------------


def plot_dataset_and_fits(out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x, y = sample_dataset(20, seed=1)
    order = np.argsort(x)
    x, y = x[order], y[order]
    smooth = np.linspace(X_LOW, X_HIGH, 500)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.scatter(x, y, color="black", s=18, label="y (20 samples)", zorder=3)
    ax.plot(smooth, f(smooth), color="black", lw=2, label="f(x) = x + sin(1.5x)")
    ax.set(xlabel="x", ylabel="y", title="Part 2: the dataset and f")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "p1_dataset.png", dpi=120)
    between = np.linspace(x[0], x[-1], 500)  # the fits between the points too: that is where g10 swings
    for degree, color in [(1, "tab:blue"), (3, "tab:green"), (10, "tab:red")]:
        ax.plot(between, fit_predict(x, y, degree, 0.0, between), color=color, lw=1.5, label=f"g{degree}(x)")
    ax.set(title="Part 3: g1, g3 and g10 fitted to the 20 points", ylim=(y.min() - 3, y.max() + 3))
    ax.legend()
    fig.savefig(out / "p1_fits.png", dpi=120)
    plt.close(fig)


def plot_tradeoff(study: dict, protocol: str, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(DEGREES, study["bias2"], "o-", label="squared bias")
    ax.plot(DEGREES, study["variance"], "s-", label="variance")
    ax.plot(DEGREES, study["test_error"], "^-", label="test error")
    ax.plot(DEGREES, study["bias2"] + study["variance"] + NOISE_VARIANCE, "k--", lw=1, label="bias² + variance + 0.3")
    ax.set(xlabel="polynomial degree", ylabel="value", yscale="log", title=f"Part 4: bias-variance trade-off ({protocol})")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / f"p1_tradeoff_{protocol}.png", dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    plot_dataset_and_fits(args.out)
    table = {}
    for protocol in ("fixed_x", "fixed_test"):
        study = bias_variance_study(protocol, DEGREES, 0.0)
        plot_tradeoff(study, protocol, args.out)
        regularised = bias_variance_study(protocol, [10], L2)
        table[protocol] = {
            "degrees": DEGREES,
            **{k: study[k].round(5).tolist() for k in ("bias2", "variance", "test_error")},
            "best_degree": DEGREES[int(np.argmin(study["test_error"]))],
            "degree10_l2": {"l2": L2, **{k: round(float(regularised[k][0]), 5) for k in ("bias2", "variance", "test_error")}},
        }
        print(f"{protocol}: degree, bias2, variance, test error")
        for i, degree in enumerate(DEGREES):
            print(f"  {degree:2d}  {study['bias2'][i]:9.4f}  {study['variance'][i]:9.4f}  {study['test_error'][i]:9.4f}")
        print(f"  best degree by test error: {table[protocol]['best_degree']}")
        print(f"  degree 10, l2 = {L2}: {table[protocol]['degree10_l2']}")
    (args.out / "p1_bias_variance.json").write_text(json.dumps(table, indent=1) + "\n")


if __name__ == "__main__":
    main()
