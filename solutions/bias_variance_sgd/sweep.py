"""Problem 5.3-5.5: a random-search hyperparameter sweep, in Weights & Biases' sweep format, run
offline, and an analysis of which hyperparameters matter.

    python -m solutions.bias_variance_sgd.sweep --runs 30 --iterations 200     # about 2 minutes
    python -m solutions.bias_variance_sgd.sweep --wandb                         # the same sweep through W&B

SWEEP_CONFIG is the dict wandb.sweep() takes (and, written out as YAML, what `wandb sweep` reads).
Without --wandb the runs are drawn here the way W&B's random search draws them (each parameter
uniformly from its list, independently per run) and trained one after the other; the results go
to results/p5_sweep.json and results/p5_sweep.md. W&B's parameter importance fits a random forest
to the runs; with a few dozen runs we report two simpler measures computed here instead: the share
of the loss's variance explained by each parameter's values (eta squared) and the rank correlation
of its value with the loss.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from .train_chatbot import RESULTS, TrainConfig, train

SWEEP_CONFIG = {
    "method": "random",
    "metric": {"name": "loss", "goal": "minimize"},
    "parameters": {
        "learning_rate": {"values": [0.0001, 0.00025, 0.0005, 0.001]},
        "optimizer": {"values": ["adam", "sgd"]},
        "clip": {"values": [0, 25, 50, 100]},
        "teacher_forcing_ratio": {"values": [0, 0.5, 1.0]},
        "decoder_learning_ratio": {"values": [1.0, 3.0, 5.0, 10.0]},
    },
}


def sample_runs(config: dict, count: int, seed: int) -> list[dict]:
    """count runs' hyperparameters, each parameter drawn uniformly from its "values"."""
    rng = random.Random(seed)
    names = list(config["parameters"])
    return [{name: rng.choice(config["parameters"][name]["values"]) for name in names} for _ in range(count)]


def eta_squared(values: list, losses: list[float]) -> float:
    """The share of the losses' variance between the groups of runs with the same value."""
    mean = sum(losses) / len(losses)
    total = sum((x - mean) ** 2 for x in losses)
    groups: dict = {}
    for v, x in zip(values, losses):
        groups.setdefault(v, []).append(x)
    between = sum(len(g) * (sum(g) / len(g) - mean) ** 2 for g in groups.values())
    return between / total if total > 0 else 0.0


def spearman(a: list, b: list[float]) -> float:
    """Rank correlation (average ranks for ties)."""

    def ranks(xs):
        order = sorted(range(len(xs)), key=lambda i: xs[i])
        r = [0.0] * len(xs)
        i = 0
        while i < len(order):
            j = i
            while j + 1 < len(order) and xs[order[j + 1]] == xs[order[i]]:
                j += 1
            for t in range(i, j + 1):
                r[order[t]] = (i + j) / 2
            i = j + 1
        return r

    ra, rb = ranks(a), ranks(b)
    ma, mb = sum(ra) / len(ra), sum(rb) / len(rb)
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    sa = sum((x - ma) ** 2 for x in ra) ** 0.5
    sb = sum((y - mb) ** 2 for y in rb) ** 0.5
    return cov / (sa * sb) if sa > 0 and sb > 0 else 0.0


def importance(runs: list[dict]) -> list[dict]:
    losses = [r["loss"] for r in runs]
    out = []
    for name in SWEEP_CONFIG["parameters"]:
        values = [r["config"][name] for r in runs]
        numeric = [(1.0 if v == "adam" else 0.0) if isinstance(v, str) else float(v) for v in values]
        out.append({"parameter": name, "eta_squared": eta_squared(values, losses), "spearman": spearman(numeric, losses)})
    return sorted(out, key=lambda r: -r["eta_squared"])


def report(runs: list[dict], ranked: list[dict], iterations: int) -> str:
    best = min(runs, key=lambda r: r["loss"])
    lines = [f"# Sweep: {len(runs)} random-search runs of {iterations} iterations", "",
             "| run | learning_rate | optimizer | clip | teacher_forcing_ratio | decoder_learning_ratio | loss | validation loss |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for i, r in enumerate(sorted(runs, key=lambda r: r["loss"])):
        c = r["config"]
        lines.append(f"| {r['run']} | {c['learning_rate']} | {c['optimizer']} | {c['clip']} | {c['teacher_forcing_ratio']} "
                     f"| {c['decoder_learning_ratio']} | {r['loss']:.4f} | {r['validation_loss']:.4f} |")
    lines += ["", f"Best run: {best['run']}, {best['config']}, loss {best['loss']:.4f}.", "",
              "| parameter | variance of the loss explained (eta²) | rank correlation with the loss (adam = 1, sgd = 0) |",
              "| --- | --- | --- |"]
    lines += [f"| {r['parameter']} | {r['eta_squared']:.2f} | {r['spearman']:+.2f} |" for r in ranked]
    return "\n".join(lines) + "\n"


def run_with_wandb(count: int, iterations: int) -> None:  # pragma: no cover - needs wandb and an account
    import wandb

    def one_run():
        with wandb.init() as run:
            cfg = TrainConfig(iterations=iterations, **dict(run.config))
            result = train(cfg)
            for step, loss in enumerate(result["losses"], start=1):
                wandb.log({"loss": loss}, step=step)
            wandb.log({"loss": result["final_loss"], "validation_loss": result["validation_loss"]})

    sweep_id = wandb.sweep(SWEEP_CONFIG, project="chatbot-sweep")
    wandb.agent(sweep_id, function=one_run, count=count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--wandb", action="store_true", help="run the sweep through Weights & Biases instead")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.wandb:
        return run_with_wandb(args.runs, args.iterations)
    runs = []
    for i, hyper in enumerate(sample_runs(SWEEP_CONFIG, args.runs, args.seed), start=1):
        result = train(TrainConfig(iterations=args.iterations, seed=i, **hyper))
        runs.append({"run": i, "config": hyper, "loss": result["final_loss"], "validation_loss": result["validation_loss"],
                     "losses": [round(x, 4) for x in result["losses"][::10]]})
        print(f"run {i:2d} {hyper}: loss {result['final_loss']:.4f}, validation {result['validation_loss']:.4f}", flush=True)
    ranked = importance(runs)
    text = report(runs, ranked, args.iterations)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "p5_sweep.md").write_text(text)
    (args.out / "p5_sweep.json").write_text(json.dumps(
        {"sweep_config": SWEEP_CONFIG, "iterations": args.iterations, "runs": runs, "importance": ranked}, indent=1) + "\n")


if __name__ == "__main__":
    main()
