"""Steps and seconds to 99% validation accuracy on division mod 97 (half the equations in train).

    python -m solutions.grokking.bench --seeds 0 1 2
    python -m solutions.grokking.bench --seeds 0 1 2 --lr=1e-3 --grokfast_alpha=0     # any override

Each seed trains configs/grokking.toml's model from scratch with evaluation as the benchmark
counts it: every eval_interval steps, on the validation split, the answer position only, no
padding, in one batch; the clock includes every evaluation. The run stops at the first
evaluation with val accuracy >= 0.99, so the step count is a multiple of eval_interval (an upper
bound on the true step, at most eval_interval - 1 too high). Seeds change the initialisation and
the batch order; the split is data.splits' default (seed 0), the same for every run. Prints one
line per seed, the median, the threads and the machine's load average (the timing is only
comparable on a quiet machine).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from dataclasses import replace
from pathlib import Path

import torch

from .model import Transformer
from .train import configure_optimizer, load_config, make_data, masked_loss, predictions_loss, train_run

CONFIG = Path(__file__).parent / "configs" / "grokking.toml"


def step_times(cfg, data, repeats: int = 5, steps: int = 10) -> dict[str, float]:
    """Milliseconds per training step with the answer-only forward and with the full forward
    (logits at every position, then the masked loss), alternated so both see the same load;
    the median over repeats of each."""
    torch.manual_seed(0)
    model = Transformer(cfg.model_config()).train()
    optimizer = configure_optimizer(model, cfg)
    batch = data["train"][torch.arange(cfg.batch_size)]

    def answer_only():
        return predictions_loss(model, batch)[0]

    def full():
        return masked_loss(model(batch.tokens), batch.targets, batch.loss_mask)

    times: dict[str, list[float]] = {"answer_only": [], "full": []}
    for _ in range(repeats):
        for name, loss_fn in (("answer_only", answer_only), ("full", full)):
            started = time.perf_counter()
            for _ in range(steps):
                optimizer.zero_grad()
                loss_fn().backward()
                optimizer.step()
            times[name].append((time.perf_counter() - started) / steps * 1000)
    return {name: statistics.median(t) for name, t in times.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="steps and seconds to 99% val accuracy, division mod 97")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--target", type=float, default=0.99)
    parser.add_argument("--step_times", action="store_true", help="only time a training step, answer-only vs full forward")
    args, overrides = parser.parse_known_args(argv)
    cfg = load_config(["--config", str(CONFIG), *overrides])
    cfg = replace(cfg, out_dir="", eval_train=False, stop_at_val_acc=args.target)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    data = make_data(cfg)  # built once: every seed trains on the same split
    print(
        f"{cfg.operation} mod {cfg.p}, train_fraction {cfg.train_fraction}: lr {cfg.lr}, wd {cfg.weight_decay}, "
        f"batch {cfg.batch_size}, grokfast alpha {cfg.grokfast_alpha} lambda {cfg.grokfast_lambda}, "
        f"eval every {cfg.eval_interval}, {torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.2f}"
    )
    if args.step_times:
        ms = step_times(cfg, data)
        ratio = ms["full"] / ms["answer_only"]
        print(f"ms per step: answer-only {ms['answer_only']:.1f}, full {ms['full']:.1f} (x{ratio:.2f})")
        return
    steps, seconds = [], []
    for seed in args.seeds:
        result = train_run(replace(cfg, seed=seed), data=data, quiet=True)
        reached = result["step_to_target"]
        eval_seconds = sum(r["eval_seconds"] for r in result["history"])
        if reached is None:
            print(f"seed {seed}: not reached in {cfg.max_steps} steps ({result['seconds']:.1f} s)")
            steps.append(float("inf"))
            seconds.append(float("inf"))
            continue
        print(f"seed {seed}: {reached} steps, {result['seconds']:.1f} s (of which evaluation {eval_seconds:.1f} s)")
        steps.append(reached)
        seconds.append(result["seconds"])
    print(f"median: {statistics.median(steps)} steps, {statistics.median(seconds):.1f} s; load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
