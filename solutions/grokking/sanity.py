"""Part 1.5's sanity checks: a one-layer model memorises "I love machine learning".

    python -m solutions.grokking.sanity                          # both runs, logs in out/sanity/
    python -m solutions.grokking.sanity --out_dir DIR --max_steps 300

Run 1 trains on every prediction: the loss must fall to ~0 and greedy sampling from the first
token "I" must give the string back exactly. Run 2 masks the loss on the first 3 predictions (of
the tokens " ", "l", "o"): the rest is learned, those three are not (their losses stay high), so
the sample goes wrong from its second token. Each run writes config.json, log.jsonl, model.pt and
sanity.json (per-position losses and the sample) into out_dir/full and out_dir/masked3.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import torch
import torch.nn.functional as F

from .inference import generate
from .tokenizer import decode, encode
from .train import TrainConfig, load_config, train_run

CONFIG = Path(__file__).parent / "configs" / "sanity.toml"
TEXT = "I love machine learning"


def sanity_config(**overrides) -> TrainConfig:
    return replace(load_config(["--config", str(CONFIG)]), **overrides)


@torch.no_grad()
def position_losses(model, ids: list[int]) -> list[float]:
    """Cross-entropy of the prediction at each position 0 .. len(ids) - 2 (of token t + 1)."""
    tokens = torch.tensor([ids])
    logits = model.eval()(tokens[:, :-1])[0]
    return F.cross_entropy(logits, tokens[0, 1:], reduction="none").tolist()


def memorize(text: str, masked_prefix: int, max_steps: int, seed: int, out_dir: str = "", quiet: bool = True) -> dict:
    """Train the sanity config's one-layer model on `text` (the loss masked on the first
    masked_prefix predictions), stopping early once the loss is ~0; returns the step losses,
    the per-position losses after training and the greedy sample from the first token."""
    ids = encode(text)
    cfg = sanity_config(
        text=text, masked_prefix=masked_prefix, max_steps=max_steps, seed=seed, out_dir=out_dir,
        max_len=max(len(ids) - 1, 1),
    )
    result = train_run(cfg, quiet=quiet)
    model = result["model"]
    sample = decode(generate(model, ids[:1], len(ids) - 1))
    return {"losses": result["losses"], "position_losses": position_losses(model, ids), "sample": sample}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="the sanity checks of part 1.5")
    parser.add_argument("--out_dir", default="out/sanity")
    parser.add_argument("--max_steps", type=int, default=sanity_config().max_steps)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    failures = 0
    for name, masked in (("full", 0), ("masked3", 3)):
        folder = Path(args.out_dir) / name
        result = memorize(TEXT, masked, args.max_steps, args.seed, out_dir=str(folder), quiet=False)
        (folder / "sanity.json").write_text(json.dumps(result, indent=1) + "\n")
        losses = result["position_losses"]
        print(f"\n[{name}] {len(result['losses'])} steps, final training loss {result['losses'][-1]:.5f}")
        print("  per-position loss: " + " ".join(f"{x:.3f}" for x in losses))
        print(f"  greedy sample:     {result['sample']!r}")
        trained = losses[masked:]
        ok = max(trained) < 0.01
        if masked == 0:
            ok &= result["sample"] == TEXT
        else:
            ok &= min(losses[:masked]) > 10 * max(trained)  # the masked predictions were not learned
        print(f"  {'PASS' if ok else 'FAIL'}")
        failures += not ok
    raise SystemExit(1 if failures else 0)


if __name__ == "__main__":
    main()
