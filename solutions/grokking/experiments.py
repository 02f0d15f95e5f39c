"""The experiments of parts 2.2-2.4 as commands: curves (PNG), metrics (JSON) and tables (Markdown).

    python -m solutions.grokking.experiments warmup      # 2.2: +, - x 1, 2 layers x p 97, 113 x 3 seeds
    python -m solutions.grokking.experiments grokking    # 2.3: a / b mod 97, the grokking curves
    python -m solutions.grokking.experiments ablation    # 2.4: weight decay against the grokking delay
    python -m solutions.grokking.experiments ablation --seeds 0 1 --steps 2000   # a smaller run
    python -m solutions.grokking.experiments all --out solutions/grokking/results

Every run is train.train_run on a config file (configs/warmup.toml or configs/grokking.toml) with
a few fields overridden, exactly as `python -m solutions.grokking.train --config ... --key=value`
would run it; nothing is written per run, and each experiment writes into --out:

    <experiment>.json   the settings, every run's logged history and final metrics, the machine
    <experiment>.md     the summary table
    <experiment>*.png   the curves

Runs are sequential and seeded; the same command gives the same numbers (the seconds differ).
REPORT.md discusses the results.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

from .train import evaluate, load_config, train_run

HERE = Path(__file__).parent
OPERATION_NAMES = {"+": "addition", "-": "subtraction", "/": "division"}


def run(config_file: str, **overrides) -> dict:
    """One training run; returns its history and final train / val / test metrics."""
    argv = ["--config", str(HERE / "configs" / config_file), "--out_dir="]
    argv += [f"--{key}={value}" for key, value in overrides.items()]
    cfg = load_config(argv)
    result = train_run(cfg, quiet=True)
    final = {f"{split}_{k}": v for split, examples in result["data"].items() for k, v in evaluate(result["model"], examples).items()}
    return {"overrides": overrides, "steps": result["steps"], "seconds": round(result["seconds"], 2),
            "history": result["history"], "final": final}


def first_step(history: list[dict], key: str, threshold: float) -> int | None:
    """The first logged step at which history[key] >= threshold (None if never)."""
    return next((r["step"] for r in history if r[key] >= threshold), None)


def machine() -> dict:
    return {"python": platform.python_version(), "torch": torch.__version__, "cpus": os.cpu_count(),
            "threads": torch.get_num_threads(), "date": time.strftime("%Y-%m-%d")}


def save(out: Path, name: str, settings: dict, runs: list[dict], table: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps({"settings": settings, "machine": machine(), "runs": runs}) + "\n")
    (out / f"{name}.md").write_text(table + "\n")
    print(table)


def spread(values: list[float], fmt: str) -> str:
    """mean ± standard deviation over seeds (the deviation of a sample; 0 for one seed)."""
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{format(statistics.mean(values), fmt)} ± {format(sd, fmt)}"


# ---------------------------------------------------------------------------------------
# 2.2: addition and subtraction, 1 and 2 layers, p = 97 and 113, several seeds
# ---------------------------------------------------------------------------------------


def warmup(out: Path, seeds: list[int], steps: int) -> None:
    runs = []
    for operation in "+-":
        for p in (97, 113):
            for n_layer in (1, 2):
                for seed in seeds:
                    # Each run stops once every validation equation is right (or after `steps`).
                    r = run("warmup.toml", operation=operation, p=p, n_layer=n_layer, seed=seed,
                            max_steps=steps, stop_at_val_acc=1.0, eval_interval=25)
                    r.update(operation=operation, p=p, n_layer=n_layer, seed=seed)
                    runs.append(r)
                    f = r["final"]
                    print(f"{operation} p={p} layers={n_layer} seed={seed}: test acc {f['test_acc']:.4f} "
                          f"({r['seconds']:.0f} s)", file=sys.stderr, flush=True)
    lines = [
        f"| task | p | layers | final train loss | final test loss | train accuracy | test accuracy | steps to 99% val |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for operation in "+-":
        for p in (97, 113):
            for n_layer in (1, 2):
                group = [r for r in runs if (r["operation"], r["p"], r["n_layer"]) == (operation, p, n_layer)]
                reached = [first_step(r["history"], "val_acc", 0.99) for r in group]
                reach = ", ".join("—" if s is None else str(s) for s in reached)
                lines.append(
                    f"| {OPERATION_NAMES[operation]} | {p} | {n_layer} "
                    f"| {spread([r['final']['train_loss'] for r in group], '.2e')} "
                    f"| {spread([r['final']['test_loss'] for r in group], '.2e')} "
                    f"| {spread([100 * r['final']['train_acc'] for r in group], '.2f')}% "
                    f"| {spread([100 * r['final']['test_acc'] for r in group], '.2f')}% | {reach} |"
                )
    lines.append(f"\n{len(seeds)} seeds ({', '.join(map(str, seeds))}); each run stops at 100% validation accuracy or after "
                 f"{steps} steps; mean ± standard deviation over seeds.")
    save(out, "warmup", {"seeds": seeds, "steps": steps, "config": "configs/warmup.toml"}, runs, "\n".join(lines))
    plot_warmup(runs, out / "warmup_curves.png")


def plot_warmup(runs: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = [(o, p) for o in "+-" for p in (97, 113)]
    fig, axes = plt.subplots(2, len(groups), figsize=(15, 6.5), sharex=True)
    colors = {1: "tab:orange", 2: "tab:blue"}
    for col, (operation, p) in enumerate(groups):
        for n_layer in (1, 2):
            for i, r in enumerate(x for x in runs if (x["operation"], x["p"], x["n_layer"]) == (operation, p, n_layer)):
                steps = [h["step"] for h in r["history"]]
                label = f"{n_layer} layer{'s' if n_layer > 1 else ''}" if i == 0 else None
                axes[0, col].plot(steps, [h["train_acc"] for h in r["history"]], "--", color=colors[n_layer], alpha=0.6, lw=1)
                axes[0, col].plot(steps, [h["val_acc"] for h in r["history"]], "-", color=colors[n_layer], alpha=0.8, lw=1, label=label)
                axes[1, col].plot(steps, [h["train_loss"] for h in r["history"]], "--", color=colors[n_layer], alpha=0.6, lw=1)
                axes[1, col].plot(steps, [h["val_loss"] for h in r["history"]], "-", color=colors[n_layer], alpha=0.8, lw=1)
        axes[0, col].set_title(f"a{operation}b mod {p}")
        axes[1, col].set_yscale("log")
        axes[1, col].set_xlabel("optimizer step")
    axes[0, 0].set_ylabel("accuracy (dashed: train, solid: val)")
    axes[1, 0].set_ylabel("loss (dashed: train, solid: val)")
    axes[0, 0].legend(loc="lower right")
    for ax in axes.flat:
        ax.grid(alpha=0.3)
    fig.suptitle("2.2: addition and subtraction, each seed one line")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------------------------------
# 2.3: grokking on division mod 97
# ---------------------------------------------------------------------------------------

# The setting of the figure: a plain learning rate, so that memorising and generalising are far
# apart. (configs/grokking.toml's lr 3e-3, which bench.py measures, narrows the gap.)
GROKKING = {"lr": 1e-3, "weight_decay": 1.0, "eval_interval": 10, "stop_at_val_acc": 2.0}


def grokking(out: Path, seeds: list[int], steps: int) -> None:
    runs = []
    for seed in seeds:
        r = run("grokking.toml", seed=seed, max_steps=steps, **GROKKING)
        r["seed"] = seed
        runs.append(r)
        print(f"/ p=97 seed={seed}: test acc {r['final']['test_acc']:.4f} ({r['seconds']:.0f} s)", file=sys.stderr, flush=True)
    lines = ["| seed | train acc reaches 99% (step) | val acc reaches 99% (step) | delay (steps) | final test accuracy |",
             "| ---: | ---: | ---: | ---: | ---: |"]
    for r in runs:
        memorised, generalised = first_step(r["history"], "train_acc", 0.99), first_step(r["history"], "val_acc", 0.99)
        delay = "—" if None in (memorised, generalised) else generalised - memorised
        lines.append(f"| {r['seed']} | {memorised} | {generalised} | {delay} | {100 * r['final']['test_acc']:.2f}% |")
    lines.append(f"\nDivision mod 97, half the equations in train, lr {GROKKING['lr']}, weight decay "
                 f"{GROKKING['weight_decay']}, {steps} steps, evaluated every {GROKKING['eval_interval']} steps.")
    save(out, "grokking", {"seeds": seeds, "steps": steps, **GROKKING, "config": "configs/grokking.toml"}, runs, "\n".join(lines))
    plot_grokking(runs, out / "grokking_curves.png")


def plot_grokking(runs: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (acc, loss) = plt.subplots(1, 2, figsize=(12, 4.5))
    for i, r in enumerate(runs):
        steps = [max(1, h["step"]) for h in r["history"]]
        first = i == 0
        acc.plot(steps, [h["train_acc"] for h in r["history"]], color="tab:red", alpha=0.7, lw=1, label="train" if first else None)
        acc.plot(steps, [h["val_acc"] for h in r["history"]], color="tab:green", alpha=0.7, lw=1, label="validation" if first else None)
        loss.plot(steps, [h["train_loss"] for h in r["history"]], color="tab:red", alpha=0.7, lw=1, label="train" if first else None)
        loss.plot(steps, [h["val_loss"] for h in r["history"]], color="tab:green", alpha=0.7, lw=1, label="validation" if first else None)
    for ax in (acc, loss):
        ax.set_xscale("log")
        ax.set_xlabel("optimization step")
        ax.grid(alpha=0.3, which="both")
        ax.legend()
    acc.set_ylabel("accuracy")
    loss.set_ylabel("loss")
    loss.set_yscale("log")
    fig.suptitle(f"2.3: a / b mod 97, half the equations in train ({len(runs)} seeds)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------------------------------
# 2.4: ablation: weight decay against the delay between memorising and generalising
# ---------------------------------------------------------------------------------------

DECAYS = [0.1, 0.3, 1.0, 3.0]  # on configs/grokking.toml's setting (lr 3e-3), where 1.0 reaches 99% in about 800 steps


def ablation(out: Path, seeds: list[int], steps: int) -> None:
    runs = []
    for weight_decay in DECAYS:
        for seed in seeds:
            r = run("grokking.toml", seed=seed, max_steps=steps, weight_decay=weight_decay, eval_interval=25, stop_at_val_acc=0.99)
            r.update(weight_decay=weight_decay, seed=seed)
            r["memorised"] = first_step(r["history"], "train_acc", 1.0)
            r["generalised"] = first_step(r["history"], "val_acc", 0.99)
            runs.append(r)
            print(f"weight decay {weight_decay} seed={seed}: train 100% at {r['memorised']}, val 99% at {r['generalised']}",
                  file=sys.stderr, flush=True)
    lines = ["| weight decay | seed | train acc 100% (step) | val acc 99% (step) | delay (steps) |", "| ---: | ---: | ---: | ---: | ---: |"]
    for r in runs:
        delay = "—" if None in (r["memorised"], r["generalised"]) else r["generalised"] - r["memorised"]
        lines.append(f"| {r['weight_decay']} | {r['seed']} | {r['memorised'] or '—'} | {r['generalised'] or f'not in {steps}'} | {delay} |")
    lines.append(f"\nDivision mod 97, half the equations in train, everything but the weight decay as in "
                 f"configs/grokking.toml; a run stops at 99% validation accuracy or after {steps} steps.")
    save(out, "ablation", {"seeds": seeds, "steps": steps, "decays": DECAYS, "config": "configs/grokking.toml"}, runs, "\n".join(lines))
    plot_ablation(runs, out / "ablation.png", steps)


def plot_ablation(runs: list[dict], path: Path, steps: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (curves, delays) = plt.subplots(1, 2, figsize=(12, 4.5))
    cmap = plt.get_cmap("viridis")
    for r in runs:
        c = cmap(DECAYS.index(r["weight_decay"]) / max(1, len(DECAYS) - 1))
        hs = r["history"]
        label = f"wd {r['weight_decay']}" if r["seed"] == min(x["seed"] for x in runs) else None
        curves.plot([max(1, h["step"]) for h in hs], [h["val_acc"] for h in hs], color=c, lw=1, label=label)
        curves.plot([max(1, h["step"]) for h in hs], [h["train_acc"] for h in hs], "--", color=c, lw=0.8, alpha=0.6)
        if r["memorised"] is not None:
            delay = (r["generalised"] if r["generalised"] is not None else steps) - r["memorised"]
            delays.scatter(r["weight_decay"], delay, color=c, marker="o" if r["generalised"] is not None else "^")
    curves.set_xscale("log")
    curves.set_xlabel("optimization step")
    curves.set_ylabel("accuracy (solid: val, dashed: train)")
    curves.legend()
    delays.set_xscale("log")
    delays.set_xlabel("weight decay")
    delays.set_ylabel("steps from 100% train to 99% val accuracy\n(triangles: not reached, lower bound)")
    for ax in (curves, delays):
        ax.grid(alpha=0.3, which="both")
    fig.suptitle("2.4: weight decay against the grokking delay, a / b mod 97")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m solutions.grokking.experiments", description=__doc__.split("\n\n")[0])
    parser.add_argument("experiment", choices=["warmup", "grokking", "ablation", "all"])
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, help="most optimizer steps per run (default: 3000 warmup and ablation, 4000 grokking)")
    args = parser.parse_args(argv)
    todo = ["warmup", "grokking", "ablation"] if args.experiment == "all" else [args.experiment]
    for name in todo:
        steps = args.steps or (4000 if name == "grokking" else 3000)
        {"warmup": warmup, "grokking": grokking, "ablation": ablation}[name](args.out, args.seeds, steps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
