"""2.3: scaling-law fits, and the sweep that feeds them.

    python -m solutions.attention_scaling.scaling               # the sweep, fits and plots (about 8 minutes on one thread)
    python -m solutions.attention_scaling.scaling --budget_scale 0.001 --out /tmp/sweep   # a quick check

The handout's budgets (8e10 ... 1.28e12 FLOPs) need up to 4e7 training tokens per run, hours on one
CPU thread; the default sweep runs every budget times --budget_scale (0.1), the same six model
sizes and the same 6·N·D accounting, and fits on the budgets it ran. Writes results/scaling.json,
results/scaling_isoflops.png and results/scaling_optimal_params.png, and prints the 1e15 estimate.
"""

import argparse
import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
HIDDEN_SIZES = [16, 32, 48, 64, 96, 128]
BUDGETS = [8e10, 1.6e11, 3.2e11, 6.4e11, 1.28e12]
TARGET_BUDGET = 1e15


def find_optimal_params(x, y):
    """Fit y = a·u² + b·u + c with u = log10(x) and return ([a, b, c], the x at the fit's minimum).

    The minimum is the vertex 10^(-b / 2a) when it lies in the sampled range; outside it (or for a
    parabola that opens downwards) the fit is trusted only where there is data, so the optimum is
    the end of the sampled range where the fit is lowest: for an upward parabola, the end nearer
    to the vertex."""
    log_x, y = np.log10(np.asarray(x, dtype=np.float64)), np.asarray(y, dtype=np.float64)
    coefficients = np.polyfit(log_x, y, 2)
    a, b, _ = coefficients
    lo, hi = log_x.min(), log_x.max()
    if a > 0:
        vertex = -b / (2 * a)
        best = min(max(vertex, lo), hi)  # clamped to the nearer end of the sampled range
    else:
        best = lo if np.polyval(coefficients, lo) <= np.polyval(coefficients, hi) else hi
    return [float(v) for v in coefficients], float(10**best)


def fit_linear_log(x, y):
    """Fit log10(y) = m·log10(x) + c by least squares and return (m, c)."""
    m, c = np.polyfit(np.log10(np.asarray(x, dtype=np.float64)), np.log10(np.asarray(y, dtype=np.float64)), 1)
    return float(m), float(c)


def non_embedding_params(hidden_size: int) -> int:
    """4 layers of (Q, K, V, MLP) linear layers plus the output layer, vocabulary 30."""
    return 16 * hidden_size**2 + 46 * hidden_size + 30


def sweep(budgets, hidden_sizes, seed=0, quiet=True) -> list[dict]:
    """Train each size at each budget on D = C / (6N) tokens; one row per run."""
    from . import data
    from .train import build_decoder, decoder_loss, train

    train_words, val_words = data.split_words(data.load_words())
    rows = []
    for budget in budgets:
        for h in hidden_sizes:
            n = non_embedding_params(h)
            tokens = budget / (6 * n)
            model = build_decoder(h, 4, seed)
            assert model.non_embedding_parameters() == n
            history = train(model, decoder_loss, train_words, val_words, max_tokens=tokens, lr=2e-3, seed=seed,
                            evals=5, quiet=True)
            rows.append({"budget": budget, "hidden_size": h, "params": n, "tokens": tokens,
                         "val_loss": history["val_loss"][-1], "seconds": history["seconds"]})
            if not quiet:
                print(f"C={budget:.3g}  h={h:3d}  N={n:6d}  D={tokens:9.0f}  val loss {rows[-1]['val_loss']:.4f}  "
                      f"({history['seconds']:.0f}s)", flush=True)
    return rows


def fit(rows: list[dict]) -> dict:
    """Per-budget quadratic fits, the power law of the optimal size, and the 1e15 estimate."""
    budgets = sorted({r["budget"] for r in rows})
    per_budget = []
    for budget in budgets:
        runs = [r for r in rows if r["budget"] == budget]
        coefficients, optimal = find_optimal_params([r["params"] for r in runs], [r["val_loss"] for r in runs])
        per_budget.append({"budget": budget, "coefficients": coefficients, "optimal_params": optimal})
    m, c = fit_linear_log(budgets, [b["optimal_params"] for b in per_budget])
    params = 10 ** (np.log10(TARGET_BUDGET) * m + c)
    return {"per_budget": per_budget, "m": m, "c": c, "target_budget": TARGET_BUDGET,
            "target_params": float(params), "target_tokens": float(TARGET_BUDGET / (6 * params))}


def plot(rows, fits, out: Path) -> None:
    from .plots import plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, b in enumerate(fits["per_budget"]):
        runs = [r for r in rows if r["budget"] == b["budget"]]
        xs = np.array([r["params"] for r in runs])
        ax.plot(xs, [r["val_loss"] for r in runs], "o", color=f"C{i}", label=f"C = {b['budget']:.2g} FLOPs")
        grid = np.logspace(np.log10(xs.min()), np.log10(xs.max()), 100)
        ax.plot(grid, np.polyval(b["coefficients"], np.log10(grid)), "-", color=f"C{i}", alpha=0.7)
        ax.axvline(b["optimal_params"], color=f"C{i}", ls=":", alpha=0.6)
    ax.set_xscale("log")
    ax.set_xlabel("non-embedding parameters N")
    ax.set_ylabel("validation loss")
    ax.set_title("IsoFLOP curves and quadratic fits in log10 N (dotted: optimum)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "scaling_isoflops.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4.5))
    budgets = np.array([b["budget"] for b in fits["per_budget"]])
    ax.plot(budgets, [b["optimal_params"] for b in fits["per_budget"]], "o", label="optimum per budget")
    grid = np.logspace(np.log10(budgets.min()), np.log10(fits["target_budget"]), 100)
    ax.plot(grid, 10 ** (fits["m"] * np.log10(grid) + fits["c"]), "-",
            label=f"N_opt = 10^({fits['m']:.3f} log10 C + {fits['c']:.3f})")
    ax.plot([fits["target_budget"]], [fits["target_params"]], "*", ms=12, label=f"1e15: N = {fits['target_params']:.3g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("compute budget C (FLOPs)")
    ax.set_ylabel("optimal non-embedding parameters")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "scaling_optimal_params.png", dpi=110)
    plt.close(fig)


def main():
    import torch

    parser = argparse.ArgumentParser(description="the scaling sweep (2.3)")
    parser.add_argument("--budget_scale", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    budgets = [b * args.budget_scale for b in BUDGETS]
    rows = sweep(budgets, HIDDEN_SIZES, args.seed, quiet=False)
    fits = fit(rows)
    (out / "scaling.json").write_text(json.dumps({"budget_scale": args.budget_scale, "runs": rows, "fits": fits}, indent=1))
    plot(rows, fits, out)
    for b in fits["per_budget"]:
        print(f"C={b['budget']:.3g}: optimal N = {b['optimal_params']:.4g}")
    print(f"log10 N_opt = {fits['m']:.4f} log10 C + {fits['c']:.4f}")
    print(f"at C = 1e15: N_opt = {fits['target_params']:.4g} parameters, D = {fits['target_tokens']:.4g} tokens")


if __name__ == "__main__":
    main()
