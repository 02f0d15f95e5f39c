"""Problem 2: efficiency of synchronous SGD across servers.

    python -m solutions.bias_variance_sgd.scaling        # the table, the answers and the figures

Data parallelism with a fixed per-GPU batch (weak scaling): N servers x 8 GPUs x 64 images make
one iteration, so an epoch of 131,072 images takes 131072 / (512 N) = 256 / N iterations.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

SERVERS = [1, 2, 4, 8, 16, 32, 64, 128, 256]
ITERATION_SECONDS = [0.3, 0.32, 0.33, 0.35, 0.36, 0.37, 0.39, 0.41, 0.43]  # Figure 1
GPUS_PER_SERVER = 8
BATCH_PER_GPU = 64
DATASET = 131072
EPOCHS = 70
DOLLARS_PER_SERVER_MINUTE = 2.0  # "$2/min": read as per server (the usual cloud pricing)
HOURS_LIMIT = 5.0
BUDGET = 10_000.0
RESULTS = Path(__file__).parent / "results"


def scaling_table(servers=SERVERS, iteration_seconds=ITERATION_SECONDS) -> list[dict]:
    """One row per server count: iterations per epoch, epoch time, throughput, efficiency, speedup."""
    base = iteration_seconds[0]
    rows = []
    for n, t in zip(servers, iteration_seconds):
        gpus = n * GPUS_PER_SERVER
        global_batch = gpus * BATCH_PER_GPU
        iterations = DATASET / global_batch
        rows.append({
            "servers": n,
            "gpus": gpus,
            "iteration_s": t,
            "iterations_per_epoch": iterations,
            "epoch_s": iterations * t,
            "throughput": global_batch / t,  # images per second
            "efficiency": base / t,  # the handout's definition: T(1) / T(N) per iteration
            "speedup": (global_batch / t) / (GPUS_PER_SERVER * BATCH_PER_GPU / base),  # throughput(N) / throughput(1)
        })
    return rows


def costs(rows: list[dict], per_server: bool = True) -> list[dict]:
    """Training time (70 epochs) and its price for each configuration."""
    out = []
    for row in rows:
        minutes = EPOCHS * row["epoch_s"] / 60
        rate = DOLLARS_PER_SERVER_MINUTE * (row["servers"] if per_server else 1)
        out.append({"servers": row["servers"], "hours": minutes / 60, "dollars": minutes * rate})
    return out


def cheapest(cost_rows: list[dict]) -> tuple[dict, float]:
    """(the cheapest configuration that finishes in time, the budget increase it needs: 0 if none)."""
    in_time = [c for c in cost_rows if c["hours"] <= HOURS_LIMIT]
    best = min(in_time, key=lambda c: c["dollars"])
    return best, max(0.0, best["dollars"] - BUDGET)


def plot(rows: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = [r["servers"] for r in rows]
    gpus = [r["gpus"] for r in rows]

    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(n, [r["epoch_s"] for r in rows], "o-", color="tab:blue", label="per-epoch time")
    ax.set(xscale="log", yscale="log", xlabel="servers", ylabel="per-epoch time (s)")
    ax.set_xticks(n, [str(v) for v in n])
    twin = ax.twinx()
    twin.plot(n, [r["iteration_s"] for r in rows], "s--", color="tab:red", label="per-iteration time")
    twin.set_ylabel("per-iteration time (s)")
    fig.legend(loc="lower center", ncol=2)  # below the axes: the curves cross the middle
    ax.set_title("Per-epoch and per-iteration time")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(out / "p2_times.png", dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(gpus, [r["throughput"] for r in rows], "o-", label="measured")
    ax.plot(gpus, [rows[0]["throughput"] * g / gpus[0] for g in gpus], "k:", label="linear scaling")
    ax.set(xscale="log", yscale="log", xlabel="GPUs", ylabel="throughput (images/s)", title="Throughput")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "p2_throughput.png", dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(gpus, [r["efficiency"] for r in rows], "o-", color="tab:blue", label="scaling efficiency")
    ax.set(xscale="log", xlabel="GPUs", ylabel="scaling efficiency", ylim=(0, 1.05))
    twin = ax.twinx()
    twin.plot(gpus, [r["speedup"] for r in rows], "s--", color="tab:red", label="speedup")
    twin.set(yscale="log", ylabel="speedup over one server")
    fig.legend(loc="lower center", ncol=2)  # below the axes: the curves cross the middle
    ax.set_title("Scaling efficiency and speedup")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(out / "p2_efficiency_speedup.png", dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = scaling_table()
    print("servers  GPUs  iter(s)  iters/epoch  epoch(s)  images/s  efficiency  speedup")
    for r in rows:
        print(f"{r['servers']:7d} {r['gpus']:5d} {r['iteration_s']:8.2f} {r['iterations_per_epoch']:12g} "
              f"{r['epoch_s']:9.3f} {r['throughput']:9.0f} {r['efficiency']:11.4f} {r['speedup']:8.2f}")
    per_server = costs(rows)
    best, increase = cheapest(per_server)
    print(f"\n{EPOCHS} epochs at ${DOLLARS_PER_SERVER_MINUTE:g} per server-minute:")
    for c in per_server:
        print(f"  {c['servers']:3d} servers: {c['hours']:7.3f} h  ${c['dollars']:9.2f}")
    print(f"cheapest within {HOURS_LIMIT:g} h: {best['servers']} server(s), {best['hours']:.3f} h, ${best['dollars']:.2f}; "
          f"budget increase needed: ${increase:.2f}")
    flat_best, _ = cheapest(costs(rows, per_server=False))
    print(f"(if $2/min were the price of the whole cluster: {flat_best['servers']} servers, ${flat_best['dollars']:.2f})")
    plot(rows, args.out)
    (args.out / "p2_scaling.json").write_text(json.dumps(
        {"table": rows, "costs_per_server": per_server, "cheapest": best, "budget_increase": increase}, indent=1) + "\n")


if __name__ == "__main__":
    main()
