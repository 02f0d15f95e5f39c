"""Small plotting helpers shared by the commands (matplotlib without a display)."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def curves(runs: dict[str, dict], path, title: str, x: str = "step") -> None:
    """Train (dashed) and validation (solid) loss of each named run against `x`."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, (name, h) in enumerate(runs.items()):
        color = f"C{i}"
        ax.plot(h[x], h["train_loss"], "--", color=color, alpha=0.6)
        ax.plot(h[x], h["val_loss"], "-", color=color, label=f"{name} (val {h['best_val_loss']:.3f})")
    ax.set_xlabel(x)
    ax.set_ylabel("cross-entropy per token")
    ax.set_yscale("log")
    ax.set_title(title + "  (dashed: train, solid: validation)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
