"""Tokens per second and memory per rank of train.py: one process, DDP and FSDP, side by side.

    python -m solutions.gpt2.train_bench                                   # configs/small.toml, 2 ranks
    python -m solutions.gpt2.train_bench --config solutions/gpt2/configs/tiny.toml --steps 10
    python -m solutions.gpt2.train_bench --out solutions/gpt2/figures/train_bench.json

Each strategy is a real run of the training command (torchrun for DDP and FSDP) with evaluation
and checkpoints turned off, writing its log.jsonl into a temporary folder; this script reads the
logs back. Throughput is the median over the steps after the first --warmup ones, in tokens of the
global batch per second (padding included, as train.py counts them); memory is each rank's peak
resident set size, the part of it the model, gradients and optimizer state hold, and the baseline
before the model was built (torch, the data and the process group).

The runs are sequential, on the same machine, in one invocation: compare the rows with each
other, not with figures from another run. Timings are never asserted anywhere; TRAINING.md
records them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SMALL = Path(__file__).parent / "configs" / "small.toml"


def command(strategy: str, nproc: int, config: Path, steps: int, out_dir: Path, extra: list[str]) -> list[str]:
    train = ["-m", "solutions.gpt2.train", "--config", str(config), f"--strategy={strategy}", f"--max_steps={steps}",
             "--eval_interval=0", "--ckpt_interval=-1", f"--log_interval={steps}", f"--out_dir={out_dir}", *extra]
    if strategy == "single":
        return [sys.executable, *train]
    # --standalone: a free port on localhost, never a fixed one.
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", *train]


def run(strategy: str, nproc: int, config: Path, steps: int, warmup: int, extra: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = Path(tmp) / strategy
        start = time.perf_counter()
        done = subprocess.run(command(strategy, nproc, config, steps, out_dir, extra), cwd=ROOT, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"{strategy} failed (exit {done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        log = [json.loads(line) for line in (out_dir / "log.jsonl").read_text().splitlines()]
        config_used = json.loads((out_dir / "config.json").read_text())
    steps_logged = [e for e in log if "tokens_per_s" in e]
    timed = steps_logged[warmup:] or steps_logged
    memory = next(e["memory_per_rank"] for e in log if e.get("final"))
    return {
        "strategy": strategy,
        "ranks": 1 if strategy == "single" else nproc,
        "tokens_per_step": config_used["batch_size"] * config_used["grad_accum"] * config_used["seq_len"] * config_used["world_size"],
        "tokens_per_s": statistics.median(e["tokens_per_s"] for e in timed),
        "step_s": statistics.median(e["dt_s"] for e in timed),
        "peak_rss_mb": [round(m["peak_rss_mb"]) for m in memory],
        "state_mb": [round(m["state_mb"], 1) for m in memory],
        "rss_before_model_mb": [round(m["rss_before_model_mb"]) for m in memory],
        "final_loss": steps_logged[-1]["loss"],
        "wall_s": round(time.perf_counter() - start, 1),
    }


def table(rows: list[dict]) -> str:
    lines = [
        "| strategy | ranks | tokens / step | tokens / s | s / step | peak RSS per rank (MB) | params + grads + Adam per rank (MB) | RSS before the model (MB) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['strategy']} | {r['ranks']} | {r['tokens_per_step']:,} | {r['tokens_per_s']:,.0f} | {r['step_s']:.2f} "
            f"| {' / '.join(map(str, r['peak_rss_mb']))} | {' / '.join(map(str, r['state_mb']))} "
            f"| {' / '.join(map(str, r['rss_before_model_mb']))} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m solutions.gpt2.train_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=SMALL, help=f"training config (default {SMALL.relative_to(ROOT)})")
    parser.add_argument("--steps", type=int, default=12, help="optimizer steps per run (default 12)")
    parser.add_argument("--warmup", type=int, default=2, help="first steps left out of the median (default 2)")
    parser.add_argument("--nproc", type=int, default=2, help="ranks for DDP and FSDP (default 2)")
    parser.add_argument("--strategies", default="single,ddp,fsdp")
    parser.add_argument("--out", type=Path, help="also write the rows and the machine as JSON here")
    parser.add_argument("extra", nargs="*", help="more train.py overrides, after --, e.g. -- --batch_size=2")
    args = parser.parse_args(argv)
    rows = []
    for strategy in args.strategies.split(","):
        print(f"running {strategy} ...", file=sys.stderr, flush=True)
        rows.append(run(strategy, args.nproc, args.config, args.steps, args.warmup, args.extra))
    print(table(rows))
    if args.out:
        import torch

        machine = {"cpus": os.cpu_count(), "torch": torch.__version__, "cuda_devices": torch.cuda.device_count(),
                   "python": sys.version.split()[0], "date": time.strftime("%Y-%m-%d")}
        args.out.write_text(json.dumps({"config": str(args.config), "steps": args.steps, "machine": machine, "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
