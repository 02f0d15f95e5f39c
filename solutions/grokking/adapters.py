"""The grokking assignment's adapter contract (specs/grokking/adapters.py), filled in with this solution."""

from dataclasses import asdict
from pathlib import Path

import torch

from . import data, sanity, tokenizer, train
from .inference import answers
from .model import ModelConfig, Transformer

HERE = Path(__file__).parent

# Part 2.1: data and tokenizer


def equations(operation: str, p: int) -> list[tuple[int, int, int]]:
    return data.equations(operation, p)


def splits(operation: str, p: int, seed: int, train_fraction: float) -> dict[str, list[tuple[int, int, int]]]:
    return data.splits(operation, p, seed, train_fraction)


def encode(text: str) -> list[int]:
    return tokenizer.encode(text)


def decode(ids: list[int]) -> str:
    return tokenizer.decode(ids)


# Part 1: the model, the masked loss and padding


def _build(config: dict, seed: int) -> Transformer:
    torch.manual_seed(seed)
    return Transformer(ModelConfig.from_dict(config))


@torch.no_grad()
def forward(config: dict, seed: int, tokens: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    return _build(config, seed).eval()(tokens, attention_mask)


def masked_loss(logits: torch.Tensor, targets: torch.Tensor, loss_mask: torch.Tensor) -> tuple[float, torch.Tensor]:
    logits = logits.detach().clone().requires_grad_(True)
    loss = train.masked_loss(logits, targets, loss_mask.bool())
    loss.backward()
    return loss.item(), logits.grad


# Part 1.5: sanity checks, reproducibility, checkpoints


def memorize(text: str, masked_prefix: int, max_steps: int, seed: int) -> dict:
    return sanity.memorize(text, masked_prefix, max_steps, seed)


def first_losses(operation: str, p: int, seed: int, steps: int) -> list[float]:
    # The default training config (the division run's settings), nothing written, no
    # evaluation; the seed chooses the split, the initialisation and the batches.
    cfg = train.TrainConfig(operation=operation, p=p, seed=seed, split_seed=seed, max_steps=steps, out_dir="", eval_interval=0)
    return train.train_run(cfg, quiet=True)["losses"]


def checkpoint_round_trip(config: dict, seed: int, folder: str, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    cfg = train.TrainConfig(**asdict(ModelConfig.from_dict(config)), weight_decay=0.1)
    model = _build(config, seed)
    optimizer = train.configure_optimizer(model, cfg)
    # A few steps of next-token prediction on the tokens themselves: the weights move off their init.
    examples = train.Examples(
        tokens=tokens[:, :-1], targets=tokens[:, 1:],
        loss_mask=torch.ones_like(tokens[:, 1:], dtype=torch.bool),
        attention_mask=torch.ones_like(tokens[:, 1:], dtype=torch.bool),
    )
    for _ in range(3):
        loss, _, _ = train.predictions_loss(model, examples)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    path = Path(folder) / "model.pt"
    train.save_checkpoint(path, model, cfg, step=3)
    torch.manual_seed(seed + 1)  # the loaded model is built with another seed: only the file carries the weights
    loaded, _ = train.load_checkpoint(path)
    with torch.no_grad():
        return model.eval()(tokens), loaded.eval()(tokens)


# Parts 2.2 and 2.3: the trained checkpoints (trained by the commands in REPORT.md)


def trained_checkpoints() -> dict[str, dict]:
    return {
        "warmup": {"path": "checkpoints/add97.pt", "operation": "+", "p": 97, "seed": 0, "train_fraction": 0.5},
        "grokking": {"path": "checkpoints/div97.pt", "operation": "/", "p": 97, "seed": 0, "train_fraction": 0.5},
    }


def predict(path: str, operation: str, p: int, pairs: list[tuple[int, int]]) -> list[int]:
    model, _ = train.load_checkpoint(HERE / path)  # relative to this folder, wherever the caller runs
    return answers(model, operation, [(int(a), int(b)) for a, b in pairs])
