"""The experiments of parts 2.2-2.4 as commands: curves (PNG), metrics (JSON) and tables (Markdown).

    python -m solutions.grokking.experiments warmup      # 2.2: +, - x 1, 2 layers x p 97, 113 x 3 seeds
    python -m solutions.grokking.experiments grokking    # 2.3: a / b mod 97, the grokking curves
    python -m solutions.grokking.experiments ablation    # 2.4: weight decay (AdamW, Muon) against the grokking delay
    python -m solutions.grokking.experiments ablation --seeds 0 1 --steps 2000   # a smaller run
    python -m solutions.grokking.experiments grokking --jobs 2   # two runs at a time (one thread each)
    python -m solutions.grokking.experiments all --out solutions/grokking/results

Every run is train.train_run on a config file (configs/warmup.toml or configs/grokking.toml) with
a few fields overridden, exactly as `python -m solutions.grokking.train --config ... --key=value`
would run it; nothing is written per run, and each experiment writes into --out:

    <experiment>.json   the settings, every run's logged history and final metrics, the machine
    <experiment>.md     the summary table
    <experiment>*.png   the curves

Runs are seeded with one thread each; the same command gives the same numbers, with --jobs 1 or\nmore (only the seconds differ).
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
    """One training run; returns its history and final train / val / test metrics (and the
    overrides it ran with)."""
    argv = ["--config", str(HERE / "configs" / config_file), "--out_dir="]
    argv += [f"--{key}={value}" for key, value in overrides.items()]
    cfg = load_config(argv)
    result = train_run(cfg, quiet=True)
    final = {f"{split}_{k}": v for split, examples in result["data"].items() for k, v in evaluate(result["model"], examples).items()}
    return {"overrides": overrides, "steps": result["steps"], "seconds": round(result["seconds"], 2),
            "history": result["history"], "final": final}


def run_all(config_file: str, settings: list[dict], jobs: int) -> list[dict]:
    """run(config_file, **s) for every s, `jobs` at a time in worker processes, in the given order.
    Every config pins threads = 1 and each run is seeded, so a run's numbers do not depend on
    how many run beside it (only its seconds do)."""
    if jobs <= 1:
        return [_run_and_report(config_file, s) for s in settings]
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(jobs) as pool:
        return list(pool.map(_run_and_report, [config_file] * len(settings), settings))


def _run_and_report(config_file: str, overrides: dict) -> dict:
    r = run(config_file, **overrides)
    r.update(overrides)  # the settings are also top-level keys: r["seed"], r["weight_decay"], ...
    f = r["final"]
    shown = " ".join(f"{k}={v}" for k, v in overrides.items() if k not in ("max_steps", "eval_interval", "stop_at_val_acc"))
    print(f"{shown}: {r['steps']} steps, test acc {f['test_acc']:.4f} ({r['seconds']:.0f} s)", file=sys.stderr, flush=True)
    return r


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


def warmup(out: Path, seeds: list[int], steps: int, jobs: int) -> None:
    # Each run stops once every validation equation is right (or after `steps`).
    settings = [dict(operation=operation, p=p, n_layer=n_layer, seed=seed, max_steps=steps, stop_at_val_acc=1.0, eval_interval=25)
                for operation in "+-" for p in (97, 113) for n_layer in (1, 2) for seed in seeds]
    runs = run_all("warmup.toml", settings, jobs)
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


# The setting of the figure: AdamW alone (Power et al.'s optimizer) at a plain learning rate, so
# that memorising and generalising are far apart (configs/grokking.toml's Muon, which bench.py
# measures, nearly closes the gap). A run stops once every validation equation is right.
GROKKING = {"optimizer": "adamw", "lr": 1e-3, "weight_decay": 1.0, "eval_interval": 20, "stop_at_val_acc": 1.0}


def grokking(out: Path, seeds: list[int], steps: int, jobs: int) -> None:
    runs = run_all("grokking.toml", [dict(seed=seed, max_steps=steps, **GROKKING) for seed in seeds], jobs)
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

DECAYS = [0.1, 0.3, 1.0, 3.0]
OPTIMIZERS = {"adamw": {"optimizer": "adamw"}, "muon": {"optimizer": "muon", "muon_lr": 0.02}}


def ablation(out: Path, seeds: list[int], steps: int, jobs: int) -> None:
    settings = [dict(**OPTIMIZERS[name], weight_decay=weight_decay, seed=seed, max_steps=steps, eval_interval=25,
                     stop_at_val_acc=0.99) for name in OPTIMIZERS for weight_decay in DECAYS for seed in seeds]
    ablation_report(out, run_all("grokking.toml", settings, jobs), seeds, steps)


def delay(r: dict, steps: int, memorised_key: str = "memorised") -> tuple[str, float | None]:
    """The steps from 100% train accuracy (r["memorised"]; or 99%, r["memorised_99"]) to 99%
    validation accuracy, as text and as a number for the plot (None: nothing to plot). A run
    stops at 99% validation accuracy, so one that generalises before it has every training
    equation right has a delay of at most 0; one that never generalises has a delay of more than
    what is left after memorising."""
    memorised, generalised = r[memorised_key], r["generalised"]
    if generalised is not None:
        return (str(generalised - memorised), generalised - memorised) if memorised is not None else ("≤ 0", 0.0)
    return (f"> {steps - memorised}", float(steps - memorised)) if memorised is not None else ("neither", None)


def ablation_report(out: Path, runs: list[dict], seeds: list[int], steps: int) -> None:
    """The table, JSON and plot of the ablation's runs (each r holds its settings and history)."""
    for r in runs:
        r["memorised"] = first_step(r["history"], "train_acc", 1.0)
        r["memorised_99"] = first_step(r["history"], "train_acc", 0.99)
        r["generalised"] = first_step(r["history"], "val_acc", 0.99)
    lines = ["| optimizer | weight decay | seeds | train acc 100% (step) | train acc 99% (step) | val acc 99% (step) "
             "| delay from 100% train | delay from 99% train | median steps to 99% val |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name in OPTIMIZERS:
        for weight_decay in DECAYS:
            group = [r for r in runs if r["optimizer"] == name and r["weight_decay"] == weight_decay]
            reached = [r["generalised"] for r in group if r["generalised"] is not None]
            median = f"{statistics.median(reached):.0f}" if len(reached) == len(group) else f"> {steps} ({len(group) - len(reached)} of {len(group)} not reached)"
            show = lambda key: ", ".join("—" if r[key] is None else str(r[key]) for r in group)
            lines.append(f"| {name} | {weight_decay} | {', '.join(str(r['seed']) for r in group)} | {show('memorised')} "
                         f"| {show('memorised_99')} | {show('generalised')} | {', '.join(delay(r, steps)[0] for r in group)} "
                         f"| {', '.join(delay(r, steps, 'memorised_99')[0] for r in group)} | {median} |")
    lines.append(f"\nDivision mod 97, half the equations in train, configs/grokking.toml with the weight decay changed; "
                 f"adamw: AdamW (lr 3e-3) on every parameter; muon: Muon (lr 0.02) on the blocks' matrices and AdamW "
                 f"(lr 3e-3) on the rest, with the same weight decay. A run stops at 99% validation accuracy or after "
                 f"{steps} steps; evaluated every 25 steps, train accuracy over the whole train split. —: not reached; "
                 f"delay ≤ 0: 99% validation accuracy came before every training equation was right; > n: never "
                 f"generalised in the n steps left after memorising; neither: did neither. The issue measures from 100% "
                 f"train accuracy; since runs hover at 99.9x% (one or two of 4,656 equations wrong) for hundreds of "
                 f"steps, the delay from 99% is given too, and the plot uses it.")
    save(out, "ablation", {"seeds": seeds, "steps": steps, "decays": DECAYS, "optimizers": OPTIMIZERS,
                           "config": "configs/grokking.toml"}, runs, "\n".join(lines))
    plot_ablation(runs, out / "ablation.png", steps)


def plot_ablation(runs: list[dict], path: Path, steps: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(OPTIMIZERS) + 1, figsize=(17, 4.5))
    cmap = plt.get_cmap("viridis")
    first_seed = min(r["seed"] for r in runs)
    for ax, name in zip(axes, OPTIMIZERS):
        for r in (r for r in runs if r["optimizer"] == name):
            c = cmap(DECAYS.index(r["weight_decay"]) / max(1, len(DECAYS) - 1))
            hs = r["history"]
            label = f"wd {r['weight_decay']}" if r["seed"] == first_seed else None
            ax.plot([max(1, h["step"]) for h in hs], [h["val_acc"] for h in hs], color=c, lw=1, label=label)
            ax.plot([max(1, h["step"]) for h in hs], [h["train_acc"] for h in hs], "--", color=c, lw=0.8, alpha=0.6)
        ax.set_xscale("log")
        ax.set_xlabel("optimization step")
        ax.set_ylabel("accuracy (solid: val, dashed: train)")
        ax.set_title(name)
        ax.legend()
    delays = axes[-1]
    for i, name in enumerate(OPTIMIZERS):
        for r in (r for r in runs if r["optimizer"] == name):
            text, value = delay(r, steps, "memorised_99")
            if value is None:
                continue
            marker = "^" if text.startswith(">") else "v" if text.startswith("≤") else "o"
            jitter = 1 + 0.04 * (i - 0.5)  # the two optimizers side by side at each decay
            delays.scatter(r["weight_decay"] * jitter, value, color=f"C{i}", marker=marker,
                           label=name if r["seed"] == first_seed and r["weight_decay"] == DECAYS[0] else None)
    delays.set_xscale("log")
    delays.set_xlabel("weight decay")
    delays.set_ylabel("steps from 99% train to 99% val accuracy\n(▲ val never 99%: lower bound; ▼ val first: at most 0)")
    delays.legend()
    for ax in axes:
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
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time, each in its own process with one thread")
    parser.add_argument("--steps", type=int, help="most optimizer steps per run (default: 3000 warmup and ablation, 4000 grokking)")
    args = parser.parse_args(argv)
    todo = ["warmup", "grokking", "ablation"] if args.experiment == "all" else [args.experiment]
    for name in todo:
        steps = args.steps or (4000 if name == "grokking" else 3000)
        {"warmup": warmup, "grokking": grokking, "ablation": ablation}[name](args.out, args.seeds, steps, args.jobs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
